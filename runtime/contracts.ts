/**
 * The contracts every part of engram builds against. The loop knows these, not implementations.
 * Imports point inward: drivers/, brain/ and sim/ may import this file; it imports nothing of theirs.
 *
 * Hot-path rule (docs/architecture.md): objects described here are allocated once at start and
 * reused every cycle. Methods on the per-cycle path fill caller-owned typed arrays and return
 * numeric status codes; they never return new objects and never throw for bad input.
 */

/** Monotonic clock in nanoseconds as a float64 (exact to 2^53 ns, about 104 days of uptime). */
export interface Clock {
  nowNs(): number;
  /**
   * out[index] = nowNs(), for hot paths: a double returned from a call TurboFan does not inline is
   * boxed (16 B per read), and a large caller such as Brain.step runs out of inlining budget before
   * its clock reads (measured: 65-80 B per step from five reads). Writing into a typed array and
   * returning nothing allocates nothing whether or not the call is inlined.
   */
  stampNs(out: Float64Array, index: number): void;
}

const hrtimeBuffer = new ArrayBuffer(8);
const hrtimeBig = new BigUint64Array(hrtimeBuffer);
const hrtimeWords = new Uint32Array(hrtimeBuffer);

/**
 * Monotonic nanoseconds (process.hrtime) as a number, without allocating. `Number(bigint)` boxes
 * the BigInt (measured 40 bytes per read, ~18 reads per brain step + maintain: 700 B per step);
 * storing it into a BigUint64Array lets TurboFan keep it unboxed, and the two 32-bit halves read
 * back through a Uint32Array view (little-endian, as every platform Node runs on) make the number
 * exactly (below 2^53 ns, 104 days of uptime). Measured 0.2 bytes per read and 42 ns against 76.
 * Exact above that too, to double precision.
 */
export function monotonicNs(): number {
  hrtimeBig[0] = process.hrtime.bigint();
  return hrtimeWords[1]! * 4294967296 + hrtimeWords[0]!;
}

/** A Clock on monotonicNs, for code in brain/ that may not import runtime/clock.ts (its SystemClock reads the same). */
export const monotonicClock: Clock = { nowNs: monotonicNs, stampNs: monotonicNsInto };

/** out[index] = monotonicNs(), returning nothing (Clock.stampNs). */
export function monotonicNsInto(out: Float64Array, index: number): void {
  hrtimeBig[0] = process.hrtime.bigint();
  out[index] = hrtimeWords[1]! * 4294967296 + hrtimeWords[0]!;
}

