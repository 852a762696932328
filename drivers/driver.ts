/**
 * Helpers every driver shares: assembling a multi-channel frame from messages that each carry
 * some channels (latest value per channel wins, per-channel staleness), rejection counting by
 * reason with a rate-limited log line, the optional "wake me on input" hook, and an event-driven
 * responder that answers each frame as it lands (lock-step simulation over a transport).
 *
 * Imports only the contracts (test/architecture.test.ts).
 */
import {
  type Action,
  type ChannelSpec,
  type Clock,
  type Controller,
  createAction,
  createFrame,
  type Driver,
  type DriverCounters,
  type EventLog,
  type Frame,
  LookupPath,
  Status,
  type StatusCode,
  type StepTimings,
} from '../runtime/contracts.js';

/** Where each channel lives in the observation vector. Computed once at start. */
export interface ChannelLayout {
  readonly channels: readonly ChannelSpec[];
  readonly offsets: Int32Array;
  readonly observationSize: number;
  /** channel index by name (-1 when unknown); a Map built once, read per message */
  indexOf(name: string): number;
}

export function channelLayout(channels: readonly ChannelSpec[]): ChannelLayout {
  if (channels.length === 0) throw new Error('at least one channel is required');
  const offsets = new Int32Array(channels.length);
  const byName = new Map<string, number>();
  let size = 0;
  for (let i = 0; i < channels.length; i++) {
    const channel = channels[i]!;
    if (!Number.isInteger(channel.size) || channel.size <= 0) {
      throw new Error(`channel '${channel.name}' has size ${channel.size}; sizes must be positive integers`);
    }
    if (byName.has(channel.name)) throw new Error(`channel '${channel.name}' is listed twice`);
    byName.set(channel.name, i);
    offsets[i] = size;
    size += channel.size;
  }
  return {
    channels,
    offsets,
    observationSize: size,
    indexOf: (name) => byName.get(name) ?? -1,
  };
}

/**
 * Latest-frame-wins assembly. A decoder writes one message's channels into `staging` (marking
 * them in `stagedChannels`), and calls `commit` only after the whole message validated, so a bad
 * message is never half-applied: `discard` (or simply not committing) drops the staged values.
 *
 * Between two polls, several messages may be committed; the slot keeps the newest value of each
 * channel, sums the rewards (the reward for the whole transition since the last frame the loop
 * saw), and keeps `episodeStart` and `estop` set if any message set them (a pulse is never lost).
 */
export class FrameAssembler {
  readonly layout: ChannelLayout;
  /** one message's channel values, written by the decoder before commit */
  readonly staging: Float32Array;
  /** 1 where the message being decoded carried the channel */
  readonly stagedChannels: Uint8Array;
  private readonly latest: Float32Array;
  /** receive time of each channel's latest value, ns on the runtime clock; -1 = never */
  private readonly channelReceivedNs: Float64Array;
  private readonly maxAgeNs: Float64Array;
  private pendingNew = false;
  private pendingSeq = -1;
  private pendingStampNs = 0;
  private pendingReceivedNs = 0;
  private pendingReward = 0;
  private pendingEpisodeStart = false;
  private pendingEstop = false;
  /** polls that returned Status.stale (some channel past its age limit or never received) */
  staleFrames = 0;

  constructor(
    channels: readonly ChannelSpec[],
    private readonly clock: Clock,
  ) {
    this.layout = channelLayout(channels);
    this.staging = new Float32Array(this.layout.observationSize);
    this.latest = new Float32Array(this.layout.observationSize);
    this.stagedChannels = new Uint8Array(channels.length);
    this.channelReceivedNs = new Float64Array(channels.length).fill(-1);
    this.maxAgeNs = new Float64Array(channels.length);
    for (let i = 0; i < channels.length; i++) this.maxAgeNs[i] = channels[i]!.maxAgeMs * 1e6;
  }

  /** Forget the staged message (call before decoding the next one). */
  discard(): void {
    this.stagedChannels.fill(0);
  }

