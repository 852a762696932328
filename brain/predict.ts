/**
 * The kNN forward model: for a (state, action) it predicts the outcome (next-context delta), the
 * reward and the action value Q (from stored TD returns) as kernel-weighted averages over a small
 * neighbour set of stored experiences. Weights combine state distance (bandwidth adapted to the
 * lookup's own neighbour distances) and action distance (a fixed fraction of the action range), so
 * the same neighbours answer differently for different candidate actions. Confidence grows with
 * the total weight: many close neighbours that took a similar action mean a confident prediction.
 *
 * One instance per brain; results land in fields and preallocated arrays (nothing is returned as
 * a new object), so a planner can call it thousands of times per step without allocating.
 */
import type { ExperienceStore } from './memory/store.js';
import { squaredDistance } from './similarity/topk.js';

export class ForwardModel {
  /** predicted next-context delta (normalised units) of the last `predict` */
  readonly delta: Float32Array;
  /** kernel weight of each neighbour in the last call (index = position in the set) */
  readonly weights: Float32Array;
  /** squared state distance of each neighbour in the last call */
  readonly stateDistances: Float32Array;
  reward = 0;
  /** predicted action value: weighted stored return estimates */
  value = 0;
  /** total weight / (total weight + 1), in [0, 1) */
  confidence = 0;
  /** weighted mean of the neighbours' stored prediction errors (how surprising this region is) */
  surprise = 0;
  /** position in the set of the neighbour with the largest weight, -1 when none */
  strongest = -1;
  strongestWeight = 0;
  weightSum = 0;
  /** squared-distance scale of the state kernel; set per step from the lookup's distances */
  stateBandwidth = 1;
  /** stateValue's pull towards the smoothed max, in [0, 1] (planner.optimism) */
  optimism = 0;
  /** stateValue's result (a field: a double returned from a call V8 does not inline is boxed) */
  stateValueOut = 0;

  private readonly dim: number;
  private readonly actionDim: number;
  private readonly invActionRange: number;
  /** 1 / (2 * width^2 * actionDim): mean squared action difference in range units over the kernel width */
  private readonly actionScale: number;

  constructor(
    private readonly store: ExperienceStore,
    maxSet: number,
    actionRange: number,
    actionKernel: number,
  ) {
    this.dim = store.contextDim;
    this.actionDim = store.actionDim;
    this.delta = new Float32Array(this.dim);
    this.weights = new Float32Array(maxSet);
    this.stateDistances = new Float32Array(maxSet);
    this.invActionRange = 1 / actionRange;
    this.actionScale = 1 / (2 * actionKernel * actionKernel * this.actionDim);
  }

  /** Sets the state bandwidth from the squared distances of a lookup's neighbours (times `scale`). */
  adaptBandwidth(distances: Float32Array, count: number, scale: number): void {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += distances[i]!;
    const mean = count > 0 ? sum / count : 1;
    this.stateBandwidth = scale * mean + 1e-6;
  }

