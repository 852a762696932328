/**
 * A robot in its own process for the sensor-loss fault test: connects to engram over ZeroMQ with
 * the real client, says hello, then streams frames every 10 ms (smooth signals pushed by the last
 * action). With pauseAfter > 0 it goes silent for pauseMs once after that many frames (the sensor
 * stream stops, the peer stays). Prints "welcomed", "paused", "resumed" and "action" (first action
 * received) on stdout for the parent to follow.
 *
 * usage: node --import tsx zmq-robot-child.ts <frames> <actions> <pauseAfter> <pauseMs>
 */
import { EngramClient } from '../../drivers/zmq/client.js';

const [frames, actions, pauseAfterText, pauseMsText] = process.argv.slice(2);
const pauseAfter = Number(pauseAfterText);
const pauseMs = Number(pauseMsText);
const channels = [
  { name: 'joint_positions', size: 6 },
  { name: 'joint_velocities', size: 6 },
  { name: 'imu', size: 6 },
];
const client = new EngramClient({ frames: frames!, actions: actions!, channels, actionSize: 6, name: 'fault-robot' });
await client.connect(10_000);
process.stdout.write('welcomed\n');

const positions = new Float32Array(6);
const velocities = new Float32Array(6);
const imu = new Float32Array(6);
const lastAction = new Float32Array(6);
let sent = 0;
let paused = false;

const send = (): void => {
  if (paused) return;
  const t = sent * 0.01;
  for (let i = 0; i < 6; i++) {
    positions[i] = Math.sin(t * (1 + 0.3 * i)) + 0.1 * lastAction[i]!;
    velocities[i] = Math.cos(t * (1 + 0.3 * i));
    imu[i] = 0.5 * Math.sin(t + i);
  }
  client.sendFrame(
    { joint_positions: positions, joint_velocities: velocities, imu },
    { reward: -Math.abs(positions[0]!), episodeStart: sent === 0 },
  );
  sent++;
  if (pauseAfter > 0 && sent === pauseAfter) {
    paused = true;
    process.stdout.write('paused\n');
    setTimeout(() => {
      paused = false;
      process.stdout.write('resumed\n');
    }, pauseMs);
  }
};
setInterval(send, 10);

let announced = false;
for (;;) {
  const action = await client.nextAction(1000);
  if (!action) continue;
  for (let i = 0; i < 6; i++) lastAction[i] = action.values[i] ?? 0;
  if (!announced && !action.stale) {
    announced = true;
    process.stdout.write('action\n');
  }
}