  /** Apply the staged, fully validated message to the latest slot. */
  commit(seq: number, sourceStampNs: number, reward: number, episodeStart: boolean, estop: boolean): void {
    const now = this.clock.nowNs();
    const { offsets, channels } = this.layout;
    for (let c = 0; c < channels.length; c++) {
      if (this.stagedChannels[c] === 0) continue;
      const from = offsets[c]!;
      const to = from + channels[c]!.size;
      for (let i = from; i < to; i++) this.latest[i] = this.staging[i]!;
      this.channelReceivedNs[c] = now;
      this.stagedChannels[c] = 0;
    }
    this.pendingSeq = seq;
    this.pendingStampNs = sourceStampNs;
    this.pendingReceivedNs = now;
    this.pendingReward += reward;
    this.pendingEpisodeStart ||= episodeStart;
    this.pendingEstop ||= estop;
    this.pendingNew = true;
  }

  /** True when a committed message has not been polled yet. */
  hasNew(): boolean {
    return this.pendingNew;
  }

  /**
   * Copy the latest slot into `into`. Status.ok: new and every channel fresh; Status.stale: new,
   * but some channel is older than its maxAgeMs or never arrived (the frame is still copied, so the
   * loop can see what it has; it should act as on stale input); Status.noInput: nothing new.
   *
   * `receivedNs` is the receive time of the frame's oldest part among channels with an age limit
   * (a frame is only as fresh as its oldest sensor), or of the newest message when no channel has
   * one: the runtime's own staleness check on receivedNs then covers a channel that went quiet.
   */
  poll(into: Frame): typeof Status.ok | typeof Status.stale | typeof Status.noInput {
    if (!this.pendingNew) return Status.noInput;
    const observation = into.observation;
    for (let i = 0; i < observation.length; i++) observation[i] = this.latest[i]!;
    into.seq = this.pendingSeq;
    into.sourceStampNs = this.pendingStampNs;
    into.reward = this.pendingReward;
    into.episodeStart = this.pendingEpisodeStart;
    into.estop = this.pendingEstop;
    this.pendingNew = false;
    this.pendingReward = 0;
    this.pendingEpisodeStart = false;
    this.pendingEstop = false;
    const now = this.clock.nowNs();
    let oldest = this.pendingReceivedNs;
    let stale = false;
    for (let c = 0; c < this.channelReceivedNs.length; c++) {
      const received = this.channelReceivedNs[c]!;
      const maxAge = this.maxAgeNs[c]!;
      if (received < 0) {
        stale = true;
      } else if (maxAge > 0) {
        if (received < oldest) oldest = received;
        if (now - received > maxAge) stale = true;
      }
    }
    into.receivedNs = oldest;
    if (stale) {
      this.staleFrames++;
      return Status.stale;
    }
    return Status.ok;
  }

  /** Forget everything received (a new peer session starts from nothing). */
  reset(): void {
    this.channelReceivedNs.fill(-1);
    this.stagedChannels.fill(0);
    this.pendingNew = false;
    this.pendingReward = 0;
    this.pendingEpisodeStart = false;
    this.pendingEstop = false;
    this.pendingSeq = -1;
  }
}

/**
 * Counts rejected inputs by reason and logs at most one summary line per interval. `reject` is
 * cheap and allocation-free; the log line (which allocates) is written at most once per interval.
 */
export class RejectionCounter<Reason extends string> {
  private readonly counts: Float64Array;
  private readonly pendingSinceLog: Float64Array;
  private lastLogNs = Number.NEGATIVE_INFINITY;
  total = 0;

  constructor(
    private readonly reasons: readonly Reason[],
    private readonly log: EventLog,
    private readonly message: string,
    private readonly clock: Clock,
    private readonly intervalNs = 5e9,
  ) {
    this.counts = new Float64Array(reasons.length);
    this.pendingSinceLog = new Float64Array(reasons.length);
  }

