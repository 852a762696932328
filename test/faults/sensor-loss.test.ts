/**
 * Fault: the sensor stream stops, and the ZeroMQ peer disappears (kill -9) and comes back (a new
 * process, a new session). The real loop and runner on the system clock at 100 Hz, the real brain,
 * the real ZeroMQ driver over ipc, and a robot in a child process using the real client.
 *
 * What the user must see: the safe action goes out within two periods of the last fresh frame
 * (counted in ticks, so a noisy machine's lateness cannot fake it), the loop keeps cycling through
 * the outage, the driver accepts the new session (counted as a reconnect), fresh actions resume,
 * and the brain keeps what it learned (memory intact, finite, growing again).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../brain/brain.js';
import { createZmqDriver } from '../../drivers/zmq/driver.js';
import { composeLoop } from '../../runtime/cli/replay.js';
import { systemClock } from '../../runtime/clock.js';
import { loadRuntimeConfig } from '../../runtime/config.js';
import type { CycleObserver, CycleRecord } from '../../runtime/contracts.js';
import { LoopRunner } from '../../runtime/loop-runner.js';
import { channelSpecs } from '../../runtime/loop-settings.js';
import { CapturingLog } from '../brain/memory/snapshot-helpers.js';

const child = new URL('./zmq-robot-child.ts', import.meta.url).pathname;

/** Per-cycle facts in preallocated arrays (the observer allocates nothing per cycle). */
class CycleLog implements CycleObserver {
  count = 0;
  readonly tick: Float64Array;
  readonly safe: Uint8Array;
  readonly fresh: Uint8Array;
  constructor(capacity: number) {
    this.tick = new Float64Array(capacity);
    this.safe = new Uint8Array(capacity);
    this.fresh = new Uint8Array(capacity);
  }
  cycleDone(record: CycleRecord): void {
    if (this.count >= this.tick.length) return;
    this.tick[this.count] = record.cycle;
    this.safe[this.count] = record.safeAction ? 1 : 0;
    this.fresh[this.count] = record.actionStale ? 0 : 1;
    this.count++;
  }
  flush(): void {}
}

interface Robot {
  process: ChildProcess;
  waitFor(line: string, timeoutMs?: number): Promise<void>;
}

function startRobot(frames: string, actions: string, pauseAfter: number, pauseMs: number): Robot {
  const process_ = spawn(
    process.execPath,
    ['--import', 'tsx', child, frames, actions, String(pauseAfter), String(pauseMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  process_.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.splice(0)) {
      if (output.includes(`${waiter.line}\n`)) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  return {
    process: process_,
    waitFor(line, timeoutMs = 20_000) {
      if (output.includes(`${line}\n`)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`robot never printed '${line}' (got: ${output})`)), timeoutMs);
        waiters.push({
          line,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Maximal runs of cycles without a fresh action, as [first, last] indices into the log. */
function outages(log: CycleLog, minimumCycles: number): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let i = 0; i <= log.count; i++) {
    const fresh = i < log.count && log.fresh[i] === 1;
    if (!fresh && i < log.count && start < 0) start = i;
    if ((fresh || i === log.count) && start >= 0) {
      if (i - start >= minimumCycles && start > 0) runs.push([start, i - 1]);
      start = -1;
    }
  }
  return runs;
}

const faults = suite('sensor stream loss and ZeroMQ peer restart');

faults('the safe action within two periods, the loop cycling on, the peer reconnecting, memory kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-sensor-loss-'));
  const frames = `ipc://${dir}/frames`;
  const actions = `ipc://${dir}/actions`;
  const config = loadRuntimeConfig(new URL('../../configs/zmq_robot.yaml', import.meta.url).pathname);
  config.rateHz = 100;
  config.budget.cycleMs = 8;
  config.budget.stages = { ingest: 0.5, encode: 1, lookup: 2, plan: 3.5, publish: 0.5 };
  config.budget.maintenanceMs = 1;
  config.safety.staleAfterMs = 10; // one period: stale input means the safe action
  config.brain.memory.capacity = 5000;
  config.metrics.enabled = false;
  const driver = createZmqDriver({
    config: { frames, actions, maxMessageBytes: 65536, curve: undefined } as Parameters<
      typeof createZmqDriver
    >[0]['config'],
    channels: channelSpecs(config),
    actionSize: config.action.size,
    clock: systemClock,
    log: new CapturingLog(),
  });
  const cycles = new CycleLog(200_000);
  const loop = await composeLoop({ config, clock: systemClock, driver, log: new CapturingLog(), observers: [cycles] });
  const brain = loop.controller as Brain;
  brain.setExploration(true);
  await driver.start();
  const runner = new LoopRunner(loop, systemClock, {
    strategy: config.timing.strategy,
    wakeLeadNs: config.timing.wakeLeadUs * 1e3,
    spinNs: config.timing.spinUs * 1e3,
  });
  const running = runner.run();
  const robots: Robot[] = [];
  try {
    // A robot that goes silent once for 300 ms, then streams again; then it is killed.
    const first = startRobot(frames, actions, 150, 300);
    robots.push(first);
    await first.waitFor('welcomed');
    await first.waitFor('action');
    await first.waitFor('paused');
    await first.waitFor('resumed');
    await sleep(700);
    first.process.kill('SIGKILL');
    const learnedBeforeKill = brain.store.size();
    await sleep(400);
    // A new robot process (a new session) connects to the same endpoints.
    const second = startRobot(frames, actions, 0, 0);
    robots.push(second);
    await second.waitFor('welcomed');
    await second.waitFor('action');
    await sleep(700);
    runner.stop();
    await running;
    loop.publishSafe();

    const gaps = outages(cycles, 10);
    assert.ok(gaps.length >= 2, `expected the pause and the kill as outages, found ${gaps.length}`);
    for (const [first_, last] of gaps) {
      const lastFreshTick = cycles.tick[first_ - 1]!;
      let firstSafe = -1;
      for (let i = first_; i <= last; i++) {
        if (cycles.safe[i] === 1) {
          firstSafe = i;
          break;
        }
      }
      assert.ok(firstSafe >= 0, 'the safe action went out during the outage');
      const ticksToSafe = cycles.tick[firstSafe]! - lastFreshTick;
      assert.ok(ticksToSafe <= 2, `the safe action came ${ticksToSafe} periods after the last fresh frame`);
      for (let i = firstSafe; i <= last; i++) assert.is(cycles.safe[i], 1, 'the safe action is held to the end');
      const ticks = cycles.tick[last]! - cycles.tick[first_]! + 1;
      const ran = last - first_ + 1;
      assert.ok(ran >= ticks * 0.5, `the loop kept cycling through the outage: ${ran} cycles over ${ticks} ticks`);
    }
    const counters = driver.counters();
    assert.ok(counters.reconnects >= 1, 'the new robot session counts as a reconnect');
    let freshAfter = 0;
    for (let i = gaps.at(-1)![1] + 1; i < cycles.count; i++) freshAfter += cycles.fresh[i]!;
    assert.ok(freshAfter > 20, `fresh actions resumed after the reconnect (${freshAfter})`);
    assert.ok(learnedBeforeKill > 0, 'the brain learned before the kill');
    assert.ok(brain.store.size() >= learnedBeforeKill, 'nothing learned was lost over the outage');
    for (let i = 0; i < brain.store.context.length; i++) {
      if (!Number.isFinite(brain.store.context[i]!)) assert.unreachable(`non-finite context value at ${i}`);
    }
  } finally {
    for (const robot of robots) robot.process.kill('SIGKILL');
    runner.stop();
    await Promise.race([running, sleep(1000)]);
    await driver.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

faults.run();
