/**
 * The ZeroMQ driver over real sockets on loopback, each case run over ipc and tcp: handshake,
 * frames in, actions out, latest-frame-wins, per-channel staleness, rejection of strangers,
 * a robot restart and an engram restart.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EngramClient } from '../../../drivers/zmq/client.js';
import { ZmqDriver } from '../../../drivers/zmq/driver.js';
import { MockClock, systemClock } from '../../../runtime/clock.js';
import { type ChannelSpec, createAction, createFrame, Status } from '../../../runtime/contracts.js';
import { closeTracked, endpointsFor, sleep, type Transport, track, transports, waitFor } from './helpers.js';

const channels: ChannelSpec[] = [
  { name: 'joints', size: 3, maxAgeMs: 0 },
  { name: 'imu', size: 2, maxAgeMs: 50 },
];
const actionSize = 2;

function makeDriver(transport: Transport, clock = systemClock) {
  return track(
    new ZmqDriver({
      config: { ...endpointsFor(transport), maxMessageBytes: 4096 },
      channels,
      actionSize,
      clock,
    }),
  );
}

function makeClient(driver: ZmqDriver, overrides: Partial<ConstructorParameters<typeof EngramClient>[0]> = {}) {
  return track(
    new EngramClient({
      ...driver.boundEndpoints(),
      channels: channels.map(({ name, size }) => ({ name, size })),
      actionSize,
      ...overrides,
    }),
  );
}

for (const transport of transports) {
  const t = suite(`zmq driver over ${transport}`);

  t('hello, frame in, action out naming the frame', async () => {
    const driver = makeDriver(transport);
    await driver.start();
    const client = makeClient(driver);
    const welcome = await client.connect();
    assert.equal(
      welcome.channels.map((c) => [c.name, c.size]),
      [
        ['joints', 3],
        ['imu', 2],
      ],
    );
    assert.is(welcome.actionSize, actionSize);
    const frame = createFrame(5);
    assert.is(driver.poll(frame), Status.noInput);
    const seq = client.sendFrame({ joints: [1, 2, 3], imu: [0.5, -0.5] }, { reward: 0.25, episodeStart: true });
    await waitFor(() => driver.counters().framesReceived === 1, 'the frame');
    assert.is(driver.poll(frame), Status.ok);
    assert.equal(Array.from(frame.observation), [1, 2, 3, 0.5, -0.5]);
    assert.is(frame.seq, seq);
    assert.is(frame.reward, 0.25);
    assert.is(frame.episodeStart, true);
    assert.is(driver.poll(frame), Status.noInput);

    const action = createAction(actionSize);
    action.cycle = 7;
    action.frameSeq = frame.seq;
    action.stale = false;
    action.values.set([0.125, -2]);
    driver.publish(action);
    const received = await client.actionFor(seq);
    assert.ok(received, 'an action arrives');
    assert.is(received.frameSeq, seq);
    assert.is(received.cycle, 7);
    assert.is(received.stale, false);
    assert.equal(Array.from(received.values), [0.125, -2]);
    client.close();
    await driver.stop();
  });

  t('latest frame wins; rewards add up and estop/episodeStart pulses survive until polled', async () => {
    const driver = makeDriver(transport);
    await driver.start();
    const client = makeClient(driver);
    await client.connect();
    // bursts within ZeroMQ's send queue (64): nothing dropped, and none of it polled in between
    for (let i = 0; i < 200; i++) {
      client.sendFrame({ joints: [i, i, i], imu: [i, -i] }, { reward: 1, estop: i === 10, episodeStart: i === 0 });
      if (i % 20 === 19) await sleep(5);
    }
    assert.is(client.dropped, 0);
    await waitFor(() => driver.counters().framesReceived === 200, 'all 200 frames');
    const frame = createFrame(5);
    assert.is(driver.poll(frame), Status.ok);
    assert.is(frame.seq, 199);
    assert.equal(Array.from(frame.observation), [199, 199, 199, 199, -199]);
    assert.is(frame.reward, 200);
    assert.is(frame.estop, true);
    assert.is(frame.episodeStart, true);
    assert.is(driver.poll(frame), Status.noInput);
    client.sendFrame({ joints: [1, 1, 1], imu: [1, 1] }, { reward: 2 });
    await waitFor(() => driver.counters().framesReceived === 201, 'one more frame');
    assert.is(driver.poll(frame), Status.ok);
    assert.is(frame.reward, 2);
    assert.is(frame.estop, false);
    client.close();
    await driver.stop();
  });

  t('per-channel staleness: partial frames keep the other channel until it is too old', async () => {
    const clock = new MockClock(1e9);
    const driver = makeDriver(transport, clock);
    await driver.start();
    const client = makeClient(driver);
    await client.connect();
    const frame = createFrame(5);
    client.sendFrame({ joints: [1, 1, 1] });
    await waitFor(() => driver.counters().framesReceived === 1, 'joints only');
    assert.is(driver.poll(frame), Status.stale, 'imu never arrived');
    client.sendFrame({ imu: [4, 5] });
    await waitFor(() => driver.counters().framesReceived === 2, 'imu');
    assert.is(driver.poll(frame), Status.ok);
    assert.equal(Array.from(frame.observation), [1, 1, 1, 4, 5]);
    const imuReceivedNs = frame.receivedNs;
    clock.advance(60e6); // imu's limit is 50 ms; joints never go stale
    client.sendFrame({ joints: [2, 2, 2] });
    await waitFor(() => driver.counters().framesReceived === 3, 'joints again');
    assert.is(driver.poll(frame), Status.stale);
    assert.equal(Array.from(frame.observation), [2, 2, 2, 4, 5]);
    assert.is(frame.receivedNs, imuReceivedNs, 'the frame is as old as its oldest age-limited channel');
    assert.is(driver.counters().staleFrames, 2);
    client.close();
    await driver.stop();
  });

  t('a hello that disagrees with the config is refused with the reason', async () => {
    const driver = makeDriver(transport);
    await driver.start();
    const client = makeClient(driver, { channels: [{ name: 'joints', size: 4 }], actionSize: 3 });
    try {
      await client.connect(2000);
      assert.unreachable('the hello should be refused');
    } catch (error) {
      const message = (error as Error).message;
      assert.match(message, /channel 'joints' has size 4, expected 3/);
      assert.match(message, /missing channel 'imu'/);
      assert.match(message, /actionSize 3/);
    }
    assert.ok((driver.counters().rejectedByReason.helloMismatch ?? 0) >= 1);
    assert.is(driver.activeSession(), -1);
    client.close();
    await driver.stop();
  });

  t('a restarted robot (new session) takes over; the old session is refused', async () => {
    const driver = makeDriver(transport);
    await driver.start();
    const first = makeClient(driver);
    await first.connect();
    first.sendFrame({ joints: [1, 1, 1], imu: [1, 1] });
    await waitFor(() => driver.counters().framesReceived === 1, 'first robot frame');
    const second = makeClient(driver);
    await second.connect();
    assert.is(driver.activeSession(), second.session);
    assert.is(driver.counters().reconnects, 1);
    first.sendFrame({ joints: [9, 9, 9], imu: [9, 9] });
    await waitFor(() => driver.counters().rejectedByReason.noHandshake === 1, 'old session refused');
    second.sendFrame({ joints: [2, 2, 2], imu: [2, 2] });
    await waitFor(() => driver.counters().framesReceived === 2, 'second robot frame');
    const frame = createFrame(5);
    assert.is(driver.poll(frame), Status.ok);
    assert.equal(Array.from(frame.observation), [2, 2, 2, 2, 2]);
    first.close();
    second.close();
    await driver.stop();
  });

  t('engram restarts: the robot is told to say hello again and carries on', async () => {
    const first = makeDriver(transport);
    await first.start();
    const endpoints = first.boundEndpoints();
    const client = makeClient(first);
    await client.connect();
    await first.stop();
    // same endpoints, a fresh engram that knows no session
    const second = new ZmqDriver({
      config: { ...endpoints, maxMessageBytes: 4096 },
      channels,
      actionSize,
      clock: systemClock,
    });
    await second.start();
    const frame = createFrame(5);
    const deadline = Date.now() + 5000;
    let seq = 0;
    while (second.counters().framesReceived === 0 && Date.now() < deadline) {
      seq = client.sendFrame({ joints: [3, 3, 3], imu: [3, 3] });
      await client.nextAction(20); // reads the noHandshake reject, which arms the re-hello
    }
    assert.ok(second.counters().framesReceived > 0, 'frames flow again after the re-hello');
    assert.ok(client.rehellos >= 1);
    assert.ok((second.counters().rejectedByReason.noHandshake ?? 0) >= 1);
    assert.is(second.poll(frame), Status.ok);
    assert.ok(frame.seq <= seq);
    client.close();
    await second.stop();
  });

  t('stop releases the endpoints: a driver started at once on them binds (40 restarts)', async () => {
    let driver = makeDriver(transport);
    await driver.start();
    const endpoints = driver.boundEndpoints();
    const client = makeClient(driver);
    await client.connect(); // accepted connections too, as a robot's
    for (let restart = 0; restart < 40; restart++) {
      await driver.stop();
      driver = track(
        new ZmqDriver({ config: { ...endpoints, maxMessageBytes: 4096 }, channels, actionSize, clock: systemClock }),
      );
      await driver.start(); // throws "Address already in use" if stop returned before the listener closed
    }
    assert.equal(driver.boundEndpoints(), endpoints);
    await driver.stop();
  });

  t('publish never throws or waits, even when a subscriber reads nothing', async () => {
    const driver = makeDriver(transport);
    await driver.start();
    const client = makeClient(driver);
    await client.connect();
    const action = createAction(actionSize);
    for (let i = 0; i < 20_000; i++) {
      action.cycle = i;
      driver.publish(action); // would throw "Socket is busy writing" without sendTimeout 0
    }
    await sleep(20);
    const counters = driver.counters();
    assert.is(counters.actionsPublished, 20_000);
    assert.ok((counters.droppedActions ?? 0) >= 0);
    const next = await client.nextAction(1000);
    assert.ok(next, 'the subscriber still gets actions afterwards');
  });

  t.after.each(closeTracked);
  t.run();
}