  /** `reasonIndex` indexes the `reasons` list given to the constructor. */
  reject(reasonIndex: number): void {
    this.counts[reasonIndex]!++;
    this.pendingSinceLog[reasonIndex]!++;
    this.total++;
    const now = this.clock.nowNs();
    if (now - this.lastLogNs >= this.intervalNs) this.flush(now);
  }

  private flush(now: number): void {
    const summary: Record<string, number> = {};
    for (let i = 0; i < this.reasons.length; i++) {
      if (this.pendingSinceLog[i]! > 0) summary[this.reasons[i]!] = this.pendingSinceLog[i]!;
    }
    this.pendingSinceLog.fill(0);
    this.lastLogNs = now;
    this.log.warn({ rejected: summary, totalRejected: this.total }, this.message);
  }

  byReason(): Record<Reason, number> {
    const out = {} as Record<Reason, number>;
    for (let i = 0; i < this.reasons.length; i++) out[this.reasons[i]!] = this.counts[i]!;
    return out;
  }
}

/**
 * Drivers that can wake an event-driven loop when input arrives (lock-step simulation and the
 * transport benchmark answer each frame as soon as it lands instead of waiting for the next tick).
 * The listener runs outside the cycle, after the frame was committed to the latest slot.
 */
export interface InputSignal {
  setInputListener(listener: (() => void) | undefined): void;
}

export function hasInputSignal(driver: object): driver is InputSignal {
  return typeof (driver as Partial<InputSignal>).setInputListener === 'function';
}

/** Counters every driver reports, with rejections broken down by reason. */
export interface DetailedDriverCounters extends DriverCounters {
  rejectedByReason: Record<string, number>;
  /** polls that found new input but some channel past its staleness limit */
  staleFrames: number;
  /** actions the transport could not send at once and dropped (a slow or absent peer) */
  droppedActions?: number;
}

/** An EventLog that drops everything (tests, benchmarks). */
export const silentEventLog: EventLog = {
  info() {},
  warn() {},
  error() {},
};

export interface FrameResponderOptions {
  clock: Clock;
  /** the deadline handed to controller.step: this long after the frame was polled (ns) */
  stepBudgetNs: number;
  /** slack handed to controller.maintain after publishing (ns) */
  maintainBudgetNs: number;
}

/**
 * An event-driven loop for lock-step simulation over a transport (and the transport benchmark):
 * each frame is answered the moment it lands (poll, step, publish, then maintain), the same
 * sequence runtime/cli/sim/lockstep.ts runs in-process, so the brain sees identical frames. A
 * rejected step still publishes (the previous action, marked stale) so a lock-step peer never
 * waits forever. Preallocated frame and action; nothing allocated per frame here.
 */
export class FrameResponder {
  readonly frame: Frame;
  readonly action: Action;
  readonly timings: StepTimings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
  answered = 0;
  rejectedSteps = 0;
  lastStatus: StatusCode = Status.ok;
  private readonly onInput = () => this.answer();

  constructor(
    private readonly driver: Driver & InputSignal,
    private readonly controller: Controller,
    private readonly options: FrameResponderOptions,
  ) {
    this.frame = createFrame(controller.observationSize);
    this.action = createAction(controller.actionSize);
  }

  start(): void {
    this.driver.setInputListener(this.onInput);
  }

  stop(): void {
    this.driver.setInputListener(undefined);
  }

  /** Answers the newest frame, if a new one arrived. */
  answer(): void {
    const { driver, controller, frame, action, options } = this;
    const start = options.clock.nowNs();
    const polled = driver.poll(frame);
    if (polled === Status.noInput) return;
    const status = controller.step(frame, start + options.stepBudgetNs, action.values, this.timings);
    this.lastStatus = status;
    const fresh = polled === Status.ok && (status === Status.ok || status === Status.deadline);
    if (!fresh) this.rejectedSteps++;
    action.cycle = this.answered++;
    action.frameSeq = frame.seq;
    action.stale = !fresh;
    const end = options.clock.nowNs();
    action.publishedNs = end;
    driver.publish(action);
    controller.maintain(end + options.maintainBudgetNs);
  }
}