  /**
   * Predicts for state `x` and the action at `actions[actionOffset..]` from the experiences in
   * `set[0..count)`. When `knownDistances` is given it holds the squared state distances (from the
   * lookup) and the distance pass is skipped. Writes delta, reward, value, confidence, surprise.
   */
  predict(
    x: Float32Array,
    set: Int32Array,
    count: number,
    knownDistances: Float32Array | null,
    actions: Float32Array,
    actionOffset: number,
  ): void {
    const store = this.store;
    const dim = this.dim;
    const actionDim = this.actionDim;
    const delta = this.delta;
    const invStateBandwidth = 1 / this.stateBandwidth;
    const invRange = this.invActionRange;
    // Pass 1: kernel exponents. Weights are taken relative to the best neighbour (exp(-(e - eMin)))
    // so a far-away set still gives the nearest neighbours' answer; confidence uses the absolute
    // exponent, so far away means unconfident.
    let exponentMin = Number.POSITIVE_INFINITY;
    for (let n = 0; n < count; n++) {
      const slot = set[n]!;
      const stateDistance =
        knownDistances !== null ? knownDistances[n]! : squaredDistance(x, 0, store.context, slot * dim, dim);
      this.stateDistances[n] = stateDistance;
      let actionDistance = 0;
      const actionBase = slot * actionDim;
      for (let i = 0; i < actionDim; i++) {
        const d = (actions[actionOffset + i]! - store.action[actionBase + i]!) * invRange;
        actionDistance += d * d;
      }
      const exponent = stateDistance * invStateBandwidth + actionDistance * this.actionScale;
      this.weights[n] = exponent;
      if (exponent < exponentMin) exponentMin = exponent;
    }
    for (let i = 0; i < dim; i++) delta[i] = 0;
    let weightSum = 0;
    let reward = 0;
    let value = 0;
    let surprise = 0;
    let strongest = -1;
    let strongestWeight = 0;
    for (let n = 0; n < count; n++) {
      const slot = set[n]!;
      const w = Math.exp(exponentMin - this.weights[n]!);
      this.weights[n] = w;
      if (w > strongestWeight) {
        strongestWeight = w;
        strongest = n;
      }
      weightSum += w;
      reward += w * store.reward[slot]!;
      value += w * store.returnEstimate[slot]!;
      surprise += w * store.predictionError[slot]!;
      const outcomeBase = slot * dim;
      for (let i = 0; i < dim; i++) delta[i] = delta[i]! + w * store.outcome[outcomeBase + i]!;
    }
    this.weightSum = weightSum;
    this.strongest = strongest;
    this.strongestWeight = strongestWeight;
    if (count === 0) {
      this.reward = 0;
      this.value = 0;
      this.surprise = 0;
      this.confidence = 0;
      return;
    }
    const inv = 1 / weightSum;
    for (let i = 0; i < dim; i++) delta[i] = delta[i]! * inv;
    this.reward = reward * inv;
    this.value = value * inv;
    this.surprise = surprise * inv;
    // Absolute evidence: sum of exp(-exponent) = exp(-exponentMin) * weightSum.
    const evidence = Math.exp(-exponentMin) * weightSum;
    this.confidence = evidence / (evidence + 1);
  }

  /**
   * Only confidence and surprise for the action at actions[offset..], from known state distances:
   * the exploration bonus without the cost of predicting the outcome.
   */
  evidence(set: Int32Array, count: number, distances: Float32Array, actions: Float32Array, offset: number): void {
    const store = this.store;
    const actionDim = this.actionDim;
    const invStateBandwidth = 1 / this.stateBandwidth;
    const invRange = this.invActionRange;
    let evidence = 0;
    let surprise = 0;
    for (let n = 0; n < count; n++) {
      const slot = set[n]!;
      let actionDistance = 0;
      const actionBase = slot * actionDim;
      for (let i = 0; i < actionDim; i++) {
        const d = (actions[offset + i]! - store.action[actionBase + i]!) * invRange;
        actionDistance += d * d;
      }
      const w = Math.exp(-distances[n]! * invStateBandwidth - actionDistance * this.actionScale);
      evidence += w;
      surprise += w * store.predictionError[slot]!;
    }
    this.confidence = evidence / (evidence + 1);
    this.surprise = evidence > 0 ? surprise / evidence : 0;
  }

  /**
   * State value V(x) from neighbours whatever action they took: the kernel-weighted mean of their
   * returns, moved towards a smoothed max (max_j [w_j Q_j + (1 - w_j) Qmean], w relative to the
   * closest) by `optimism` in [0, 1] (0: the behaviour's value, 1: greedy), into `stateValueOut`; 0 for an
   * empty set.
   */
  stateValue(x: Float32Array, set: Int32Array, count: number, knownDistances: Float32Array | null): void {
    const store = this.store;
    const dim = this.dim;
    const invStateBandwidth = 1 / this.stateBandwidth;
    const optimism = this.optimism;
    if (count === 0) {
      this.stateValueOut = 0;
      return;
    }
    let distanceMin = Number.POSITIVE_INFINITY;
    for (let n = 0; n < count; n++) {
      const d = knownDistances !== null ? knownDistances[n]! : squaredDistance(x, 0, store.context, set[n]! * dim, dim);
      this.weights[n] = d;
      if (d < distanceMin) distanceMin = d;
    }
    let weightSum = 0;
    let weighted = 0;
    for (let n = 0; n < count; n++) {
      // relative to the closest neighbour, whose weight is 1
      const w = Math.exp((distanceMin - this.weights[n]!) * invStateBandwidth);
      this.weights[n] = w;
      weightSum += w;
      weighted += w * store.returnEstimate[set[n]!]!;
    }
    const mean = weighted / weightSum;
    if (optimism === 0) {
      this.stateValueOut = mean;
      return;
    }
    let best = mean;
    for (let n = 0; n < count; n++) {
      const w = this.weights[n]!;
      const candidate = w * store.returnEstimate[set[n]!]! + (1 - w) * mean;
      if (candidate > best) best = candidate;
    }
    this.stateValueOut = mean + optimism * (best - mean);
  }
}
