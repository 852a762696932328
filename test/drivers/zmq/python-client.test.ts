/**
 * The Python example client (examples/python/engram_client.py, Debian's python3-zmq and
 * python3-msgpack) run as is against the ZeroMQ driver on loopback, over ipc and tcp. A small
 * controller answers each frame as it lands: action = [2 * first observation value, frame seq],
 * which the test checks in the samples the client reports.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { curveKeyPair } from 'zeromq';
import { ZmqDriver } from '../../../drivers/zmq/driver.js';
import { systemClock } from '../../../runtime/clock.js';
import { type ChannelSpec, createAction, createFrame, Status } from '../../../runtime/contracts.js';
import { closeTracked, endpointsFor, track, transports } from './helpers.js';

const python = '/usr/bin/python3';
const client = new URL('../../../examples/python/engram_client.py', import.meta.url).pathname;
const probe = spawnSync(python, ['-c', 'import zmq, msgpack'], { encoding: 'utf8' });
const skipReason =
  probe.error !== undefined
    ? `${python} not found`
    : probe.status !== 0
      ? `${python} lacks python3-zmq or python3-msgpack (apt install python3-zmq python3-msgpack): ${probe.stderr.trim()}`
      : undefined;

const channels: ChannelSpec[] = [
  { name: 'joints', size: 3, maxAgeMs: 0 },
  { name: 'imu', size: 2, maxAgeMs: 0 },
];

function runClient(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(python, [client, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A small controller answering each frame as it lands: [2 * first observation value, frame seq]. */
function answerWithDouble(driver: ZmqDriver): void {
  const frame = createFrame(5);
  const action = createAction(2);
  let cycle = 0;
  driver.setInputListener(() => {
    if (driver.poll(frame) === Status.noInput) return;
    action.cycle = cycle++;
    action.frameSeq = frame.seq;
    action.stale = false;
    action.values[0] = 2 * frame.observation[0]!;
    action.values[1] = frame.seq;
    driver.publish(action);
  });
}

interface Summary {
  sent: number;
  answered: number;
  missing: number;
  samples: { seq: number; observation: number[]; action: number[]; stale: boolean }[];
}

for (const transport of transports) {
  test(`python client over ${transport}: hello, 200 frames at 200 Hz, every one answered`, async () => {
    if (skipReason) {
      console.log(`skipped: ${skipReason}`);
      return;
    }
    const driver = track(
      new ZmqDriver({
        config: { ...endpointsFor(transport), maxMessageBytes: 4096 },
        channels,
        actionSize: 2,
        clock: systemClock,
      }),
    );
    await driver.start();
    answerWithDouble(driver);
    const { frames, actions } = driver.boundEndpoints();
    const result = await runClient([
      '--frames',
      frames,
      '--actions',
      actions,
      '--channel',
      'joints:3',
      '--channel',
      'imu:2',
      '--action-size',
      '2',
      '--rate',
      '200',
      '--count',
      '200',
      '--json',
    ]);
    assert.is(result.code, 0, `client failed: ${result.stderr}${result.stdout}`);
    const lines = result.stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as Summary;
    assert.is(summary.answered, 200);
    assert.is(summary.missing, 0);
    assert.is(driver.counters().framesReceived, 200);
    assert.is(driver.counters().framesRejected, 0);
    assert.ok(summary.samples.length > 0);
    for (const sample of summary.samples) {
      assert.is(sample.action[1], sample.seq, 'the action answers the frame it names');
      assert.is(sample.action[0], Math.fround(2 * Math.fround(sample.observation[0]!)));
      assert.is(sample.stale, false);
    }
  });
}

test('python client: a hello with the wrong channel sizes is refused with the reason', async () => {
  if (skipReason) {
    console.log(`skipped: ${skipReason}`);
    return;
  }
  const driver = track(
    new ZmqDriver({
      config: { ...endpointsFor('tcp'), maxMessageBytes: 4096 },
      channels,
      actionSize: 2,
      clock: systemClock,
    }),
  );
  await driver.start();
  const { frames, actions } = driver.boundEndpoints();
  const result = await runClient([
    ...['--frames', frames, '--actions', actions, '--channel', 'joints:4', '--channel', 'imu:2'],
    ...['--action-size', '2', '--count', '1', '--json'],
  ]);
  assert.is.not(result.code, 0);
  assert.match(result.stderr, /HelloRejected: channel 'joints' has size 4, expected 3/);
});

test('python client with CURVE: engram bound beyond loopback admits the robot whose key it lists', async () => {
  if (skipReason) {
    console.log(`skipped: ${skipReason}`);
    return;
  }
  const curveProbe = spawnSync(python, ['-c', 'import zmq, sys; sys.exit(0 if zmq.has("curve") else 1)']);
  if (curveProbe.status !== 0) {
    console.log('skipped: this libzmq was built without CURVE');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'engram-py-curve-'));
  const server = curveKeyPair();
  const robot = curveKeyPair();
  writeFileSync(join(dir, 'engram.key'), `secret-key = "${server.secretKey}"\n`);
  writeFileSync(join(dir, 'clients'), `${robot.publicKey}\n`);
  writeFileSync(join(dir, 'robot.key'), `public-key = "${robot.publicKey}"\nsecret-key = "${robot.secretKey}"\n`);
  const driver = track(
    new ZmqDriver({
      config: {
        frames: 'tcp://0.0.0.0:*',
        actions: 'tcp://0.0.0.0:*',
        maxMessageBytes: 4096,
        curve: { serverSecretKeyFile: join(dir, 'engram.key'), authorizedClientsFile: join(dir, 'clients') },
      },
      channels,
      actionSize: 2,
      clock: systemClock,
    }),
  );
  await driver.start();
  answerWithDouble(driver);
  const { frames, actions } = driver.boundEndpoints();
  const result = await runClient([
    ...['--frames', frames.replace('0.0.0.0', '127.0.0.1'), '--actions', actions.replace('0.0.0.0', '127.0.0.1')],
    ...['--channel', 'joints:3', '--channel', 'imu:2', '--action-size', '2', '--count', '20', '--rate', '100'],
    ...['--server-key', server.publicKey, '--key-file', join(dir, 'robot.key'), '--json'],
  ]);
  assert.is(result.code, 0, `client failed: ${result.stderr}${result.stdout}`);
  const summary = JSON.parse(result.stdout.trim().split('\n').pop()!) as Summary;
  assert.is(summary.answered, 20);
  assert.is(driver.counters().framesReceived, 20);
});

test.after.each(closeTracked);
test.run();
