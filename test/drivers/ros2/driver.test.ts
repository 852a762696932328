/**
 * The ROS 2 driver's wiring. A ROS 2 graph cannot exist on this machine (Debian 12 has no ROS 2),
 * so these tests use FakeRos2Graph: a stand-in for rclnodejs that records subscriptions and
 * publishers and lets the test deliver messages. The integration test at the end uses real
 * rclnodejs and runs only where a sourced ROS 2 and rclnodejs are present.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ros2ConfigSchema } from '../../../drivers/ros2/config.js';
import { Ros2Driver } from '../../../drivers/ros2/driver.js';
import {
  loadRclnodejs,
  type Rclnodejs,
  type RosNode,
  type RosQoS,
  ros2Unavailable,
} from '../../../drivers/ros2/rclnodejs.js';
import { MockClock } from '../../../runtime/clock.js';
import { type ChannelSpec, createAction, createFrame, Status } from '../../../runtime/contracts.js';

/** FAKE: records what the driver asks of ROS 2; `deliver` plays the role of a publisher elsewhere. */
class FakeRos2Graph {
  subscriptions: { type: string; topic: string; qos: FakeQoS; callback: (m: unknown) => void }[] = [];
  publishers: { type: string; topic: string; qos: FakeQoS; sent: object[] }[] = [];
  spun = false;
  shutDown = false;
  deliver(topic: string, message: unknown): void {
    for (const s of this.subscriptions) if (s.topic === topic) s.callback(message);
  }
  bindings(): Rclnodejs {
    const graph = this;
    class Node implements RosNode {
      constructor(readonly name: string) {}
      createSubscription(type: string, topic: string, options: { qos: RosQoS }, callback: (m: unknown) => void) {
        graph.subscriptions.push({ type, topic, qos: options.qos as FakeQoS, callback });
        return { topic };
      }
      createPublisher(type: string, topic: string, options: { qos: RosQoS }) {
        const sent: object[] = [];
        graph.publishers.push({ type, topic, qos: options.qos as FakeQoS, sent });
        return { publish: (message: object) => sent.push(structuredClone(message)) };
      }
      destroy() {}
    }
    return {
      init: async () => {},
      Node,
      spin: () => {
        graph.spun = true;
      },
      shutdown: () => {
        graph.shutDown = true;
      },
      QoS: FakeQoS as unknown as Rclnodejs['QoS'],
    };
  }
}
class FakeQoS {
  static HistoryPolicy = { RMW_QOS_POLICY_HISTORY_KEEP_LAST: 1 };
  static ReliabilityPolicy = { RMW_QOS_POLICY_RELIABILITY_RELIABLE: 1, RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: 2 };
  constructor(
    readonly history: number,
    readonly depth: number,
    readonly reliability: number,
  ) {}
}

const channels: ChannelSpec[] = [
  { name: 'joints', size: 4, maxAgeMs: 100 },
  { name: 'imu', size: 10, maxAgeMs: 100 },
];
const config = ros2ConfigSchema.parse({
  kind: 'ros2',
  inputs: [
    { channel: 'joints', topic: '/joint_states', type: 'sensor_msgs/msg/JointState' },
    { channel: 'imu', topic: '/imu', type: 'sensor_msgs/msg/Imu', qos: { reliability: 'reliable', depth: 5 } },
  ],
  output: { topic: '/cmd_vel', type: 'geometry_msgs/msg/Twist' },
});
const imu = {
  header: { stamp: { sec: 1, nanosec: 0 } },
  orientation: { x: 0, y: 0, z: 0, w: 1 },
  angular_velocity: { x: 0, y: 0, z: 0.5 },
  linear_acceleration: { x: 0, y: 0, z: 9.75 },
};

test('subscribes and publishes as configured, with sensor QoS best effort depth 1 by default', async () => {
  const graph = new FakeRos2Graph();
  const driver = new Ros2Driver({
    config,
    channels,
    actionSize: 2,
    clock: new MockClock(),
    load: async () => graph.bindings(),
  });
  await driver.start();
  assert.ok(graph.spun);
  assert.equal(
    graph.subscriptions.map((s) => [s.type, s.topic, s.qos.reliability, s.qos.depth]),
    [
      ['sensor_msgs/msg/JointState', '/joint_states', 2, 1],
      ['sensor_msgs/msg/Imu', '/imu', 1, 5],
    ],
  );
  assert.equal(
    graph.publishers.map((p) => [p.type, p.topic, p.qos.reliability]),
    [['geometry_msgs/msg/Twist', '/cmd_vel', 1]],
  );
  await driver.stop();
  assert.ok(graph.shutDown);
});

