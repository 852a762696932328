/** ROS 2 message <-> channel/action mapping, with plain message objects (no ROS 2 needed). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Ros2Input, ros2ConfigSchema } from '../../../drivers/ros2/config.js';
import { actionWriter, inputMapper, stampNs } from '../../../drivers/ros2/mapping.js';
import { Status } from '../../../runtime/contracts.js';

const input = (partial: Partial<Ros2Input> & Pick<Ros2Input, 'type'>): Ros2Input => ({
  channel: 'c',
  topic: '/t',
  qos: { reliability: 'best_effort', depth: 1 },
  ...partial,
});

test('config defaults: sensor QoS best effort depth 1, output reliable', () => {
  const config = ros2ConfigSchema.parse({
    kind: 'ros2',
    inputs: [{ channel: 'joints', topic: '/joint_states', type: 'sensor_msgs/msg/JointState' }],
    output: { topic: '/cmd_vel', type: 'geometry_msgs/msg/Twist' },
  });
  assert.equal(config.inputs[0]!.qos, { reliability: 'best_effort', depth: 1 });
  assert.equal(config.output.qos, { reliability: 'reliable', depth: 1 });
  assert.is(config.nodeName, 'engram');
});

test('JointState: position then velocity in message order', () => {
  const map = inputMapper(input({ type: 'sensor_msgs/msg/JointState' }), 4);
  const out = new Float32Array(6).fill(-9);
  const message = { name: ['a', 'b'], position: [1, 2], velocity: [3, 4], effort: [] };
  assert.is(map(message, out, 1), Status.ok);
  assert.equal(Array.from(out), [-9, 1, 2, 3, 4, -9]);
  assert.is(map({ ...message, name: ['a', 'b', 'c'] }, out, 0), Status.wrongLength);
  assert.is(map({ ...message, velocity: [3, Number.NaN] }, out, 0), Status.nonFinite);
  assert.is(map({ ...message, position: 'no' }, out, 0), Status.malformed);
  assert.is(map(null, out, 0), Status.malformed);
});

test('JointState: joints picked by name, fields chosen, typed arrays accepted', () => {
  const map = inputMapper(
    input({ type: 'sensor_msgs/msg/JointState', joints: ['elbow', 'shoulder'], jointFields: ['effort', 'position'] }),
    4,
  );
  const out = new Float32Array(4);
  const message = {
    name: ['shoulder', 'wrist', 'elbow'],
    position: new Float64Array([10, 11, 12]),
    velocity: [],
    effort: [0.5, 0.6, 0.7],
  };
  assert.is(map(message, out, 0), Status.ok);
  assert.equal(Array.from(out), [Math.fround(0.7), Math.fround(0.5), 12, 10]);
  assert.is(map({ ...message, name: ['shoulder', 'wrist'] }, out, 0), Status.wrongLength, 'elbow missing');
  assert.throws(
    () => inputMapper(input({ type: 'sensor_msgs/msg/JointState', joints: ['a'] }), 3),
    /produces 2 values but channel 'c' has size 3/,
  );
});

test('Imu: orientation, angular velocity, linear acceleration; subsets by config', () => {
  const message = {
    orientation: { x: 0, y: 0, z: 0.5, w: 0.75 },
    angular_velocity: { x: 1, y: 2, z: 3 },
    linear_acceleration: { x: 4, y: 5, z: 9.75 },
  };
  const all = inputMapper(input({ type: 'sensor_msgs/msg/Imu' }), 10);
  const out = new Float32Array(10);
  assert.is(all(message, out, 0), Status.ok);
  assert.equal(Array.from(out), [0, 0, 0.5, 0.75, 1, 2, 3, 4, 5, 9.75]);
  const gyro = inputMapper(input({ type: 'sensor_msgs/msg/Imu', imuFields: ['angular_velocity'] }), 3);
  assert.is(gyro(message, out, 0), Status.ok);
  assert.equal(Array.from(out.subarray(0, 3)), [1, 2, 3]);
  assert.is(
    all({ ...message, angular_velocity: { x: Number.POSITIVE_INFINITY, y: 0, z: 0 } }, out, 0),
    Status.nonFinite,
  );
  assert.is(all({ ...message, orientation: undefined }, out, 0), Status.malformed);
  assert.throws(() => inputMapper(input({ type: 'sensor_msgs/msg/Imu' }), 9), /produces 10 values/);
});

test('LaserScan: no-return and out-of-range readings become range_max; wrong count rejected', () => {
  const map = inputMapper(input({ type: 'sensor_msgs/msg/LaserScan' }), 5);
  const out = new Float32Array(5);
  const scan = { range_min: 0.1, range_max: 10, ranges: [1, Number.POSITIVE_INFINITY, Number.NaN, 0.05, 11] };
  assert.is(map(scan, out, 0), Status.ok);
  assert.equal(Array.from(out), [1, 10, 10, 10, 10]);
  assert.is(map({ ...scan, ranges: [1, 2] }, out, 0), Status.wrongLength);
  assert.is(map({ ...scan, range_max: Number.NaN }, out, 0), Status.nonFinite);
});

test('Float32MultiArray in: exact size, finite', () => {
  const map = inputMapper(input({ type: 'std_msgs/msg/Float32MultiArray' }), 3);
  const out = new Float32Array(3);
  assert.is(map({ data: new Float32Array([1, 2, 3]) }, out, 0), Status.ok);
  assert.equal(Array.from(out), [1, 2, 3]);
  assert.is(map({ data: [1, 2] }, out, 0), Status.wrongLength);
  assert.is(map({ data: [1, 2, 1e39] }, out, 0), Status.nonFinite, 'beyond float32 range');
});

test('stamps: header sec + nanosec in ns', () => {
  assert.is(stampNs({ header: { stamp: { sec: 2, nanosec: 5 } } }), 2_000_000_005);
  assert.is(stampNs({ data: [] }), 0);
});

test('Twist out: 2, 3 and 6 action values; other sizes refused at start', () => {
  const output = {
    topic: '/cmd_vel',
    type: 'geometry_msgs/msg/Twist' as const,
    qos: { reliability: 'reliable' as const, depth: 1 },
  };
  const drive = actionWriter(output, 2);
  drive.write(new Float32Array([0.5, -0.25]));
  assert.equal(drive.message, { linear: { x: 0.5, y: 0, z: 0 }, angular: { x: 0, y: 0, z: -0.25 } });
  const holonomic = actionWriter(output, 3);
  holonomic.write(new Float32Array([1, 2, 3]));
  assert.equal(holonomic.message, { linear: { x: 1, y: 2, z: 0 }, angular: { x: 0, y: 0, z: 3 } });
  const full = actionWriter(output, 6);
  full.write(new Float32Array([1, 2, 3, 4, 5, 6]));
  assert.equal(full.message, { linear: { x: 1, y: 2, z: 3 }, angular: { x: 4, y: 5, z: 6 } });
  assert.throws(() => actionWriter(output, 4), /size 2 .* 3 .* or 6; the action has 4/);
});

test('Float32MultiArray out: values and a layout naming the action dimension', () => {
  const writer = actionWriter(
    { topic: '/a', type: 'std_msgs/msg/Float32MultiArray', qos: { reliability: 'reliable', depth: 1 } },
    3,
  );
  writer.write(new Float32Array([7, 8, 9]));
  const message = writer.message as unknown as { data: Float32Array; layout: { dim: { size: number }[] } };
  assert.equal(Array.from(message.data), [7, 8, 9]);
  assert.is(message.layout.dim[0]!.size, 3);
});

test.run();
