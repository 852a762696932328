/**
 * Deterministic replay (copper-rs's contract: record A equals replay of A). The recorded frames go
 * through the same Loop and brain under a scripted clock that reproduces every time the loop read
 * in the recorded run (wake, ingest, step end, safety end, publish), so staleness, overruns and the
 * effort ladder decide as they did; the published actions are then compared bit for bit.
 *
 * Work whose amount depended on wall-clock time is repeated from the record: a step cut off at its
 * deadline stops after the candidates it scored (stepWork), and slack maintenance does the index
 * work it did (priorSlackWork, priorSlackWritesHeld). What cannot be reproduced is named rather
 * than hidden: a recording from before those counts were kept, and a gap in the recording
 * (recording paused, buffer full), where the brain saw frames the replay cannot.
 */

import type { Action, Clock, Controller, Driver, DriverCounters, Frame, StepTimings } from './contracts.js';
import { Status } from './contracts.js';
import type { Loop } from './loop.js';
import type { RecordedCycle, RecordingContents } from './recorder-reader.js';

/**
 * A clock that plays back a script: reads return the queued values first, then the current time
 * (advancing `autoAdvanceNs` per read so code that waits on time inside a step still progresses).
 */
export class ReplayClock implements Clock {
  private timeNs = 0;
  private readonly script: number[] = [];
  constructor(readonly autoAdvanceNs = 1000) {}
  nowNs(): number {
    const scripted = this.script.shift();
    if (scripted !== undefined) {
      this.timeNs = scripted;
      return scripted;
    }
    const now = this.timeNs;
    this.timeNs += this.autoAdvanceNs;
    return now;
  }
  stampNs(out: Float64Array, index: number): void {
    out[index] = this.nowNs();
  }
  set(ns: number): void {
    this.timeNs = ns;
    this.script.length = 0;
  }
  /** The next reads return these values, in order. */
  queue(...values: number[]): void {
    this.script.push(...values);
  }
}

/** Feeds recorded frames to the loop and scripts the clock around each stage. */
class ReplayDriver implements Driver {
  readonly name = 'replay';
  current: RecordedCycle | undefined;
  private readonly stats: DriverCounters = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, reconnects: 0 };
  constructor(private readonly clock: ReplayClock) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  counters(): DriverCounters {
    return this.stats;
  }
  poll(into: Frame): typeof Status.ok | typeof Status.noInput {
    const recorded = this.current!;
    const record = recorded.record;
    if (record.stepStatus === Status.noInput) {
      // no step follows: the loop's next reads are the ingest end, then the safety end
      this.clock.queue(record.wokeNs + record.ingestNs, record.wokeNs + record.cycleNs - record.publishNs);
      return Status.noInput;
    }
    this.clock.queue(record.wokeNs + record.ingestNs);
    const frame = recorded.frame;
    into.seq = frame.seq;
    into.sourceStampNs = frame.sourceStampNs;
    into.receivedNs = frame.receivedNs;
    into.reward = frame.reward;
    into.episodeStart = frame.episodeStart;
    into.estop = frame.estop;
    into.observation.set(frame.observation);
    this.stats.framesReceived++;
    return Status.ok;
  }
  publish(_action: Action): void {
    const record = this.current!.record;
    this.stats.actionsPublished++;
    this.clock.queue(record.wokeNs + record.cycleNs);
  }
}

/** What the replay loop tells the scripted controller about the next slack run. */
interface SlackScript {
  /** units of time-dependent slack work the recorded run did here; NaN: not recorded (old recording) */
  units: number;
  /** 1 if the recorded run's index held its writes back here (a snapshot export), 0 if not; NaN: not recorded */
  writesHeld: number;
}

/**
 * Wraps the controller so the loop's read after `step` sees the recorded step end and safety end,
 * and its maintain repeats the recorded amount of time-dependent slack work, with the index's
 * writes held back where a snapshot export held them in the recorded run.
 */
function scriptedController(
  inner: Controller,
  clock: ReplayClock,
  driver: ReplayDriver,
  slack: SlackScript,
): Controller {
  return {
    observationSize: inner.observationSize,
    actionSize: inner.actionSize,
    step(frame: Frame, deadlineNs: number, actionOut: Float32Array, timings: StepTimings) {
      const record = driver.current!.record;
      const planned = record.stepStatus === Status.ok || record.stepStatus === Status.deadline;
      if (planned && !Number.isNaN(record.stepWork)) inner.forceStepWork?.(record.stepWork);
      const status = inner.step(frame, deadlineNs, actionOut, timings);
      const filtered = record.wokeNs + record.cycleNs - record.publishNs;
      clock.set(filtered - record.safetyNs);
      clock.queue(filtered - record.safetyNs, filtered);
      return status;
    },
    maintain(untilNs) {
      if (!Number.isNaN(slack.writesHeld)) inner.forceSlackWritesHeld?.(slack.writesHeld === 1);
      if (!Number.isNaN(slack.units)) inner.forceSlackWork?.(slack.units);
      inner.maintain(untilNs);
    },
    setEffort: (effort) => inner.setEffort(effort),
    setExploration: (enabled) => inner.setExploration(enabled),
  };
}

export interface ReplayParts {
  clock: Clock;
  driver: Driver;
  /** wrap the brain with this before handing it to the Loop */
  wrap(controller: Controller): Controller;
}

export interface Divergence {
  /** loop cycle (tick) index */
  readonly cycle: number;
  /** position in the recording (0 = first recorded cycle) */
  readonly index: number;
  readonly file: string;
  readonly offset: number;
  /** what differs: 'action.values[2]', 'action.stale', 'stepStatus', ... */
  readonly what: string;
  readonly recorded: string;
  readonly replayed: string;
  /** why this cycle may legitimately differ, when the recording says so */
  readonly note?: string;
}