test('topics fill their channels; bad messages are rejected whole and counted; actions go out as Twist', async () => {
  const graph = new FakeRos2Graph();
  const clock = new MockClock(1e9);
  const driver = new Ros2Driver({ config, channels, actionSize: 2, clock, load: async () => graph.bindings() });
  await driver.start();
  const frame = createFrame(14);
  graph.deliver('/joint_states', { name: ['a', 'b'], position: [1, 2], velocity: [3, 4], effort: [] });
  assert.is(driver.poll(frame), Status.stale, 'imu not yet received');
  graph.deliver('/imu', imu);
  assert.is(driver.poll(frame), Status.ok);
  assert.equal(Array.from(frame.observation), [1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0.5, 0, 0, 9.75]);
  assert.is(frame.sourceStampNs, 1e9);
  graph.deliver('/imu', { ...imu, linear_acceleration: { x: Number.NaN, y: 0, z: 0 } });
  graph.deliver('/joint_states', { name: ['a'], position: [1], velocity: [1], effort: [] });
  assert.is(driver.poll(frame), Status.noInput, 'nothing of the bad messages was applied');
  assert.equal(driver.counters().rejectedByReason, { malformed: 0, wrongLength: 1, nonFinite: 1 });
  clock.advance(150e6);
  graph.deliver('/joint_states', { name: ['a', 'b'], position: [5, 6], velocity: [7, 8], effort: [] });
  assert.is(driver.poll(frame), Status.stale, 'imu is older than its 100 ms limit');
  const action = createAction(2);
  action.values.set([0.5, -1]);
  driver.publish(action);
  assert.equal(graph.publishers[0]!.sent, [{ linear: { x: 0.5, y: 0, z: 0 }, angular: { x: 0, y: 0, z: -1 } }]);
  await driver.stop();
});

test('config mistakes are refused before start', () => {
  const load = async () => new FakeRos2Graph().bindings();
  assert.throws(
    () => new Ros2Driver({ config, channels: [channels[0]!], actionSize: 2, clock: new MockClock(), load }),
    /names channel 'imu', which is not among the channels/,
  );
  assert.throws(
    () =>
      new Ros2Driver({
        config,
        channels: [...channels, { name: 'extra', size: 1, maxAgeMs: 0 }],
        actionSize: 2,
        clock: new MockClock(),
        load,
      }),
    /no ROS 2 input fills channel 'extra'/,
  );
  assert.throws(
    () => new Ros2Driver({ config, channels, actionSize: 5, clock: new MockClock(), load }),
    /Twist output needs an action of size 2/,
  );
});

test('without ROS 2, start fails saying what to install and source', async () => {
  if (!ros2Unavailable()) {
    console.log('skipped: a sourced ROS 2 is present, so the missing-ROS 2 message cannot be shown');
    return;
  }
  const driver = new Ros2Driver({ config, channels, actionSize: 2, clock: new MockClock() });
  try {
    await driver.start();
    assert.unreachable('start should fail without ROS 2');
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, /source \/opt\/ros\/<distro>\/setup\.bash/);
    assert.match(message, /rclnodejs/);
  }
});

test('integration with a real ROS 2 graph (runs only where ROS 2 is sourced and rclnodejs loads)', async () => {
  const missing = ros2Unavailable();
  if (missing) {
    console.log(`skipped ROS 2 integration: ${missing.split(';')[0]}`);
    return;
  }
  let rcl: Rclnodejs;
  try {
    rcl = await loadRclnodejs();
  } catch (error) {
    console.log(`skipped ROS 2 integration: ${(error as Error).message}`);
    return;
  }
  const floatConfig = ros2ConfigSchema.parse({
    kind: 'ros2',
    nodeName: `engram_test_${process.pid}`,
    inputs: [
      {
        channel: 'x',
        topic: `/engram_test_${process.pid}/in`,
        type: 'std_msgs/msg/Float32MultiArray',
        qos: { reliability: 'reliable', depth: 1 },
      },
    ],
    output: { topic: `/engram_test_${process.pid}/out`, type: 'std_msgs/msg/Float32MultiArray' },
  });
  const driver = new Ros2Driver({
    config: floatConfig,
    channels: [{ name: 'x', size: 3, maxAgeMs: 0 }],
    actionSize: 2,
    clock: new MockClock(),
  });
  await driver.start();
  const peer = new rcl.Node(`engram_test_peer_${process.pid}`);
  const qos = new rcl.QoS(
    rcl.QoS.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST,
    1,
    rcl.QoS.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE,
  );
  const publisher = peer.createPublisher('std_msgs/msg/Float32MultiArray', `/engram_test_${process.pid}/in`, { qos });
  const received: unknown[] = [];
  peer.createSubscription('std_msgs/msg/Float32MultiArray', `/engram_test_${process.pid}/out`, { qos }, (m) =>
    received.push(m),
  );
  rcl.spin(peer);
  const frame = createFrame(3);
  const deadline = Date.now() + 10_000;
  while (driver.poll(frame) !== Status.ok && Date.now() < deadline) {
    publisher.publish({ layout: { dim: [], data_offset: 0 }, data: [1, 2, 3] });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(Array.from(frame.observation), [1, 2, 3]);
  const action = createAction(2);
  action.values.set([4, 5]);
  while (received.length === 0 && Date.now() < deadline) {
    driver.publish(action);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(received.length > 0, 'the action reached a ROS 2 subscriber');
  peer.destroy();
  await driver.stop();
});

test.run();
