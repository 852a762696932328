/**
 * One call for `engram sim --transport zmq`: bind a ZeroMQ driver on private endpoints, start the
 * simulator process (drivers/sim/server.ts) against it, answer every frame with the controller as
 * it lands (FrameResponder: poll, step, publish, maintain), and return the episode returns when
 * the process has played its episodes.
 *
 * In lock-step mode the returns equal the in-process run (runtime/cli/sim/lockstep.ts) for the same
 * seed and brain, bit for bit (test/drivers/sim/lockstep.test.ts), provided the step budget is
 * generous enough that the anytime planner is never cut short by load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, Controller, EventLog } from '../../runtime/contracts.js';
import { type DetailedDriverCounters, FrameResponder } from '../driver.js';
import { ZmqDriver } from '../driver-zmq.js';
import { simChannels } from './inprocess.js';
import { spawnSimProcess } from './process.js';
import type { SimMode, SimServerSummary } from './server.js';

export interface RemoteSimOptions {
  /** built-in task name or task module path (resolved again inside the sim process) */
  task: string;
  observationSize: number;
  actionSize: number;
  seed: number;
  mode: SimMode;
  episodes: number;
  /** stop after this many control steps (optional) */
  maxSteps?: number;
  controller: Controller;
  clock: Clock;
  stepBudgetNs: number;
  maintainBudgetNs: number;
  /** ipc (default) or tcp on loopback */
  transport?: 'ipc' | 'tcp';
  log?: EventLog;
}

export interface RemoteSimResult {
  summary: SimServerSummary;
  driver: DetailedDriverCounters;
  /** frames whose step was rejected or whose input was stale (answered with a stale action) */
  rejectedSteps: number;
}

export async function runSimOverZmq(options: RemoteSimOptions): Promise<RemoteSimResult> {
  const dir = options.transport === 'tcp' ? undefined : mkdtempSync(join(tmpdir(), 'engram-sim-'));
  const endpoints = dir
    ? { frames: `ipc://${dir}/frames`, actions: `ipc://${dir}/actions` }
    : { frames: 'tcp://127.0.0.1:*', actions: 'tcp://127.0.0.1:*' };
  const driver = new ZmqDriver({
    config: { ...endpoints, maxMessageBytes: 1 << 20 },
    channels: simChannels({ observationSize: options.observationSize }),
    actionSize: options.actionSize,
    clock: options.clock,
    ...(options.log ? { log: options.log } : {}),
  });
  await driver.start();
  const responder = new FrameResponder(driver, options.controller, {
    clock: options.clock,
    stepBudgetNs: options.stepBudgetNs,
    maintainBudgetNs: options.maintainBudgetNs,
  });
  responder.start();
  const sim = spawnSimProcess({
    task: options.task,
    seed: options.seed,
    mode: options.mode,
    episodes: options.episodes,
    ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
    ...driver.boundEndpoints(),
  });
  try {
    const summary = await sim.done;
    return { summary, driver: driver.counters(), rejectedSteps: responder.rejectedSteps };
  } finally {
    sim.kill();
    responder.stop();
    await driver.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
