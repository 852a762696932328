/**
 * A small real session for profile tests: the real Loop and LoopRunner on the system clock, a
 * driver that produces a frame every cycle, and a controller that does real timed work in each
 * stage (and allocates, so GC happens; `forceGcEvery` also calls global.gc() from slack time).
 * Used until a test needs the brain and the simulator themselves.
 */

import { systemClock } from '../../../runtime/clock.js';
import type {
  Action,
  Controller,
  CycleObserver,
  Driver,
  Frame,
  StatusCode,
  StepTimings,
} from '../../../runtime/contracts.js';
import { LookupPath, Status } from '../../../runtime/contracts.js';
import { Loop } from '../../../runtime/loop.js';
import { LoopRunner } from '../../../runtime/loop-runner.js';
import { cycleCapacityFor } from '../../../runtime/profile/cycles.js';
import { describeHost } from '../../../runtime/profile/host.js';
import { type ProfileData, ProfileRecorder } from '../../../runtime/profile/recorder.js';
import { actionLimits, SafetyFilter } from '../../../runtime/safety.js';

const clock = systemClock;

/** Busy work for about `ns` on the clock (real CPU time, not a sleep). */
function work(ns: number): number {
  const until = clock.nowNs() + ns;
  let x = 0;
  while (clock.nowNs() < until) x += Math.sqrt(x + 1);
  return x;
}

class CountingDriver implements Driver {
  readonly name = 'harness';
  private seq = 0;
  private published = 0;
  async start(): Promise<void> {}
  poll(into: Frame): StatusCode {
    into.seq = this.seq++;
    into.receivedNs = clock.nowNs();
    into.sourceStampNs = into.receivedNs;
    into.episodeStart = into.seq === 0;
    for (let i = 0; i < into.observation.length; i++) into.observation[i] = Math.sin(into.seq + i);
    return Status.ok;
  }
  publish(_action: Action): void {
    this.published++;
  }
  counters() {
    return { framesReceived: this.seq, framesRejected: 0, actionsPublished: this.published, reconnects: 0 };
  }
  async stop(): Promise<void> {}
}

export interface HarnessOptions {
  rateHz: number;
  durationMs: number;
  /** busy time per brain stage (µs) */
  stageWorkUs: number;
  /** call global.gc() in slack time every this many cycles (0 = never) */
  forceGcEvery: number;
  /** extra observers beside the recorder */
  observers?: CycleObserver[];
}

export class WorkController implements Controller {
  readonly observationSize = 4;
  readonly actionSize = 1;
  private cycles = 0;
  /** global.gc() calls made */
  forcedGcs = 0;
  /** retained garbage ring so that scavenges have something to do */
  private readonly junk: number[][] = [];
  sink = 0;
  constructor(private readonly options: HarnessOptions) {}
  step(frame: Frame, _deadlineNs: number, actionOut: Float32Array, timings: StepTimings): StatusCode {
    const stageNs = this.options.stageWorkUs * 1000;
    let t = clock.nowNs();
    this.sink += work(stageNs);
    let now = clock.nowNs();
    timings.encodeNs = now - t;
    t = now;
    this.sink += work(stageNs);
    now = clock.nowNs();
    timings.lookupNs = now - t;
    timings.lookupPath = LookupPath.linear;
    t = now;
    this.sink += work(stageNs / 2);
    now = clock.nowNs();
    timings.activationNs = now - t;
    t = now;
    this.sink += work(stageNs * 2);
    now = clock.nowNs();
    timings.planNs = now - t;
    actionOut[0] = Math.tanh(frame.observation[0]!);
    return Status.ok;
  }
  maintain(_untilNs: number): void {
    this.cycles++;
    this.junk.push(new Array(64).fill(this.cycles));
    if (this.junk.length > 256) this.junk.shift();
    const every = this.options.forceGcEvery;
    if (every > 0 && this.cycles % every === 0 && global.gc) {
      global.gc();
      this.forcedGcs++;
    }
  }
  setEffort(): void {}
  setExploration(): void {}
}

export function harnessLoop(
  options: HarnessOptions,
  observers: CycleObserver[],
): { loop: Loop; controller: WorkController } {
  const periodNs = 1e9 / options.rateHz;
  const controller = new WorkController(options);
  const limits = actionLimits({ size: 1, low: [-1], high: [1], safe: [0], maxSlewPerSecond: 0 });
  const loop = new Loop(
    clock,
    new CountingDriver(),
    controller,
    new SafetyFilter(limits, 1e9),
    {
      rateHz: options.rateHz,
      cycleBudgetNs: periodNs * 0.8,
      stageBudgetsNs: { ingest: 1e6, encode: 1e6, lookup: 1e6, plan: 1e6, publish: 1e6 },
      maintenanceNs: periodNs * 0.1,
      overrunPolicy: 'hold',
      effort: { levels: 2, downAbove: 0.9, upBelow: 0.5, upAfterCycles: 100 },
      fullEffort: { candidates: 16, horizon: 4, ef: 32 },
    },
    observers,
  );
  return { loop, controller };
}

export interface HarnessResult {
  data: ProfileData;
  /** cycles the loop ran (its own counter) */
  loopCycles: number;
  forcedGcs: number;
}

/** Runs the harness for `durationMs` with the profiler attached. */
export async function runHarnessSession(options: HarnessOptions): Promise<HarnessResult> {
  const periodNs = 1e9 / options.rateHz;
  const recorder = new ProfileRecorder(clock, await describeHost(), {
    label: 'test harness',
    periodNs,
    budgetNs: periodNs * 0.8,
    cycleCapacity: cycleCapacityFor(options.durationMs, periodNs),
    sampler: { heapIntervalMs: 50, machineIntervalMs: 200 },
  });
  const { loop, controller } = harnessLoop(options, [recorder, ...(options.observers ?? [])]);
  const runner = new LoopRunner(loop, clock, {
    strategy: 'timer',
    wakeLeadNs: 300_000,
    spinNs: 50_000,
    durationNs: options.durationMs * 1e6,
  });
  recorder.start();
  await runner.run();
  const data = await recorder.finish();
  return { data, loopCycles: loop.counters.cycles, forcedGcs: controller.forcedGcs };
}
