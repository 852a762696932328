/**
 * Test doubles for loop mechanics (named as such): a driver whose frames the test queues, and a
 * controller whose answer, status and time spent the test sets. The loop, safety filter, ladder
 * and clock arithmetic under test are the real ones.
 */
import { MockClock } from '../../runtime/clock.js';
import type {
  Action,
  Controller,
  CycleObserver,
  CycleRecord,
  Driver,
  DriverCounters,
  Effort,
  Frame,
  StatusCode,
  StepTimings,
} from '../../runtime/contracts.js';
import { Status } from '../../runtime/contracts.js';
import { Loop, type LoopSettings } from '../../runtime/loop.js';
import { actionLimits, SafetyFilter } from '../../runtime/safety.js';

export interface QueuedFrame {
  observation: number[];
  estop?: boolean;
  /** receive stamp; default: the clock's time at poll */
  receivedNs?: number;
}

export class TestDriver implements Driver {
  readonly name = 'test-driver';
  readonly queue: QueuedFrame[] = [];
  readonly published: { cycle: number; values: number[]; stale: boolean; frameSeq: number }[] = [];
  /** when set, every poll without a queued frame repeats the last one as new (a steady sensor) */
  steady = false;
  private seq = -1;
  private last: QueuedFrame | undefined;
  constructor(private readonly clock: MockClock) {}
  async start(): Promise<void> {}
  poll(into: Frame): StatusCode {
    const next = this.queue.shift() ?? (this.steady ? this.last : undefined);
    if (next === undefined) return Status.noInput;
    this.last = next;
    this.seq++;
    into.seq = this.seq;
    into.observation.set(next.observation);
    into.estop = next.estop ?? false;
    into.receivedNs = next.receivedNs ?? this.clock.peek();
    into.episodeStart = this.seq === 0;
    return Status.ok;
  }
  publish(action: Action): void {
    this.published.push({
      cycle: action.cycle,
      values: Array.from(action.values),
      stale: action.stale,
      frameSeq: action.frameSeq,
    });
  }
  counters(): DriverCounters {
    return { framesReceived: this.seq + 1, framesRejected: 0, actionsPublished: this.published.length, reconnects: 0 };
  }
  async stop(): Promise<void> {}
  lastPublished(): { cycle: number; values: number[]; stale: boolean; frameSeq: number } {
    const last = this.published[this.published.length - 1];
    if (!last) throw new Error('nothing published');
    return last;
  }
}

/** Answers `answer`, spending `stepNs` of mock time and returning `status`. */
export class TestController implements Controller {
  readonly observationSize: number;
  readonly actionSize: number;
  answer: number[];
  stepNs = 0;
  status: StatusCode = Status.ok;
  readonly efforts: Effort[] = [];
  readonly maintainCalls: { at: number; until: number }[] = [];
  maintainNs = 0;
  steps = 0;
  lastDeadlineNs = 0;
  constructor(
    private readonly clock: MockClock,
    observationSize: number,
    actionSize: number,
  ) {
    this.observationSize = observationSize;
    this.actionSize = actionSize;
    this.answer = new Array(actionSize).fill(0);
  }
  step(_frame: Frame, deadlineNs: number, actionOut: Float32Array, timings: StepTimings): StatusCode {
    this.steps++;
    this.lastDeadlineNs = deadlineNs;
    this.clock.advance(this.stepNs);
    timings.planNs = this.stepNs;
    if (this.status === Status.ok || this.status === Status.deadline) actionOut.set(this.answer);
    return this.status;
  }
  maintain(untilNs: number): void {
    this.maintainCalls.push({ at: this.clock.peek(), until: untilNs });
    this.clock.advance(this.maintainNs);
  }
  setEffort(effort: Effort): void {
    this.efforts.push({ ...effort });
  }
  setExploration(): void {}
}

export class CountingObserver implements CycleObserver {
  cycles: number[] = [];
  flushes = 0;
  cycleDone(record: CycleRecord): void {
    this.cycles.push(record.cycle);
  }
  flush(): void {
    this.flushes++;
  }
}

export const MS = 1e6;

export function settings(overrides: Partial<LoopSettings> = {}): LoopSettings {
  return {
    rateHz: 100,
    cycleBudgetNs: 8 * MS,
    stageBudgetsNs: { ingest: 0.5 * MS, encode: 1 * MS, lookup: 2 * MS, plan: 4 * MS, publish: 0.5 * MS },
    maintenanceNs: 1 * MS,
    overrunPolicy: 'hold',
    effort: { levels: 3, downAbove: 0.9, upBelow: 0.5, upAfterCycles: 5 },
    fullEffort: { candidates: 32, horizon: 8, ef: 64 },
    ringSize: 16,
    ...overrides,
  };
}

export interface Rig {
  clock: MockClock;
  driver: TestDriver;
  controller: TestController;
  observer: CountingObserver;
  loop: Loop;
}

/** A loop over one 2-value action in [-1, 1] (safe 0), slew limit `slew` per second, stale after 50 ms. */
export function rig(overrides: Partial<LoopSettings> = {}, slew = 0): Rig {
  const clock = new MockClock(0);
  const driver = new TestDriver(clock);
  const controller = new TestController(clock, 3, 2);
  const observer = new CountingObserver();
  const safety = new SafetyFilter(
    actionLimits({ size: 2, low: [-1, -1], high: [1, 1], safe: [0, 0], maxSlewPerSecond: slew }),
    50 * MS,
  );
  const loop = new Loop(clock, driver, controller, safety, settings(overrides), [observer]);
  loop.start(0);
  return { clock, driver, controller, observer, loop };
}
