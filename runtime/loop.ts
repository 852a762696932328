/**
 * The fixed-rate loop, one cycle at a time (copper-rs's habits): tick k is due at t0 + k·period on
 * the injected Clock; a cycle that wakes late runs the most recent due tick and counts the ticks it
 * skipped (never a burst to catch up). Each cycle: ingest (driver.poll) → step (the anytime brain
 * gets the deadline) → overrun policy → safety filter → publish → cycle record → observers. Slack
 * work (controller.maintain, observers' flush) runs afterwards with its own bound.
 *
 * `Loop` is synchronous and clock-driven, so a MockClock makes every decision testable exactly;
 * waiting for the next tick is the LoopRunner's job (runtime/timing.ts supplies the waiters).
 *
 * Hot path: nothing here allocates per cycle. Records live in a preallocated ring; counters are
 * plain numbers; problems are counted, never thrown or logged per event.
 */
import type { StageBudgetsNs } from './budget.js';
import { EffortLadder, type EffortLadderConfig } from './budget.js';
import {
  type Action,
  type Clock,
  type Controller,
  type CycleObserver,
  type CycleRecord,
  createAction,
  createCycleRecord,
  createFrame,
  type Driver,
  type Effort,
  type Frame,
  LookupPath,
  Status,
  type StatusCode,
  type StepTimings,
} from './contracts.js';
import { SafeReason, type SafeReasonCode, type SafetyFilter, SafetyTime } from './safety.js';

export type OverrunPolicy = 'hold' | 'safe';

export interface LoopSettings {
  rateHz: number;
  /** wake to end of publish */
  cycleBudgetNs: number;
  stageBudgetsNs: StageBudgetsNs;
  /** bound on slack work after a cycle */
  maintenanceNs: number;
  overrunPolicy: OverrunPolicy;
  effort: EffortLadderConfig;
  /** rung 0 of the effort ladder (from the brain config: planner candidates, horizon, HNSW ef) */
  fullEffort: Effort;
  /** cycle records kept (the metrics source and what observers may look back on) */
  ringSize?: number;
}

export interface LoopCounters {
  cycles: number;
  skippedTicks: number;
  /** cycles whose wake-to-publish time exceeded the cycle budget, or whose step missed its deadline */
  overruns: number;
  /** steps that returned after the step deadline (their action was replaced per the overrun policy) */
  deadlineMisses: number;
  /** steps that returned Status.deadline (anytime: best-so-far, in time) */
  anytimeCutoffs: number;
  /** cycles with no new frame from the driver (the last action was held) */
  noInputCycles: number;
  /** frames the controller rejected (non-finite, wrong length, stale, malformed) */
  rejectedFrames: number;
  heldActions: number;
  safeActions: number;
  /** per-stage budget overruns (counted; only the cycle budget triggers the overrun policy) */
  stageOverruns: StageBudgetsNs;
  /** slack work that ran past its bound */
  maintenanceOverruns: number;
}

function newCounters(): LoopCounters {
  return {
    cycles: 0,
    skippedTicks: 0,
    overruns: 0,
    deadlineMisses: 0,
    anytimeCutoffs: 0,
    noInputCycles: 0,
    rejectedFrames: 0,
    heldActions: 0,
    safeActions: 0,
    stageOverruns: { ingest: 0, encode: 0, lookup: 0, plan: 0, publish: 0 },
    maintenanceOverruns: 0,
  };
}

/**
 * Slots of Loop.stamps, the cycle's clock readings. Read through Clock.stampNs into a Float64Array:
 * a double returned from a call V8 does not inline is boxed in a heap number, and the real loop's
 * sampled allocations showed those reads in runCycle (16 B each, several per cycle).
 */
const Stamp = {
  woke: 0,
  ingested: 1,
  stepped: 2,
  filtered: 3,
  published: 4,
  slackStarted: 5,
  slackNow: 6,
  count: 7,
} as const;

