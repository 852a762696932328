/** ROS 2 driver configuration (strict). Topics, message types and QoS per input and output. */
import { z } from 'zod';

export const ros2InputTypes = [
  'sensor_msgs/msg/JointState',
  'sensor_msgs/msg/Imu',
  'sensor_msgs/msg/LaserScan',
  'std_msgs/msg/Float32MultiArray',
] as const;
export const ros2OutputTypes = ['geometry_msgs/msg/Twist', 'std_msgs/msg/Float32MultiArray'] as const;

export const jointStateFields = ['position', 'velocity', 'effort'] as const;
export const imuFields = ['orientation', 'angular_velocity', 'linear_acceleration'] as const;

const qosSchema = z.strictObject({
  reliability: z.enum(['best_effort', 'reliable']).default('best_effort'),
  depth: z.number().int().positive().default(1),
});

export const ros2InputSchema = z.strictObject({
  /** the frame channel this topic fills (must name a channel in `channels`) */
  channel: z.string(),
  topic: z.string(),
  type: z.enum(ros2InputTypes),
  /** sensor QoS: best effort, depth 1 by default (the newest reading is the one that matters) */
  qos: qosSchema.default({ reliability: 'best_effort', depth: 1 }),
  /** JointState: which arrays fill the channel, in this order (default position then velocity) */
  jointFields: z.array(z.enum(jointStateFields)).min(1).optional(),
  /** JointState: joints by name, in channel order (default: the message's own order) */
  joints: z.array(z.string()).min(1).optional(),
  /** Imu: which parts fill the channel, in this order (default all: 4 + 3 + 3 = 10 values) */
  imuFields: z.array(z.enum(imuFields)).min(1).optional(),
});

export const ros2ConfigSchema = z.strictObject({
  kind: z.literal('ros2'),
  nodeName: z.string().default('engram'),
  inputs: z.array(ros2InputSchema).min(1),
  output: z.strictObject({
    topic: z.string(),
    type: z.enum(ros2OutputTypes),
    qos: qosSchema.default({ reliability: 'reliable', depth: 1 }),
  }),
});

export type Ros2Config = z.infer<typeof ros2ConfigSchema>;
export type Ros2Input = z.infer<typeof ros2InputSchema>;