export interface ReplayReport {
  readonly recordedCycles: number;
  readonly replayedCycles: number;
  readonly matchedCycles: number;
  readonly divergence?: Divergence;
  readonly warnings: readonly string[];
}

export interface ReplayOptions {
  /** 'maintain' slack per cycle, as the recorded run's config (ns) */
  maintenanceNs?: number;
  /** stop at the first divergence (default) or count them all */
  stopAtFirst?: boolean;
}

function bitsOf(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeFloatLE(value);
  return `${value} (0x${bytes.readUInt32LE(0).toString(16).padStart(8, '0')})`;
}

function compare(recorded: RecordedCycle, loop: Loop, index: number): Divergence | undefined {
  const action = loop.action;
  const record = loop.latest()!;
  const at = { cycle: recorded.record.cycle, index, file: recorded.file, offset: recorded.offset };
  const pathNames = ['none', 'linear', 'hnsw', 'tensor'];
  const note =
    recorded.record.stepStatus === Status.deadline && Number.isNaN(recorded.record.stepWork)
      ? 'the recorded step was cut off at its deadline, and the recording predates the count of candidates it scored'
      : recorded.record.lookupPath !== record.lookupPath
        ? `the similarity path differed (recorded ${pathNames[recorded.record.lookupPath]}, replayed ${pathNames[record.lookupPath]}): ` +
          'a registry switch at another cycle (a recording without the slack-work counts or held-write flags), or an index the snapshot does not hold'
        : undefined;
  const differs = (what: string, a: unknown, b: unknown): Divergence => ({
    ...at,
    what,
    recorded: String(a),
    replayed: String(b),
    ...(note ? { note } : {}),
  });
  if (record.cycle !== recorded.record.cycle) return differs('cycle', recorded.record.cycle, record.cycle);
  if (record.stepStatus !== recorded.record.stepStatus)
    return differs('stepStatus', recorded.record.stepStatus, record.stepStatus);
  const expected = recorded.action.values;
  const expectedBits = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const actualBits = new Uint32Array(action.values.buffer, action.values.byteOffset, action.values.length);
  for (let i = 0; i < expected.length; i++) {
    if (expectedBits[i] !== actualBits[i]) {
      return differs(`action.values[${i}]`, bitsOf(expected[i]!), bitsOf(action.values[i]!));
    }
  }
  if (action.stale !== recorded.action.stale) return differs('action.stale', recorded.action.stale, action.stale);
  if (action.frameSeq !== recorded.action.frameSeq)
    return differs('action.frameSeq', recorded.action.frameSeq, action.frameSeq);
  if (record.safeAction !== recorded.record.safeAction)
    return differs('safeAction', recorded.record.safeAction, record.safeAction);
  if (record.effortLevel !== recorded.record.effortLevel)
    return differs('effortLevel', recorded.record.effortLevel, record.effortLevel);
  return undefined;
}

/**
 * Replays `recording` through the loop that `build` makes from the replay clock and driver.
 * `build` must construct the same brain and loop settings as the recorded run (and restore the
 * same snapshot, if the run started from one), passing its controller through `parts.wrap`.
 */
export async function replayRecording(
  recording: RecordingContents,
  build: (parts: ReplayParts) => Promise<Loop>,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const clock = new ReplayClock();
  const driver = new ReplayDriver(clock);
  const slack: SlackScript = { units: Number.NaN, writesHeld: Number.NaN };
  const loop = await build({
    clock,
    driver,
    wrap: (controller) => scriptedController(controller, clock, driver, slack),
  });
  const warnings = [...recording.warnings];
  const cycles = recording.cycles;
  const first = cycles[0];
  if (first === undefined) return { recordedCycles: 0, replayedCycles: 0, matchedCycles: 0, warnings };
  if (first.record.cycle !== 0) {
    warnings.push(
      `the recording starts at cycle ${first.record.cycle}, not 0 (older segments rotated away?): ` +
        'the brain must be restored to its state at that cycle for the actions to match',
    );
  }
  const maintenanceNs = options.maintenanceNs ?? loop.settings.maintenanceNs;
  const stopAtFirst = options.stopAtFirst ?? true;
  loop.start(first.record.dueNs - first.record.cycle * loop.periodNs);
  let matched = 0;
  let replayed = 0;
  let divergence: Divergence | undefined;
  for (let i = 0; i < cycles.length; i++) {
    const recorded = cycles[i]!;
    if (i > 0) {
      const previous = cycles[i - 1]!.record.cycle;
      if (recorded.record.cycle !== previous + 1 + recorded.record.skippedTicks) {
        warnings.push(`replay stopped at a gap in the recording after cycle ${previous}`);
        break;
      }
    }
    driver.current = recorded;
    clock.set(recorded.record.wokeNs);
    loop.runCycle();
    replayed++;
    const difference = compare(recorded, loop, i);
    if (difference) {
      divergence ??= difference;
      if (stopAtFirst) break;
    } else {
      matched++;
    }
    const now = recorded.record.wokeNs + recorded.record.cycleNs;
    clock.set(now);
    // the next record says how much time-dependent work the recorded run did in this slack
    slack.units = cycles[i + 1]?.record.priorSlackWork ?? Number.NaN;
    slack.writesHeld = cycles[i + 1]?.record.priorSlackWritesHeld ?? Number.NaN;
    loop.runSlack(now + maintenanceNs);
  }
  return {
    recordedCycles: cycles.length,
    replayedCycles: replayed,
    matchedCycles: matched,
    ...(divergence ? { divergence } : {}),
    warnings,
  };
}