/** Status codes for hot-path calls: 0 is success, anything else names a counted reason. */
export const Status = {
  ok: 0,
  /** no new input since the last call */
  noInput: 1,
  /** input rejected: NaN or Infinity */
  nonFinite: 2,
  /** input rejected: wrong vector length */
  wrongLength: 3,
  /** input rejected: sensor data older than the configured staleness limit */
  stale: 4,
  /** the deadline passed before the work completed; the best result so far was returned */
  deadline: 5,
  /** input rejected: malformed on the wire (decode failure, unknown version, oversized) */
  malformed: 6,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

/** One named sensor channel: a slice of the frame's observation vector. */
export interface ChannelSpec {
  readonly name: string;
  readonly size: number;
  /** a frame whose copy of this channel is older than this is stale (ms); 0 = never stale */
  readonly maxAgeMs: number;
}

/**
 * The latest-frame slot. A driver copies decoded, validated input into one preallocated Frame;
 * the loop reads it. `observation` concatenates the channels in config order.
 */
export interface Frame {
  /** sequence number from the source (robot or simulator); increases by one per frame sent */
  seq: number;
  /** source timestamp, ns on the source's clock (informational) */
  sourceStampNs: number;
  /** when the frame was received, on the runtime's Clock (drives staleness) */
  receivedNs: number;
  readonly observation: Float32Array;
  /** reward for the transition that led to this frame (sim tasks, or a robot's reward channel) */
  reward: number;
  /** true on the first frame of an episode: the brain must not link it to the previous frame */
  episodeStart: boolean;
  /** emergency stop requested by the source; the safety filter forces the safe action */
  estop: boolean;
}

export function createFrame(observationSize: number): Frame {
  return {
    seq: -1,
    sourceStampNs: 0,
    receivedNs: 0,
    observation: new Float32Array(observationSize),
    reward: 0,
    episodeStart: true,
    estop: false,
  };
}

/** The action published each cycle. Preallocated; `values` is overwritten in place. */
export interface Action {
  /** cycle index of the loop that produced it */
  cycle: number;
  /** seq of the frame it answers (-1 when none has arrived) */
  frameSeq: number;
  /** true when this is a held or safe action rather than a fresh answer to `frameSeq` */
  stale: boolean;
  /** ns on the runtime Clock when it was published */
  publishedNs: number;
  readonly values: Float32Array;
}

export function createAction(actionSize: number): Action {
  return { cycle: -1, frameSeq: -1, stale: true, publishedNs: 0, values: new Float32Array(actionSize) };
}

/** What a driver reports about itself, read by metrics (not per cycle). */
export interface DriverCounters {
  framesReceived: number;
  framesRejected: number;
  actionsPublished: number;
  reconnects: number;
}

/**
 * A transport: turns robot or simulator input into frames, and actions back out.
 * Lifecycle after copper-rs: start (may be slow), the per-cycle pair `poll` and `publish`, stop.
 */
export interface Driver {
  readonly name: string;
  start(): Promise<void>;
  /**
   * Copy the newest frame into `into` if one arrived since the last call. Returns Status.ok when
   * `into` was updated, Status.noInput when nothing new came. Never allocates.
   */
  poll(into: Frame): StatusCode;
  /** Send the action. Must not block the loop; errors are counted, not thrown. */
  publish(action: Action): void;
  counters(): DriverCounters;
  stop(): Promise<void>;
}

/** Planning effort, stepped down after overruns and back up when there is slack. */
export interface Effort {
  /** candidate actions the planner may score this cycle */
  candidates: number;
  /** planning horizon in steps */
  horizon: number;
  /** HNSW ef for lookups */
  ef: number;
}

/** Per-stage timings of one step, filled in by the controller (ns). Preallocated and reused. */
export interface StepTimings {
  encodeNs: number;
  lookupNs: number;
  activationNs: number;
  planNs: number;
  /** which path served this step's lookups */
  lookupPath: LookupPathCode;
}

/**
 * What a brain offers the loop. `step` is anytime: it returns its best action before
 * `deadlineNs`. `maintain` does deferred work (storing the experience, eviction, snapshot
 * chunks) and must return by `untilNs`.
 */
export interface Controller {
  readonly observationSize: number;
  readonly actionSize: number;
  /**
   * Decide the action for `frame`, writing it into `actionOut`. Returns Status.ok, Status.deadline
   * (best-so-far written), or a rejection code (then `actionOut` is left untouched).
   */
  step(frame: Frame, deadlineNs: number, actionOut: Float32Array, timings: StepTimings): StatusCode;
  /**
   * Optional, for replay: units of anytime work the last step did before it returned (the
   * brain's planner: candidates scored). Where the step was cut off at its deadline, that amount
   * depended on the clock.
   */
  stepWork?(): number;
  /** Optional, for replay: the next step does exactly `units` of that work, whatever the clock says. */
  forceStepWork?(units: number): void;
  /** Deferred work in slack time; returns by `untilNs`. */
  maintain(untilNs: number): void;
  /**
   * Optional, for replay: units of the last maintain's work whose amount depended on the time
   * left (the brain's similarity index: inserts and writes applied as time allowed).
   */
  slackWork?(): number;
  /** Optional, for replay: the next maintain does exactly `units` of that work, whatever the clock says. */
  forceSlackWork?(units: number): void;
  /**
   * Optional, for replay: whether the last maintain ran with the similarity index's writes held
   * back (a snapshot export writing the HNSW index: removes hidden and queued). When an export
   * starts and ends depends on time.
   */
  slackWritesHeld?(): boolean;
  /** Optional, for replay: the next maintains run with the index's writes held back, or not. */
  forceSlackWritesHeld?(held: boolean): void;
  setEffort(effort: Effort): void;
  /** Exploration on (learning) or off (evaluation). */
  setExploration(enabled: boolean): void;
}

/**
 * The part of a logger that brain/ and drivers/ may use (pino's Logger satisfies it), so they log
 * without importing runtime's logging. Called from start-up and slack time only, never per cycle.
 */
export interface EventLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** Which similarity path served a cycle's lookups (numeric so records stay flat). */
export const LookupPath = { none: 0, linear: 1, hnsw: 2, tensor: 3 } as const;
export type LookupPathCode = (typeof LookupPath)[keyof typeof LookupPath];

/**
 * One cycle, as the loop saw it (copper-rs's "copperlist"): preallocated in a ring and reset in
 * place each cycle. It is the metrics source, the profile record and the flight-recorder entry.
 * All times are ns on the runtime Clock; stage durations are 0 for stages that did not run.
 */
export interface CycleRecord {
  cycle: number;
  /** t0 + cycle * period */
  dueNs: number;
  /** when the loop actually woke for this cycle */
  wokeNs: number;
  /** wokeNs - dueNs */
  latenessNs: number;
  /** ticks skipped before this one because the previous cycle ran late */
  skippedTicks: number;
  ingestNs: number;
  encodeNs: number;
  lookupNs: number;
  activationNs: number;
  planNs: number;
  safetyNs: number;
  publishNs: number;
  /** slack-time work after publishing (storing, eviction, snapshot chunks, flushes) */
  maintenanceNs: number;
  /** wake to end of publish: the time that counts against the budget */
  cycleNs: number;
  /** cycleNs exceeded the budget */
  overrun: boolean;
  /** status returned by Controller.step */
  stepStatus: StatusCode;
  lookupPath: LookupPathCode;
  /** index into the effort ladder (0 = full effort) */
  effortLevel: number;
  /**
   * Units of anytime work the step did (Controller.stepWork; 0 when no step ran or without it):
   * a replay makes a step cut off at its deadline stop at the same point.
   */
  stepWork: number;
  /**
   * Units of timing-dependent slack work the controller did after the previous cycle
   * (Controller.slackWork; 0 without it): a replay repeats exactly that much.
   */
  priorSlackWork: number;
  /**
   * 1 if a slack maintain after the previous cycle ran with the index's writes held back
   * (Controller.slackWritesHeld), else 0; NaN in recordings from before it was kept.
   */
  priorSlackWritesHeld: number;
  frameSeq: number;
  /** the published action was held or safe rather than fresh */
  actionStale: boolean;
  /** the safety filter substituted the safe action (stale input, e-stop) */
  safeAction: boolean;
}

export function createCycleRecord(): CycleRecord {
  return {
    cycle: -1,
    dueNs: 0,
    wokeNs: 0,
    latenessNs: 0,
    skippedTicks: 0,
    ingestNs: 0,
    encodeNs: 0,
    lookupNs: 0,
    activationNs: 0,
    planNs: 0,
    safetyNs: 0,
    publishNs: 0,
    maintenanceNs: 0,
    cycleNs: 0,
    overrun: false,
    stepStatus: Status.ok,
    lookupPath: LookupPath.none,
    effortLevel: 0,
    stepWork: 0,
    priorSlackWork: 0,
    priorSlackWritesHeld: 0,
    frameSeq: -1,
    actionStale: true,
    safeAction: false,
  };
}

/**
 * Something that watches every cycle (profiler, flight recorder, metrics). `cycleDone` runs on the
 * loop thread after publishing: it must copy what it needs into its own preallocated buffers and
 * return quickly, without allocating. `flush` runs in slack time with a bound.
 */
export interface CycleObserver {
  cycleDone(record: CycleRecord, frame: Frame, action: Action): void;
  flush(untilNs: number): void;
}
