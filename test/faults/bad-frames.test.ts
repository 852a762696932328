/**
 * Fault: bursts of NaN and malformed frames. Over the real ZeroMQ driver they are rejected at the
 * door and counted by reason, and the brain learns exactly what it learns without them (the same
 * good frames, byte-identical memory and actions). NaN frames that reach the brain (a driver that
 * does not check) are rejected by the brain and counted, and no non-finite value enters memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../brain/brain.js';
import { EngramClient } from '../../drivers/zmq/client.js';
import { createZmqDriver } from '../../drivers/zmq/driver.js';
import { protocolVersion } from '../../drivers/zmq/protocol.js';
import { composeLoop } from '../../runtime/cli/replay.js';
import { MockClock } from '../../runtime/clock.js';
import { loadRuntimeConfig } from '../../runtime/config.js';
import { channelSpecs } from '../../runtime/loop-settings.js';
import { CapturingLog, random, storesEqual } from '../brain/memory/snapshot-helpers.js';
import { runWorld, testConfig } from '../runtime/replay-fixtures.js';

const faults = suite('bursts of NaN and malformed frames');

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Sends `cycles` good frames over ZeroMQ (one per loop cycle, the loop on a MockClock stepped by
 * hand); with `bursts`, a burst of bad messages goes before some good frames. Returns the brain,
 * the published actions and the driver's counters.
 */
async function learnOverZmq(cycles: number, bursts: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'engram-bad-frames-'));
  const frames = `ipc://${dir}/frames`;
  const actions = `ipc://${dir}/actions`;
  const config = loadRuntimeConfig(new URL('../../configs/zmq_robot.yaml', import.meta.url).pathname);
  config.rateHz = 100;
  config.budget.cycleMs = 8;
  config.budget.maintenanceMs = 1;
  config.brain.memory.capacity = 3000;
  const clock = new MockClock(1e9, 15_000);
  const driver = createZmqDriver({
    config: { frames, actions, maxMessageBytes: 65536, curve: undefined } as Parameters<
      typeof createZmqDriver
    >[0]['config'],
    channels: channelSpecs(config),
    actionSize: config.action.size,
    clock,
    log: new CapturingLog(),
  });
  const loop = await composeLoop({ config, clock, driver, log: new CapturingLog(), index: 'linear' });
  await driver.start();
  const client = new EngramClient({
    frames,
    actions,
    channels: config.channels.map((c) => ({ name: c.name, size: c.size })),
    actionSize: config.action.size,
  });
  const published = new Float32Array(cycles * config.action.size);
  let bad = 0;
  try {
    await client.connect(5000);
    const noise = random(99);
    const positions = new Float32Array(6);
    const velocities = new Float32Array(6);
    const imu = new Float32Array(6);
    loop.start(clock.peek() + loop.periodNs);
    let sent = 0;
    for (let i = 0; i < cycles; i++) {
      if (bursts && i % 40 === 20) {
        for (let b = 0; b < 12; b++) {
          const kind = b % 3;
          if (kind === 0) {
            positions.fill(Number.NaN);
            client.sendFrame({ joint_positions: positions, joint_velocities: velocities, imu });
          } else if (kind === 1) {
            const garbage = Buffer.alloc(40);
            for (let j = 0; j < garbage.length; j++) garbage[j] = Math.floor(noise() * 256);
            await client.sendRaw(garbage);
          } else {
            const wrongSize = {
              v: protocolVersion,
              type: 'frame',
              session: client.session,
              seq: 0,
              channels: { imu: Buffer.alloc(5 * 4) },
            };
            await client.sendRaw(pack(wrongSize));
          }
          bad++;
        }
      }
      const t = i * 0.01;
      for (let d = 0; d < 6; d++) {
        positions[d] = Math.sin(t * (1 + 0.3 * d));
        velocities[d] = Math.cos(t * (1 + 0.3 * d));
        imu[d] = 0.5 * Math.sin(t + d);
      }
      client.sendFrame(
        { joint_positions: positions, joint_velocities: velocities, imu },
        { reward: -Math.abs(positions[0]!) },
      );
      sent++;
      await waitUntil(() => {
        const c = driver.counters();
        return c.framesReceived === sent && c.framesRejected === bad;
      }, `frame ${i} and ${bad} bad messages to arrive`);
      clock.set(Math.max(clock.peek(), loop.nextDueNs()));
      loop.runCycle();
      loop.runSlack(clock.peek() + loop.settings.maintenanceNs);
      published.set(loop.action.values, i * config.action.size);
    }
    return { brain: loop.controller as Brain, published, counters: driver.counters(), loop, bad };
  } finally {
    client.close();
    await driver.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

faults('over ZeroMQ: bad frames are rejected by reason and the brain learns exactly as without them', async () => {
  const clean = await learnOverZmq(200, false);
  const dirty = await learnOverZmq(200, true);
  assert.ok(dirty.bad >= 50, 'bursts were sent');
  assert.is(dirty.counters.framesRejected, dirty.bad, 'every bad message is rejected and counted');
  const reasons = dirty.counters.rejectedByReason as Record<string, number>;
  assert.ok((reasons.nonFinite ?? 0) > 0, `NaN frames counted as nonFinite: ${JSON.stringify(reasons)}`);
  assert.ok((reasons.malformed ?? 0) > 0, `garbage counted as malformed: ${JSON.stringify(reasons)}`);
  assert.is(dirty.loop.counters.cycles, 200, 'the loop ran every cycle');
  assert.ok(clean.brain.store.size() > 100, 'the brain learned');
  assert.equal(storesEqual(clean.brain.store, dirty.brain.store), [], 'memory is byte-identical');
  assert.ok(Buffer.from(clean.published.buffer).equals(Buffer.from(dirty.published.buffer)), 'actions are identical');
});

faults('NaN bursts that reach the brain are rejected and counted; nothing non-finite is learned', async () => {
  let burstStart = -1;
  let storedAtBurst = 0;
  const run = await runWorld({
    config: testConfig(),
    cycles: 600,
    log: new CapturingLog(),
    onCycle(index, { world, loop }) {
      // cycles 200-259: every frame carries a NaN (a sensor glitch the driver let through)
      if (index === 199) {
        world.nanEvery = 1;
        burstStart = loop.counters.rejectedFrames;
        storedAtBurst = (loop.controller as Brain).counters.stored;
      }
      if (index === 259) world.nanEvery = 0;
    },
  });
  const brain = run.loop.controller as Brain;
  const rejectedInBurst = run.loop.counters.rejectedFrames - burstStart;
  assert.ok(rejectedInBurst >= 50, `the burst was rejected (${rejectedInBurst})`);
  assert.ok(brain.counters.rejectedNonFinite >= rejectedInBurst, 'the brain counts them as non-finite');
  assert.ok(brain.counters.stored > storedAtBurst + 100, 'learning went on after the burst');
  const store = brain.store;
  for (const column of [store.context, store.outcome, store.action, store.reward, store.returnEstimate]) {
    for (let i = 0; i < column.length; i++) {
      if (!Number.isFinite(column[i]!)) assert.unreachable(`a non-finite value entered memory at ${i}`);
    }
  }
  for (let i = 0; i < brain.normaliser.dim; i++) {
    assert.ok(Number.isFinite(brain.normaliser.mean[i]!) && Number.isFinite(brain.normaliser.m2[i]!));
  }
});

faults.run();
