/** ROS 2 driver configuration (strict). Topics, message types and QoS per input and output. */
import { z } from 'zod';

export const ros2InputTypes = [
  'sensor_msgs/msg/JointState',
  'sensor_msgs/msg/Imu',
  'sensor_msgs/msg/LaserScan',
  'std_msgs/msg/Float32MultiArray',
] as const;
export const ros2OutputTypes = ['geometry_msgs/msg/Twist', 'std_msgs/msg/Float32MultiArray'] as const;

const qosSchema = z.strictObject({
  reliability: z.enum(['best_effort', 'reliable']).default('best_effort'),
  depth: z.number().int().positive().default(1),
});

export const ros2ConfigSchema = z.strictObject({
  kind: z.literal('ros2'),
  nodeName: z.string().default('engram'),
  inputs: z
    .array(
      z.strictObject({
        /** the frame channel this topic fills (must name a channel in `channels`) */
        channel: z.string(),
        topic: z.string(),
        type: z.enum(ros2InputTypes),
        qos: qosSchema.default({ reliability: 'best_effort', depth: 1 }),
      }),
    )
    .min(1),
  output: z.strictObject({
    topic: z.string(),
    type: z.enum(ros2OutputTypes),
    qos: qosSchema.default({ reliability: 'reliable', depth: 1 }),
  }),
});

export type Ros2Config = z.infer<typeof ros2ConfigSchema>;
