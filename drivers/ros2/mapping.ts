/**
 * Between ROS 2 messages (as rclnodejs hands them over: plain objects) and engram's channels and
 * actions. Pure functions over plain objects, so they are tested without ROS 2. Each input mapper
 * writes into `out[offset .. offset+size)` and returns a Status code: it checks everything first
 * where it can, and the driver commits only on Status.ok (a bad message is never half-applied
 * because the driver stages into a scratch buffer).
 */
import { Status, type StatusCode } from '../../runtime/contracts.js';
import { imuFields, type jointStateFields, type Ros2Config, type Ros2Input } from './config.js';

export interface Vector3 {
  x: number;
  y: number;
  z: number;
}
export interface Quaternion extends Vector3 {
  w: number;
}
export interface Header {
  stamp?: { sec: number; nanosec: number };
  frame_id?: string;
}
export interface JointStateMessage {
  header?: Header;
  name: string[];
  position: ArrayLike<number>;
  velocity: ArrayLike<number>;
  effort: ArrayLike<number>;
}
export interface ImuMessage {
  header?: Header;
  orientation: Quaternion;
  angular_velocity: Vector3;
  linear_acceleration: Vector3;
}
export interface LaserScanMessage {
  header?: Header;
  range_min: number;
  range_max: number;
  ranges: ArrayLike<number>;
}
export interface Float32MultiArrayMessage {
  layout?: { dim: { label: string; size: number; stride: number }[]; data_offset: number };
  data: ArrayLike<number>;
}
export interface TwistMessage {
  linear: Vector3;
  angular: Vector3;
}

/** Maps one input message into a channel; returns Status.ok or the rejection reason. */
export type InputMapper = (message: unknown, out: Float32Array, offset: number) => StatusCode;

/** The channel size an input type produces (for config checks at start); undefined = any size. */
export function expectedChannelSize(input: Ros2Input): number | undefined {
  if (input.type === 'sensor_msgs/msg/Imu') {
    const parts = input.imuFields ?? imuFields;
    let size = 0;
    for (const part of parts) size += part === 'orientation' ? 4 : 3;
    return size;
  }
  if (input.type === 'sensor_msgs/msg/JointState' && input.joints) {
    return input.joints.length * (input.jointFields ?? ['position', 'velocity']).length;
  }
  return undefined;
}

const isArrayLike = (value: unknown): value is ArrayLike<number> =>
  Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));

function copyFinite(source: ArrayLike<number>, out: Float32Array, offset: number, count: number): StatusCode {
  for (let i = 0; i < count; i++) {
    const x = Math.fround(source[i] as number);
    if (!Number.isFinite(x)) return Status.nonFinite;
    out[offset + i] = x;
  }
  return Status.ok;
}

/**
 * JointState: the chosen arrays (position, velocity, effort), each over the joints, concatenated.
 * With `joints` names, values are picked by name (a message missing one is rejected); without,
 * the message order is used and its joint count must fill the channel exactly.
 */
export function jointStateMapper(input: Ros2Input, size: number): InputMapper {
  const fields = input.jointFields ?? (['position', 'velocity'] as const);
  const names = input.joints;
  const jointCount = names ? names.length : size / fields.length;
  if (!Number.isInteger(jointCount) || jointCount * fields.length !== size) {
    throw new Error(
      `ROS 2 input ${input.topic}: channel '${input.channel}' has size ${size}, not a multiple of the ${fields.length} JointState fields (${fields.join(', ')})`,
    );
  }
  // joint name -> index in the message, rebuilt only when the message's name list changes
  const indexOf = new Int32Array(jointCount);
  let lastNames: string[] | undefined;
  return (message, out, offset) => {
    const m = message as Partial<JointStateMessage> | null;
    if (m === null || typeof m !== 'object' || !Array.isArray(m.name)) return Status.malformed;
    if (names) {
      if (m.name !== lastNames) {
        for (let j = 0; j < jointCount; j++) indexOf[j] = m.name.indexOf(names[j]!);
        lastNames = m.name;
      }
      for (let j = 0; j < jointCount; j++) if (indexOf[j]! < 0) return Status.wrongLength;
    } else if (m.name.length !== jointCount) {
      return Status.wrongLength;
    }
    for (let f = 0; f < fields.length; f++) {
      const values = m[fields[f] as (typeof jointStateFields)[number]];
      if (!isArrayLike(values)) return Status.malformed;
      for (let j = 0; j < jointCount; j++) {
        const at = names ? indexOf[j]! : j;
        if (at >= values.length) return Status.wrongLength;
        const x = Math.fround(values[at] as number);
        if (!Number.isFinite(x)) return Status.nonFinite;
        out[offset + f * jointCount + j] = x;
      }
    }
    return Status.ok;
  };
}