export class Loop {
  readonly periodNs: number;
  readonly frame: Frame;
  readonly action: Action;
  readonly ring: readonly CycleRecord[];
  readonly counters: LoopCounters = newCounters();
  readonly ladder: EffortLadder;
  /** reason the last cycle used the safe action (SafeReason), for status and tests */
  lastSafeReason: SafeReasonCode = SafeReason.none;
  /** wake times of the first and the latest cycle (achieved rate = cycles over this span) */
  firstWokeNs = 0;
  lastWokeNs = 0;
  private t0Ns = 0;
  private nextTick = 0;
  private started = false;
  /** index of the newest record in `ring` (-1 before the first cycle) */
  private newest = -1;
  private readonly proposal: Float32Array;
  private readonly lastPublished: Float32Array;
  /** the safety filter's times: now, and when lastPublished went out (-1 before any) */
  private readonly safetyTimes = new Float64Array(SafetyTime.slots);
  private readonly stamps = new Float64Array(Stamp.count);
  /** Controller.slackWork summed over slack runs since the last cycle: the next record's priorSlackWork */
  private slackWorkSinceCycle = 0;
  /** Controller.slackWritesHeld over slack runs since the last cycle (any): priorSlackWritesHeld */
  private slackWritesHeldSinceCycle = false;
  private readonly timings: StepTimings = {
    encodeNs: 0,
    lookupNs: 0,
    activationNs: 0,
    planNs: 0,
    lookupPath: LookupPath.none,
  };

  constructor(
    readonly clock: Clock,
    readonly driver: Driver,
    readonly controller: Controller,
    readonly safety: SafetyFilter,
    readonly settings: LoopSettings,
    readonly observers: readonly CycleObserver[] = [],
  ) {
    if (!(settings.rateHz > 0)) throw new Error(`rateHz must be positive, got ${settings.rateHz}`);
    this.periodNs = 1e9 / settings.rateHz;
    if (settings.cycleBudgetNs > this.periodNs) {
      throw new Error(`cycle budget ${settings.cycleBudgetNs} ns exceeds the period ${this.periodNs} ns`);
    }
    if (safety.size !== controller.actionSize) {
      throw new Error(`action limits have ${safety.size} values but the controller acts in ${controller.actionSize}`);
    }
    this.frame = createFrame(controller.observationSize);
    this.action = createAction(controller.actionSize);
    this.proposal = new Float32Array(controller.actionSize);
    this.lastPublished = new Float32Array(controller.actionSize);
    this.lastPublished.set(safety.limits.safe);
    this.safetyTimes[SafetyTime.previous] = -1;
    this.action.values.set(safety.limits.safe);
    const ring: CycleRecord[] = [];
    for (let i = 0; i < (settings.ringSize ?? 1024); i++) ring.push(createCycleRecord());
    this.ring = ring;
    this.ladder = new EffortLadder(settings.fullEffort, settings.effort);
  }

  /** Phase origin: tick k is due at t0Ns + k·period. Sets full effort on the controller. */
  start(t0Ns: number): void {
    this.t0Ns = t0Ns;
    this.nextTick = 0;
    this.started = true;
    this.controller.setEffort(this.ladder.effort);
  }

  dueNs(tick: number): number {
    return this.t0Ns + tick * this.periodNs;
  }

  /** When the next cycle is due (the runner waits for this). */
  nextDueNs(): number {
    return this.t0Ns + this.nextTick * this.periodNs;
  }

  /** out[index] = nextDueNs(), returning nothing (a returned double is boxed where not inlined). */
  nextDueInto(out: Float64Array, index: number): void {
    out[index] = this.t0Ns + this.nextTick * this.periodNs;
  }

  /** The most recent cycle's record (undefined before the first cycle). */
  latest(): CycleRecord | undefined {
    return this.newest < 0 ? undefined : this.ring[this.newest];
  }

