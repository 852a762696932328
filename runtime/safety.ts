/**
 * The safety filter: the last word before an action is published. In order: an e-stop or stale
 * sensor input forces the safe action; otherwise the proposal is clamped to the configured limits
 * and slew-rate limited against the previously published action. A non-finite proposal is
 * replaced by the safe action (counted), never published.
 *
 * The safe action is published as is, without slew limiting: stopping now is the safe thing.
 * Allocation-free: limits are typed arrays sized once.
 */
import type { Frame } from './contracts.js';

/**
 * Slots of the Float64Array that carries SafetyFilter.apply's times (ns). Not arguments: a double
 * passed to a call V8 does not inline is boxed in a heap number, once per cycle.
 */
export const SafetyTime = { now: 0, previous: 1, slots: 2 } as const;

/** Why the filter replaced the proposal with the safe action (0 = it did not). */
export const SafeReason = { none: 0, estop: 1, stale: 2, noInput: 3, nonFinite: 4, forced: 5 } as const;
export type SafeReasonCode = (typeof SafeReason)[keyof typeof SafeReason];

export interface ActionLimits {
  readonly low: Float32Array;
  readonly high: Float32Array;
  readonly safe: Float32Array;
  /** per dimension, units per second; 0 = no limit */
  readonly maxSlewPerSecond: Float32Array;
}

export function actionLimits(config: {
  size: number;
  low: number[];
  high: number[];
  safe: number[];
  maxSlewPerSecond: number | number[];
}): ActionLimits {
  const slew = new Float32Array(config.size);
  for (let i = 0; i < config.size; i++) {
    slew[i] = typeof config.maxSlewPerSecond === 'number' ? config.maxSlewPerSecond : (config.maxSlewPerSecond[i] ?? 0);
  }
  return {
    low: Float32Array.from(config.low),
    high: Float32Array.from(config.high),
    safe: Float32Array.from(config.safe),
    maxSlewPerSecond: slew,
  };
}

export interface SafetyCounters {
  estopCycles: number;
  staleCycles: number;
  noInputCycles: number;
  nonFiniteProposals: number;
  clampedValues: number;
  slewLimitedValues: number;
}

export class SafetyFilter {
  readonly size: number;
  /** latched by a frame with estop set; cleared only by a newer frame without it */
  estopLatched = false;
  readonly counters: SafetyCounters = {
    estopCycles: 0,
    staleCycles: 0,
    noInputCycles: 0,
    nonFiniteProposals: 0,
    clampedValues: 0,
    slewLimitedValues: 0,
  };
  private lastEstopSeq = -1;

  constructor(
    readonly limits: ActionLimits,
    /** sensor input older than this forces the safe action */
    readonly staleAfterNs: number,
  ) {
    this.size = limits.safe.length;
  }

  /**
   * Writes the action to publish into `out`. `proposal` is what the brain (or the overrun policy)
   * offers; `previous` is the action published last, at times[SafetyTime.previous] (ignored when
   * < 0: no slew limit before the first publish); times[SafetyTime.now] is now. `forceSafe` comes
   * from the overrun policy. Returns the reason the safe action was used, or SafeReason.none.
   */
  apply(
    proposal: Float32Array,
    frame: Frame,
    times: Float64Array,
    previous: Float32Array,
    forceSafe: boolean,
    out: Float32Array,
  ): SafeReasonCode {
    const nowNs = times[SafetyTime.now]!;
    const previousNs = times[SafetyTime.previous]!;
    const counters = this.counters;
    // The e-stop latch follows the newest frame that arrived: set by estop, cleared by a later frame without it.
    if (frame.seq !== this.lastEstopSeq) {
      this.lastEstopSeq = frame.seq;
      this.estopLatched = frame.estop;
    }
    let reason: SafeReasonCode = SafeReason.none;
    if (this.estopLatched) reason = SafeReason.estop;
    else if (frame.seq < 0) reason = SafeReason.noInput;
    else if (nowNs - frame.receivedNs > this.staleAfterNs) reason = SafeReason.stale;
    else if (forceSafe) reason = SafeReason.forced;
    else {
      for (let i = 0; i < this.size; i++) {
        const value = proposal[i]!;
        if (value - value !== 0) {
          reason = SafeReason.nonFinite; // NaN or ±Infinity
          break;
        }
      }
    }
    const limits = this.limits;
    if (reason !== SafeReason.none) {
      if (reason === SafeReason.estop) counters.estopCycles++;
      else if (reason === SafeReason.stale) counters.staleCycles++;
      else if (reason === SafeReason.noInput) counters.noInputCycles++;
      else if (reason === SafeReason.nonFinite) counters.nonFiniteProposals++;
      out.set(limits.safe);
      return reason;
    }
    const dtSeconds = previousNs < 0 ? -1 : (nowNs - previousNs) / 1e9;
    for (let i = 0; i < this.size; i++) {
      let value = proposal[i]!;
      const low = limits.low[i]!;
      const high = limits.high[i]!;
      if (value < low) {
        value = low;
        counters.clampedValues++;
      } else if (value > high) {
        value = high;
        counters.clampedValues++;
      }
      const slew = limits.maxSlewPerSecond[i]!;
      if (slew > 0 && dtSeconds >= 0) {
        const maxStep = slew * dtSeconds;
        const before = previous[i]!;
        if (value > before + maxStep) {
          value = before + maxStep;
          counters.slewLimitedValues++;
        } else if (value < before - maxStep) {
          value = before - maxStep;
          counters.slewLimitedValues++;
        }
      }
      out[i] = value;
    }
    return SafeReason.none;
  }
}