/** Imu: orientation (x, y, z, w), angular velocity (x, y, z), linear acceleration (x, y, z). */
export function imuMapper(input: Ros2Input): InputMapper {
  const parts = input.imuFields ?? imuFields;
  return (message, out, offset) => {
    const m = message as Partial<ImuMessage> | null;
    if (m === null || typeof m !== 'object') return Status.malformed;
    let at = offset;
    for (const part of parts) {
      const v = m[part] as Partial<Quaternion> | undefined;
      if (v === null || typeof v !== 'object') return Status.malformed;
      const count = part === 'orientation' ? 4 : 3;
      const x = Math.fround(v.x as number);
      const y = Math.fround(v.y as number);
      const z = Math.fround(v.z as number);
      const w = count === 4 ? Math.fround(v.w as number) : 0;
      if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z) || !Number.isFinite(w)) {
        return Status.nonFinite;
      }
      out[at] = x;
      out[at + 1] = y;
      out[at + 2] = z;
      if (count === 4) out[at + 3] = w;
      at += count;
    }
    return Status.ok;
  };
}

/**
 * LaserScan: the ranges. ROS reports "no return" as +Inf (or NaN), and readings outside
 * [range_min, range_max] as invalid: those become range_max (nothing seen within range), so a
 * normal scan is never rejected for them.
 */
export function laserScanMapper(size: number): InputMapper {
  return (message, out, offset) => {
    const m = message as Partial<LaserScanMessage> | null;
    if (m === null || typeof m !== 'object' || !isArrayLike(m.ranges)) return Status.malformed;
    const rangeMax = m.range_max as number;
    const rangeMin = typeof m.range_min === 'number' ? m.range_min : 0;
    if (!Number.isFinite(rangeMax) || rangeMax <= 0) return Status.nonFinite;
    if (m.ranges.length !== size) return Status.wrongLength;
    for (let i = 0; i < size; i++) {
      const r = m.ranges[i] as number;
      out[offset + i] = Number.isFinite(r) && r >= rangeMin && r <= rangeMax ? r : rangeMax;
    }
    return Status.ok;
  };
}

export function float32MultiArrayMapper(size: number): InputMapper {
  return (message, out, offset) => {
    const m = message as Partial<Float32MultiArrayMessage> | null;
    if (m === null || typeof m !== 'object' || !isArrayLike(m.data)) return Status.malformed;
    if (m.data.length !== size) return Status.wrongLength;
    return copyFinite(m.data, out, offset, size);
  };
}

export function inputMapper(input: Ros2Input, size: number): InputMapper {
  const expected = expectedChannelSize(input);
  if (expected !== undefined && expected !== size) {
    throw new Error(
      `ROS 2 input ${input.topic} (${input.type}) produces ${expected} values but channel '${input.channel}' has size ${size}`,
    );
  }
  switch (input.type) {
    case 'sensor_msgs/msg/JointState':
      return jointStateMapper(input, size);
    case 'sensor_msgs/msg/Imu':
      return imuMapper(input);
    case 'sensor_msgs/msg/LaserScan':
      return laserScanMapper(size);
    case 'std_msgs/msg/Float32MultiArray':
      return float32MultiArrayMapper(size);
  }
}

/** Header stamp in ns (0 when the message has none). */
export function stampNs(message: unknown): number {
  const stamp = (message as { header?: Header } | null)?.header?.stamp;
  return stamp ? stamp.sec * 1e9 + stamp.nanosec : 0;
}

/**
 * The action as a reusable outgoing message, and the function that writes action values into it.
 * Twist takes 2 values (linear.x, angular.z: a differential drive), 3 (linear.x, linear.y,
 * angular.z: holonomic base) or 6 (linear xyz, angular xyz).
 */
export function actionWriter(
  output: Ros2Config['output'],
  actionSize: number,
): { message: TwistMessage | Float32MultiArrayMessage; write: (values: Float32Array) => void } {
  if (output.type === 'std_msgs/msg/Float32MultiArray') {
    const message = {
      layout: { dim: [{ label: 'action', size: actionSize, stride: actionSize }], data_offset: 0 },
      data: new Float32Array(actionSize),
    };
    return { message, write: (values) => message.data.set(values) };
  }
  const message: TwistMessage = { linear: { x: 0, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } };
  const { linear, angular } = message;
  if (actionSize === 2) {
    return {
      message,
      write: (v) => {
        linear.x = v[0]!;
        angular.z = v[1]!;
      },
    };
  }
  if (actionSize === 3) {
    return {
      message,
      write: (v) => {
        linear.x = v[0]!;
        linear.y = v[1]!;
        angular.z = v[2]!;
      },
    };
  }
  if (actionSize === 6) {
    return {
      message,
      write: (v) => {
        linear.x = v[0]!;
        linear.y = v[1]!;
        linear.z = v[2]!;
        angular.x = v[3]!;
        angular.y = v[4]!;
        angular.z = v[5]!;
      },
    };
  }
  throw new Error(
    `a geometry_msgs/msg/Twist output needs an action of size 2 (linear.x, angular.z), 3 (linear.x, linear.y, angular.z) or 6; the action has ${actionSize}`,
  );
}