  /** Total records written so far; record i lives at ring[i % ring.length] while not overwritten. */
  recordsWritten(): number {
    return this.counters.cycles;
  }

  /** Runs the cycle for the most recent due tick. Call at or after nextDueNs(). */
  runCycle(): CycleRecord {
    if (!this.started) throw new Error('Loop.start() must be called before runCycle()');
    const clock = this.clock;
    const settings = this.settings;
    const counters = this.counters;
    const stamps = this.stamps;
    clock.stampNs(stamps, Stamp.woke);
    const woke = stamps[Stamp.woke]!;
    let tick = Math.floor((woke - this.t0Ns) / this.periodNs);
    if (tick < this.nextTick) tick = this.nextTick; // woken a hair early: this is still the next tick
    const skipped = tick - this.nextTick;
    this.nextTick = tick + 1;
    counters.skippedTicks += skipped;
    if (counters.cycles === 0) this.firstWokeNs = woke;
    this.lastWokeNs = woke;

    this.newest = (this.newest + 1) % this.ring.length;
    const record = this.ring[this.newest]!;
    const due = this.t0Ns + tick * this.periodNs;
    record.cycle = tick;
    record.dueNs = due;
    record.wokeNs = woke;
    record.latenessNs = woke - due;
    record.skippedTicks = skipped;

    // The budget runs from wake; the step must leave the publish stage its share.
    const deadline = woke + settings.cycleBudgetNs;
    const stepDeadline = deadline - settings.stageBudgetsNs.publish;

    // Ingest.
    const frame = this.frame;
    const pollStatus = this.driver.poll(frame);
    clock.stampNs(stamps, Stamp.ingested);
    const ingested = stamps[Stamp.ingested]!;
    record.ingestNs = ingested - woke;

    // Step (anytime): only a fresh frame is answered; otherwise the last action is held.
    const timings = this.timings;
    timings.encodeNs = 0;
    timings.lookupNs = 0;
    timings.activationNs = 0;
    timings.planNs = 0;
    timings.lookupPath = LookupPath.none;
    let stepStatus: StatusCode = Status.noInput;
    let stepped = ingested;
    let fresh = false;
    let missedDeadline = false;
    let stepWork = 0;
    if (pollStatus === Status.ok) {
      stepStatus = this.controller.step(frame, stepDeadline, this.proposal, timings);
      clock.stampNs(stamps, Stamp.stepped);
      stepped = stamps[Stamp.stepped]!;
      if (stepStatus === Status.ok || stepStatus === Status.deadline) {
        stepWork = this.controller.stepWork?.() ?? 0;
        if (stepStatus === Status.deadline) counters.anytimeCutoffs++;
        if (stepped > stepDeadline) {
          missedDeadline = true;
          counters.deadlineMisses++;
        } else {
          fresh = true;
        }
      } else {
        counters.rejectedFrames++;
      }
    } else {
      counters.noInputCycles++;
    }
    record.encodeNs = timings.encodeNs;
    record.lookupNs = timings.lookupNs;
    record.activationNs = timings.activationNs;
    record.planNs = timings.planNs;
    record.lookupPath = timings.lookupPath;
    record.stepStatus = stepStatus;
    record.stepWork = stepWork;

    // Overrun policy, then the safety filter (the last word).
    const forceSafe = missedDeadline && settings.overrunPolicy === 'safe';
    const source = fresh ? this.proposal : this.lastPublished;
    const action = this.action;
    const safetyTimes = this.safetyTimes;
    safetyTimes[SafetyTime.now] = stepped;
    const reason = this.safety.apply(source, frame, safetyTimes, this.lastPublished, forceSafe, action.values);
    this.lastSafeReason = reason;
    const safeUsed = reason !== SafeReason.none;
    const stale = safeUsed || !fresh;
    if (safeUsed) counters.safeActions++;
    else if (!fresh) counters.heldActions++;
    clock.stampNs(stamps, Stamp.filtered);
    const filtered = stamps[Stamp.filtered]!;
    record.safetyNs = filtered - stepped;

    // Publish.
    action.cycle = tick;
    action.frameSeq = frame.seq;
    action.stale = stale;
    action.publishedNs = filtered;
    this.driver.publish(action);
    clock.stampNs(stamps, Stamp.published);
    const published = stamps[Stamp.published]!;
    record.publishNs = published - filtered;
    this.lastPublished.set(action.values);
    safetyTimes[SafetyTime.previous] = filtered;

    const cycleNs = published - woke;
    const overrun = missedDeadline || cycleNs > settings.cycleBudgetNs;
    record.cycleNs = cycleNs;
    record.overrun = overrun;
    record.maintenanceNs = 0;
    record.frameSeq = frame.seq;
    record.actionStale = stale;
    record.safeAction = safeUsed;
    record.effortLevel = this.ladder.level;
    record.priorSlackWork = this.slackWorkSinceCycle;
    this.slackWorkSinceCycle = 0;
    record.priorSlackWritesHeld = this.slackWritesHeldSinceCycle ? 1 : 0;
    this.slackWritesHeldSinceCycle = false;
    counters.cycles++;
    if (overrun) counters.overruns++;
    const stages = settings.stageBudgetsNs;
    const stageOverruns = counters.stageOverruns;
    if (record.ingestNs > stages.ingest) stageOverruns.ingest++;
    if (record.encodeNs > stages.encode) stageOverruns.encode++;
    if (record.lookupNs + record.activationNs > stages.lookup) stageOverruns.lookup++;
    if (record.planNs > stages.plan) stageOverruns.plan++;
    if (record.publishNs + record.safetyNs > stages.publish) stageOverruns.publish++;

    if (this.ladder.update(cycleNs, settings.cycleBudgetNs, overrun)) this.controller.setEffort(this.ladder.effort);

    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) observers[i]!.cycleDone(record, frame, action);
    return record;
  }

  /**
   * Slack work after a cycle, bounded by `untilNs`: the controller's deferred work (storing the
   * experience, eviction), then each observer's flush while time remains.
   */
  runSlack(untilNs: number): void {
    const clock = this.clock;
    const stamps = this.stamps;
    clock.stampNs(stamps, Stamp.slackStarted);
    const started = stamps[Stamp.slackStarted]!;
    if (started < untilNs) {
      this.controller.maintain(untilNs);
      // How much time-dependent work that was, for the next cycle's record (replay repeats it).
      this.slackWorkSinceCycle += this.controller.slackWork?.() ?? 0;
      if (this.controller.slackWritesHeld?.() === true) this.slackWritesHeldSinceCycle = true;
    }
    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) {
      clock.stampNs(stamps, Stamp.slackNow);
      if (stamps[Stamp.slackNow]! >= untilNs) break;
      observers[i]!.flush(untilNs);
    }
    clock.stampNs(stamps, Stamp.slackNow);
    const ended = stamps[Stamp.slackNow]!;
    if (ended > untilNs) this.counters.maintenanceOverruns++;
    const record = this.latest();
    if (record !== undefined) record.maintenanceNs = ended - started;
  }

  /** Cycles per second between the first and the latest wake (0 before two cycles). */
  achievedRateHz(): number {
    const span = this.lastWokeNs - this.firstWokeNs;
    return span > 0 ? ((this.counters.cycles - 1) * 1e9) / span : 0;
  }

  /** Shutdown: publish the safe action once, stamped stale. */
  publishSafe(): void {
    const action = this.action;
    action.values.set(this.safety.limits.safe);
    action.stale = true;
    action.frameSeq = this.frame.seq;
    action.publishedNs = this.clock.nowNs();
    this.driver.publish(action);
    this.lastPublished.set(action.values);
    this.safetyTimes[SafetyTime.previous] = action.publishedNs;
  }
}
