/**
 * The sampling planner (MPC style, anytime). Each step it scores candidate action sequences of
 * `horizon` steps and keeps the best; it reads the injected clock between candidates and returns
 * the best so far when the deadline comes (Status.deadline).
 *
 * Candidates, in order (the most promising first, so a cut-short step still has a good answer):
 *  1. the previous best plan shifted by one step (warm start);
 *  2. what was done before here: the recorded action chains (successor links) of the looked-up
 *     neighbours, then of random active-set experiences;
 *  3. gaussian perturbations of the previous plan;
 *  4. random sequences: half hold one uniform action, half draw each step uniformly.
 *
 * A sequence is rolled out through the kNN forward model without further index lookups: step 0
 * uses the lookup's neighbours; step h+1 uses the successors of step h's strongest neighbours plus
 * the links of the strongest successor (experiences similar to where the model predicts we land).
 * Score = sum of discounted predicted rewards + discounted Q at the last step (stored TD returns as
 * the terminal value), plus, while exploring, a bonus for novelty (low confidence) and surprise.
 */
import type { Clock, StatusCode } from '../runtime/contracts.js';
import { Status } from '../runtime/contracts.js';
import type { ActiveSet } from './activation.js';
import type { Beacons } from './beacons.js';
import type { LocalLinearModel } from './local-model.js';
import { type ExperienceStore, NO_SLOT } from './memory/store.js';
import type { NearestRows } from './native-kernels.js';
import type { ForwardModel } from './predict.js';
import type { Rng } from './rng.js';
import type { SimilarityIndex } from './similarity/backend.js';

export interface PlannerSettings {
  candidates: number;
  horizon: number;
  discount: number;
  modelK: number;
  actionMin: number;
  actionMax: number;
  /** perturbation std-dev as a fraction of the action range */
  perturbation: number;
  noveltyWeight: number;
  errorWeight: number;
  /** executed-action noise std-dev at zero / full confidence, fractions of the action range */
  noise: number;
  minNoise: number;
  /** correlation of the exploration noise from one step to the next, in [0, 1) */
  noiseCorrelation: number;
  /** 'local-linear': rollouts through a linear fit around the current context (default); 'kernel': kernel averages along successor links */
  model: 'local-linear' | 'kernel';
  /** 'best': the best candidate; 'mppi': score-weighted average of all candidates */
  selection: 'best' | 'mppi';
  /** MPPI temperature as a fraction of the spread of scores */
  temperature: number;
  /**
   * local-linear rollouts: rewards from the local fit ('local'), or from the experiences nearest
   * each predicted state, found by an index search ('lookup') or by a walk along successor and
   * similarity links from the previous step's nearest ('walk', cost independent of memory size)
   */
  rolloutReward?: 'local' | 'lookup' | 'walk';
  /** weight of the looked-up end value (rolloutReward 'lookup') */
  lookupValueWeight?: number;
  /**
   * while exploring, bonus per rollout step for predicted states far from every stored experience
   * (rolloutReward 'lookup' or 'walk'): directed exploration toward what has not been seen
   */
  stateNoveltyWeight?: number;
  /** distance (normalised units) at which a predicted state counts as novel */
  noveltyRadius?: number;
  /**
   * how rollouts ('lookup' / 'walk') step the state after the first step: 'fit' = the local linear
   * fit around the current context throughout; 'neighbours' = the kernel mean outcome of the
   * experiences nearest the predicted state, corrected for the action by the fit's action
   * sensitivity (follows nonlinear dynamics, such as a swinging pendulum, past the fit's reach)
   */
  rolloutDynamics?: 'fit' | 'neighbours';
  /**
   * while exploring, weight of the intrinsic return (the brain's count-based bonus, backed up like
   * the extrinsic one) in a 'lookup' / 'walk' rollout's end value; 0 or no array: extrinsic only
   */
  intrinsicWeight?: number;
  /**
   * the intrinsic return of a never-visited state (bonus / (1 - discount)): an end state
   * `noveltyRadius` or more from every experience the walk finds is valued towards it
   */
  intrinsicMax?: number;
  /** the beacons' value (planner.beacons) as the discounted mean over a rollout's predicted states, not at its end */
  beaconPath?: boolean;
}

/** Candidates scored between clock reads (one candidate costs ~5-15 µs here). */
const CLOCK_EVERY = 4;

/** Dimensions summed between checks of a walk distance against the farthest kept one. */
const PARTIAL_SUM_CHECK = 8;

/** Planner.forcedScored when the deadline, not a recorded count, ends the search. */
const NOT_FORCED = -1;

/** A neighbour counts as "strong" (its successor joins the next step's set) above this share of the strongest. */
const STRONG_SHARE = 0.25;

export class Planner {
  /** the best plan of the last step (warm start for the next), horizonMax * actionDim */
  readonly plan: Float32Array;
  hasPlan = false;
  /**
   * The deadline for the next `choose`, set as a field rather than passed (a double passed to a
   * call V8 does not inline is boxed on the heap: one allocation per step).
   */
  deadlineNs = Number.POSITIVE_INFINITY;
  /** candidates scored in the last step */
  scored = 0;
  /**
   * Replay: the next `choose` scores exactly this many candidates instead of reading the clock
   * (a recorded step cut off at its deadline stops where it stopped); NOT_FORCED otherwise.
   */
  forcedScored = NOT_FORCED;
  bestScore = 0;
  /** one draw on its way from the Rng (Rng.normalInto, uniformInto) */
  private readonly draw = new Float64Array(1);
  /**
   * Clock readings (Clock.stampNs: a returned double is boxed where not inlined): [0] now, [1] when
   * this step's candidates started (noTimeForNextGroup's cost estimate)
   */
  private readonly now = new Float64Array(2);
  /** forward-model confidence of the chosen first action */
  bestConfidence = 0;

  private candidates: number;
  private horizon: number;
  private readonly actionDim: number;
  private readonly dim: number;
  private readonly range: number;
  private readonly perturbationSigma: number;
  private readonly sequence: Float32Array;
  private readonly bestSequence: Float32Array;
  /** every scored candidate's score and sequence this step (for MPPI averaging) */
  private readonly scores: Float64Array;
  /** the correlated exploration noise per action dimension (unit variance) */
  private readonly noiseState: Float64Array;
  private readonly allSequences: Float32Array;
  private readonly x: Float32Array;
  /** the context the current step's rollouts start from */
  private readonly rolloutStart: Float32Array;
  /** search results at a predicted state (rolloutReward 'lookup'), or the walk's current set ('walk') */
  private lookupSlots: Int32Array;
  private lookupDistances: Float32Array;
  /** the walk's next set, swapped with lookupSlots / lookupDistances each rollout step */
  private walkSlots: Int32Array;
  private walkDistances: Float32Array;
  /** the current step's context lookup, where every walk starts */
  private startSlots: Int32Array | null = null;
  private startDistances: Float32Array | null = null;
  private startCount = 0;
  private readonly setA: Int32Array;
  private readonly setB: Int32Array;
  /** epoch stamps per slot: dedupes a rollout step's neighbour set without clearing anything */
  private readonly visited: Uint32Array;
  private epoch = 0;
  /**
   * The first walk step's candidate experiences, gathered once per `choose`: every candidate action
   * walks from the same start set, so only the distances differ. Slots in the order the walk would
   * meet them (deduped), and their contexts side by side (one cache-friendly block instead of
   * scattered rows of the store read again for every candidate).
   */
  private readonly firstWalkSlots: Int32Array;
  private readonly firstWalkContexts: Float32Array;
  private firstWalkCount = 0;
  /** the squared distance keepNearest inserts at */
  private walkDistance = 0;
  /** confidence and surprise at step 0 of the last rollout */
  private firstConfidence = 0;
  private firstSurprise = 0;
  /** d(outcome)/d(action) of the current local fit, dim x actionDim (rolloutDynamics 'neighbours') */
  private readonly actionSensitivity: Float64Array;
  private readonly probeActions: Float32Array;
  private readonly baseDelta: Float64Array;
  /** the last kernelScale: nearest squared distance and 1 / mean squared distance */
  private kernelDistanceMin = 0;
  private kernelInverseBandwidth = 0;
  /** whether the current choose() explores (adds novelty bonuses) */
  private exploring = false;
  /** result of the last rollout (a field, not a return value: a returned double is boxed on the heap) */
  private rolloutScore = 0.5;

  constructor(
    private readonly store: ExperienceStore,
    private readonly model: ForwardModel,
    private readonly local: LocalLinearModel,
    private readonly active: ActiveSet,
    private readonly rng: Rng,
    private readonly clock: Clock,
    private readonly settings: PlannerSettings,
    /** the index searched at predicted states (rolloutReward 'lookup'), else null */
    private readonly index: SimilarityIndex | null = null,
    /** per-slot intrinsic returns (exploration.intrinsicWeight > 0), else null */
    private readonly intrinsicValue: Float32Array | null = null,
    /** the best stored states, whose value reaches past their neighbourhood (planner.beacons > 0), else null */
    private readonly beacons: Beacons | null = null,
    /** the kernel addon's walkFirst (the same result), else null: walkFirst's JavaScript */
    private readonly nearestRows: NearestRows | null = null,
  ) {
    this.actionDim = store.actionDim;
    this.dim = store.contextDim;
    this.range = settings.actionMax - settings.actionMin;
    this.perturbationSigma = settings.perturbation * this.range;
    this.candidates = settings.candidates;
    this.horizon = settings.horizon;
    this.plan = new Float32Array(settings.horizon * this.actionDim);
    this.sequence = new Float32Array(settings.horizon * this.actionDim);
    this.bestSequence = new Float32Array(settings.horizon * this.actionDim);
    this.scores = new Float64Array(settings.candidates);
    this.noiseState = new Float64Array(this.actionDim);
    this.allSequences = new Float32Array(settings.candidates * settings.horizon * this.actionDim);
    this.x = new Float32Array(this.dim);
    this.rolloutStart = new Float32Array(this.dim);
    this.lookupSlots = new Int32Array(settings.modelK);
    this.lookupDistances = new Float32Array(settings.modelK);
    this.actionSensitivity = new Float64Array(this.dim * this.actionDim);
    this.probeActions = new Float32Array(this.actionDim);
    this.baseDelta = new Float64Array(this.dim);
    this.walkSlots = new Int32Array(settings.modelK);
    this.walkDistances = new Float32Array(settings.modelK);
    this.setA = new Int32Array(settings.modelK);
    this.setB = new Int32Array(settings.modelK);
    this.visited = new Uint32Array(store.capacity);
    // each start experience, its successor and the successor's links
    const firstWalkCapacity = settings.modelK * (2 + store.linksPerExperience);
    this.firstWalkSlots = new Int32Array(firstWalkCapacity);
    this.firstWalkContexts = new Float32Array(firstWalkCapacity * this.dim);
  }

  /** Effort from the loop's ladder, clamped to the preallocated maxima. */
  setEffort(candidates: number, horizon: number): void {
    this.candidates = Math.max(1, Math.min(this.settings.candidates, Math.floor(candidates)));
    this.horizon = Math.max(1, Math.min(this.settings.horizon, Math.floor(horizon)));
  }

  /** Forget the warm start (new episode). */
  reset(): void {
    this.hasPlan = false;
  }

  /**
   * Chooses the action for context `ctx`, whose lookup found `lookupCount` neighbours. Writes it to
   * `actionOut`. Returns Status.ok, or Status.deadline when the clock passed `this.deadlineNs` before
   * every candidate was scored (the best so far is written).
   */
  choose(
    ctx: Float32Array,
    lookupSlots: Int32Array,
    lookupDistances: Float32Array,
    lookupCount: number,
    exploring: boolean,
    actionOut: Float32Array,
  ): StatusCode {
    const candidates = this.candidates;
    const neighbourChains = 1 + (candidates >> 2);
    const activeChains = neighbourChains + (candidates >> 3);
    const perturbed = activeChains + (candidates >> 2);
    let status: StatusCode = Status.ok;
    let bestScore = Number.NEGATIVE_INFINITY;
    let bestConfidence = 0;
    let scored = 0;
    const linear = this.settings.model === 'local-linear';
    if (linear) {
      for (let i = 0; i < this.dim; i++) this.rolloutStart[i] = ctx[i]!;
      this.startSlots = lookupSlots;
      this.startDistances = lookupDistances;
      this.startCount = lookupCount;
      this.local.bandwidth = this.model.stateBandwidth;
      this.local.fit(ctx, lookupSlots, lookupDistances, lookupCount);
      if (this.settings.rolloutDynamics === 'neighbours') this.measureActionSensitivity(ctx);
      if (this.settings.rolloutReward === 'walk') this.gatherFirstWalk();
    }
    const forced = this.forcedScored;
    this.forcedScored = NOT_FORCED;
    this.exploring = exploring;
    if (forced === NOT_FORCED) this.clock.stampNs(this.now, 1);
    for (let c = 0; c < candidates; c++) {
      // Anytime: never start a group of candidates that would end past the deadline; the first
      // group always runs. The clock is read every CLOCK_EVERY candidates, not before each: reads
      // cost time, and the group's cost is what the check estimates.
      if (c > 0 && (forced === NOT_FORCED ? c % CLOCK_EVERY === 0 && this.noTimeForNextGroup(c) : c >= forced)) {
        status = Status.deadline;
        break;
      }
      if (c === 0) {
        if (this.hasPlan) this.fillShifted(false);
        else this.fillRandom(false);
      } else if (c < neighbourChains) {
        if (c - 1 < lookupCount) this.fillChain(lookupSlots[c - 1]!);
        else this.fillFromActiveSet();
      } else if (c < activeChains) {
        this.fillFromActiveSet();
      } else if (c < perturbed) {
        if (this.hasPlan) this.fillShifted(true);
        else this.fillRandom((c & 1) === 0);
      } else {
        this.fillRandom((c & 1) === 0);
      }
      if (linear) {
        this.rolloutLinear();
        if (exploring) this.firstEvidence(lookupSlots, lookupDistances, lookupCount);
      } else {
        this.rollout(ctx, lookupSlots, lookupDistances, lookupCount);
      }
      let score = this.rolloutScore;
      if (exploring) {
        const surprise = this.firstSurprise < 1 ? this.firstSurprise : 1;
        score += this.settings.noveltyWeight * (1 - this.firstConfidence) + this.settings.errorWeight * surprise;
      }
      this.scores[c] = score;
      this.allSequences.set(this.sequence, c * this.sequence.length);
      scored++;
      if (score > bestScore) {
        bestScore = score;
        bestConfidence = this.firstConfidence;
        this.bestSequence.set(this.sequence);
      }
    }
    this.scored = scored;
    this.bestScore = bestScore;
    if (this.settings.selection === 'mppi' && scored > 1) this.averageSequences(scored);
    this.bestConfidence = bestConfidence;
    this.plan.set(this.bestSequence);
    this.hasPlan = true;
    const actionDim = this.actionDim;
    const noise = exploring ? (this.settings.noise * (1 - bestConfidence) + this.settings.minNoise) * this.range : 0;
    // Temporally correlated (Ornstein-Uhlenbeck-like) noise: white noise at 50-100 Hz averages out
    // before it moves anything; correlated pushes pump energy (a pendulum needs that to swing up).
    const rho = this.settings.noiseCorrelation;
    const fresh = Math.sqrt(1 - rho * rho);
    for (let i = 0; i < actionDim; i++) {
      let a = this.bestSequence[i]!;
      if (noise > 0) {
        this.rng.normalInto(this.draw, 0);
        const n = rho * this.noiseState[i]! + fresh * this.draw[0]!;
        this.noiseState[i] = n;
        a += noise * n;
      }
      actionOut[i] = a;
      this.clampAt(actionOut, i);
    }
    return status;
  }

  /**
   * Whether the next CLOCK_EVERY candidates, at the mean cost of the `scored` so far, would end past
   * this.deadlineNs: the step then returns before its deadline instead of finding it passed one
   * group late (which the loop counts as a deadline miss and an overrun). Nothing double crosses a
   * call here: bench brain's allocation sites named `clock.nowNs()` in choose (~110 B per step) in
   * runs where V8 did not inline it, and a deadline argument would be boxed the same way.
   */
  private noTimeForNextGroup(scored: number): boolean {
    const now = this.now;
    this.clock.stampNs(now, 0);
    const groupNs = ((now[0]! - now[1]!) * CLOCK_EVERY) / scored;
    return now[0]! + groupNs >= this.deadlineNs;
  }

  /**
   * MPPI-style selection: the plan becomes the average of all scored sequences weighted by
   * exp((score - best) / T), T a fraction of the score spread. Averaging keeps actions off the
   * bounds when the model's preference is weak (a linear model would always pick an extreme).
   */
  private averageSequences(scored: number): void {
    // the best score from the field: a double argument to a call V8 does not inline is boxed
    const bestScore = this.bestScore;
    let worst = bestScore;
    for (let c = 0; c < scored; c++) if (this.scores[c]! < worst) worst = this.scores[c]!;
    const temperature = this.settings.temperature * (bestScore - worst) + 1e-9;
    const length = this.sequence.length;
    const out = this.bestSequence;
    for (let i = 0; i < length; i++) out[i] = 0;
    let total = 0;
    for (let c = 0; c < scored; c++) {
      const w = Math.exp((this.scores[c]! - bestScore) / temperature);
      total += w;
      const base = c * length;
      for (let i = 0; i < length; i++) out[i] = out[i]! + w * this.allSequences[base + i]!;
    }
    const inv = 1 / total;
    for (let i = 0; i < length; i++) out[i] = out[i]! * inv;
  }

  /** Rollout through the local linear fit: discounted predicted rewards + discounted value at the end. */
  private rolloutLinear(): void {
    const index = this.index;
    const mode = this.settings.rolloutReward;
    const walk = mode === 'walk';
    const nothingToLookUp = walk ? this.startCount === 0 : index === null || index.size() === 0;
    if (mode === 'local' || nothingToLookUp) {
      this.local.rollout(this.sequence, this.horizon, this.settings.discount);
      this.rolloutScore = this.local.rolloutScore;
      return;
    }
    // The state stepped explicitly through the local dynamics; each step's reward (and the end
    // value) from the experiences nearest the predicted state: the local fit's reward is flat
    // where all neighbours share one reward and cannot tell what a plan that leaves loses.
    const local = this.local;
    const x = this.x;
    const dim = this.dim;
    const discount = this.settings.discount;
    const store = this.store;
    for (let i = 0; i < dim; i++) x[i] = this.rolloutStart[i]!;
    let score = 0;
    let weight = 1;
    let value = 0;
    let found = 0;
    const noveltyWeight = this.exploring ? (this.settings.stateNoveltyWeight ?? 0) : 0;
    const radius = this.settings.noveltyRadius ?? 0.2;
    const intrinsicValue = this.intrinsicValue;
    const intrinsicWeight = this.exploring && intrinsicValue !== null ? (this.settings.intrinsicWeight ?? 0) : 0;
    let intrinsic = 0;
    const inverseRadiusSquared = 1 / (radius * radius);
    let novelty = 0;
    if (walk) {
      found = Math.min(this.startCount, this.lookupSlots.length);
      for (let n = 0; n < found; n++) {
        this.lookupSlots[n] = this.startSlots![n]!;
        this.lookupDistances[n] = this.startDistances![n]!;
      }
    }
    const neighbourDynamics = this.settings.rolloutDynamics === 'neighbours';
    const beacons = this.beacons !== null && this.beacons.count > 0 ? this.beacons : null;
    const beaconPath = beacons !== null && this.settings.beaconPath === true;
    let beaconSum = 0;
    let beaconWeight = 0;
    for (let h = 0; h < this.horizon; h++) {
      if (h > 0 && neighbourDynamics && found > 0) {
        this.neighbourStep(found, h * this.actionDim);
      } else {
        // every rollout starts at the fit's centre
        if (h === 0) local.predictAtCentre(this.sequence, 0);
        else local.predict(x, this.sequence, h * this.actionDim);
        const delta = local.delta;
        for (let i = 0; i < dim; i++) x[i] = x[i]! + delta[i]!;
      }
      if (walk) found = h === 0 ? this.walkFirst() : this.walkFrom(found);
      else found = index!.search(x, this.lookupSlots.length, this.lookupSlots, this.lookupDistances);
      const slots = this.lookupSlots;
      const distances = this.lookupDistances;
      this.kernelScale(distances, found);
      const distanceMin = this.kernelDistanceMin;
      const inverseBandwidth = this.kernelInverseBandwidth;
      let weightSum = 0;
      let reward = 0;
      value = 0;
      intrinsic = 0;
      const last = h === this.horizon - 1;
      for (let n = 0; n < found; n++) {
        const w = Math.exp((distanceMin - distances[n]!) * inverseBandwidth);
        const slot = slots[n]!;
        weightSum += w;
        reward += w * store.reward[slot]!;
        value += w * store.returnEstimate[slot]!;
        if (intrinsicWeight > 0 && last) intrinsic += w * intrinsicValue![slot]!;
      }
      if (weightSum > 0) {
        reward /= weightSum;
        value /= weightSum;
        intrinsic /= weightSum;
      }
      score += weight * reward;
      if (beaconPath) {
        beacons!.measure(x);
        beaconSum += weight * beacons!.value;
        beaconWeight += weight;
      }
      if (noveltyWeight > 0) novelty += weight * (1 - Math.exp(-distanceMin * inverseRadiusSquared));
      if (intrinsicWeight > 0 && last) {
        // optimism for the unseen: past the stored experiences, towards a never-visited state's value
        const unseen = found > 0 ? 1 - Math.exp(-distanceMin * inverseRadiusSquared) : 1;
        intrinsic += unseen * ((this.settings.intrinsicMax ?? 0) - intrinsic);
      }
      weight *= discount;
    }
    score += noveltyWeight * novelty;
    if (beacons !== null) {
      // where the looked-up returns are flat, the value that falls off with distance from the best
      // states: at the end state, or (beaconPath) its discounted mean over the predicted states
      if (beaconPath) {
        const along = beaconSum / beaconWeight;
        if (along > value) value = along;
      } else {
        beacons.measure(x);
        if (beacons.value > value) value = beacons.value;
      }
    }
    // value: Q of the experiences at the last predicted state, which already holds their reward
    this.rolloutScore =
      score + (this.settings.lookupValueWeight ?? 1) * weight * value + intrinsicWeight * weight * intrinsic;
  }

  /**
   * The kernel over `count` squared distances: weights exp((min - d) * inverseBandwidth), the
   * bandwidth their mean. Results in fields (a returned pair would allocate).
   */
  private kernelScale(distances: Float32Array, count: number): void {
    let distanceMin = Number.POSITIVE_INFINITY;
    let distanceSum = 0;
    for (let n = 0; n < count; n++) {
      const d = distances[n]!;
      if (d < distanceMin) distanceMin = d;
      distanceSum += d;
    }
    this.kernelDistanceMin = distanceMin;
    this.kernelInverseBandwidth = count > 0 ? count / (distanceSum + 1e-6) : 0;
  }

  /** The local fit's outcome change per unit of each action dimension at `ctx` (finite differences of a linear model: exact). */
  private measureActionSensitivity(ctx: Float32Array): void {
    const local = this.local;
    const dim = this.dim;
    const actionDim = this.actionDim;
    const probe = this.probeActions;
    probe.fill(0);
    local.predict(ctx, probe, 0);
    for (let i = 0; i < dim; i++) this.baseDelta[i] = local.delta[i]!;
    for (let a = 0; a < actionDim; a++) {
      probe.fill(0);
      probe[a] = 1;
      local.predict(ctx, probe, 0);
      for (let i = 0; i < dim; i++) this.actionSensitivity[i * actionDim + a] = local.delta[i]! - this.baseDelta[i]!;
    }
  }

  /**
   * Steps `x` by the kernel mean outcome of the `count` experiences in lookupSlots (nearest x),
   * plus the action sensitivity times (the sequence's action at `offset` - their mean action).
   */
  private neighbourStep(count: number, offset: number): void {
    const store = this.store;
    const dim = this.dim;
    const actionDim = this.actionDim;
    const slots = this.lookupSlots;
    const distances = this.lookupDistances;
    const delta = this.baseDelta;
    const meanAction = this.probeActions;
    this.kernelScale(distances, count);
    const distanceMin = this.kernelDistanceMin;
    const inverseBandwidth = this.kernelInverseBandwidth;
    delta.fill(0);
    meanAction.fill(0);
    let weightSum = 0;
    for (let n = 0; n < count; n++) {
      const slot = slots[n]!;
      const w = Math.exp((distanceMin - distances[n]!) * inverseBandwidth);
      weightSum += w;
      const base = slot * dim;
      for (let i = 0; i < dim; i++) delta[i] = delta[i]! + w * store.outcome[base + i]!;
      const actionBase = slot * actionDim;
      for (let a = 0; a < actionDim; a++) meanAction[a] = meanAction[a]! + w * store.action[actionBase + a]!;
    }
    const inverseWeight = 1 / weightSum;
    const x = this.x;
    const sequence = this.sequence;
    const sensitivity = this.actionSensitivity;
    for (let i = 0; i < dim; i++) {
      let step = delta[i]! * inverseWeight;
      for (let a = 0; a < actionDim; a++) {
        step += sensitivity[i * actionDim + a]! * (sequence[offset + a]! - meanAction[a]! * inverseWeight);
      }
      x[i] = x[i]! + step;
    }
  }

  /**
   * One step of the link walk: from the `count` experiences in lookupSlots (nearest the previous
   * predicted state), the candidates are those experiences, their successors, and the similarity
   * links of the successors; the nearest `modelK` of them to the new predicted state `x` become
   * lookupSlots / lookupDistances (squared L2, ascending). Returns how many. About 80 distance
   * computations per step, whatever the memory size: a greedy search on the experience graph that
   * follows where recorded trajectories went.
   */
  private walkFrom(count: number): number {
    const kept = this.visitWalkCandidates(this.lookupSlots, count, false);
    this.swapWalkSets();
    return kept;
  }

  /**
   * The walk's candidates from the set `from[0..count)`: each experience, its live successor and
   * the successor's live links, each once (epoch stamps). Each is either considered for the next
   * set (walkConsider) or, with `gather`, collected for the first walk step (gatherOne). Returns how
   * many were kept or gathered.
   */
  private visitWalkCandidates(from: Int32Array, count: number, gather: boolean): number {
    const store = this.store;
    const links = store.linksPerExperience;
    const epoch = ++this.epoch;
    let n = 0;
    for (let m = 0; m < count; m++) {
      const slot = from[m]!;
      n = gather ? this.gatherOne(slot, epoch, n) : this.walkConsider(slot, epoch, n);
      const successor = store.liveSuccessor(slot);
      if (successor === NO_SLOT) continue;
      n = gather ? this.gatherOne(successor, epoch, n) : this.walkConsider(successor, epoch, n);
      const base = successor * links;
      for (let j = 0; j < links; j++) {
        if (!store.linkIsLive(successor, j)) continue;
        const linked = store.links[base + j]!;
        n = gather ? this.gatherOne(linked, epoch, n) : this.walkConsider(linked, epoch, n);
      }
    }
    return n;
  }

  /** The walk's next set becomes its current one (lookupSlots / lookupDistances). */
  private swapWalkSets(): void {
    const slots = this.walkSlots;
    this.walkSlots = this.lookupSlots;
    this.lookupSlots = slots;
    const distances = this.walkDistances;
    this.walkDistances = this.lookupDistances;
    this.lookupDistances = distances;
  }

  /**
   * Collects the first walk step's candidates from the step's start set, in walkFrom's order and
   * deduped as it dedupes them, with their contexts (see firstWalkSlots).
   */
  private gatherFirstWalk(): void {
    const count = Math.min(this.startCount, this.lookupSlots.length);
    this.firstWalkCount = this.visitWalkCandidates(this.startSlots!, count, true);
  }

  private gatherOne(slot: number, epoch: number, gathered: number): number {
    const visited = this.visited;
    if (visited[slot] === epoch) return gathered;
    visited[slot] = epoch;
    this.firstWalkSlots[gathered] = slot;
    const dim = this.dim;
    const context = this.store.context;
    const into = this.firstWalkContexts;
    const from = slot * dim;
    const to = gathered * dim;
    for (let i = 0; i < dim; i++) into[to + i] = context[from + i]!;
    return gathered + 1;
  }

  /**
   * walkFrom for the first rollout step, over the candidates gathered for this `choose`: the same
   * result. Once the next set is full, a distance stops being summed as soon as it reaches the set's
   * farthest (a sum of squares only grows, and keepNearest would turn it away).
   */
  private walkFirst(): number {
    const dim = this.dim;
    const contexts = this.firstWalkContexts;
    const slots = this.firstWalkSlots;
    const x = this.x;
    const count = this.firstWalkCount;
    if (this.nearestRows !== null) {
      const kept = this.nearestRows(contexts, count, dim, x, slots, this.walkSlots, this.walkDistances);
      this.swapWalkSets();
      return kept;
    }
    const capacity = this.walkSlots.length;
    let kept = 0;
    for (let c = 0; c < count; c++) {
      const base = c * dim;
      const farthest = kept === capacity ? this.walkDistances[kept - 1]! : Number.POSITIVE_INFINITY;
      let d = 0;
      let i = 0;
      while (i < dim) {
        const end = i + PARTIAL_SUM_CHECK < dim ? i + PARTIAL_SUM_CHECK : dim;
        for (; i < end; i++) {
          const e = contexts[base + i]! - x[i]!;
          d += e * e;
        }
        if (d >= farthest) break;
      }
      if (d >= farthest) continue;
      this.walkDistance = d;
      kept = this.keepNearest(slots[c]!, kept);
    }
    this.swapWalkSets();
    return kept;
  }

  /** Inserts `slot` into the walk's sorted next set if it is new this step and near enough to `x`. */
  private walkConsider(slot: number, epoch: number, kept: number): number {
    const visited = this.visited;
    if (visited[slot] === epoch) return kept;
    visited[slot] = epoch;
    const dim = this.dim;
    const context = this.store.context;
    const x = this.x;
    const base = slot * dim;
    let d = 0;
    for (let i = 0; i < dim; i++) {
      const e = context[base + i]! - x[i]!;
      d += e * e;
    }
    this.walkDistance = d;
    return this.keepNearest(slot, kept);
  }

  /**
   * Inserts `slot`, at squared distance walkDistance from `x`, into the walk's sorted next set of
   * `kept`, if near enough. The distance comes in a field: a double passed to a call V8 does not
   * inline is boxed on the heap.
   */
  private keepNearest(slot: number, kept: number): number {
    const d = this.walkDistance;
    const slots = this.walkSlots;
    const distances = this.walkDistances;
    const capacity = slots.length;
    if (kept === capacity && d >= distances[kept - 1]!) return kept;
    let at = kept < capacity ? kept : capacity - 1;
    while (at > 0 && distances[at - 1]! > d) {
      slots[at] = slots[at - 1]!;
      distances[at] = distances[at - 1]!;
      at--;
    }
    slots[at] = slot;
    distances[at] = d;
    return kept < capacity ? kept + 1 : kept;
  }

  /** Kernel confidence and surprise of the sequence's first action (the exploration bonus). */
  private firstEvidence(slots: Int32Array, distances: Float32Array, count: number): void {
    this.model.evidence(slots, count, distances, this.sequence, 0);
    this.firstConfidence = this.model.confidence;
    this.firstSurprise = this.model.surprise;
  }

  /**
   * Rolls `this.sequence` out from `ctx` for the current horizon into rolloutScore.
   * Sets firstConfidence / firstSurprise from step 0.
   */
  private rollout(
    ctx: Float32Array,
    lookupSlots: Int32Array,
    lookupDistances: Float32Array,
    lookupCount: number,
  ): void {
    const model = this.model;
    const dim = this.dim;
    const x = this.x;
    const horizon = this.horizon;
    const discount = this.settings.discount;
    for (let i = 0; i < dim; i++) x[i] = ctx[i]!;
    let set = lookupSlots;
    let count = lookupCount;
    let score = 0;
    let weight = 1;
    this.firstConfidence = 0;
    this.firstSurprise = 0;
    for (let h = 0; h < horizon; h++) {
      model.predict(x, set, count, h === 0 ? lookupDistances : null, this.sequence, h * this.actionDim);
      if (h === 0) {
        this.firstConfidence = model.confidence;
        this.firstSurprise = model.surprise;
      }
      if (count === 0) break;
      const next = set === this.setA ? this.setB : this.setA;
      const nextCount = h + 1 < horizon ? this.nextSet(set, count, next) : 0;
      if (nextCount === 0) {
        // Last step, or the model has nowhere to go: Q (= r + discounted value) closes the sum.
        score += weight * model.value;
        break;
      }
      score += weight * model.reward;
      weight *= discount;
      const delta = model.delta;
      for (let i = 0; i < dim; i++) x[i] = x[i]! + delta[i]!;
      set = next;
      count = nextCount;
    }
    this.rolloutScore = score;
  }

  /** Successors of the strong neighbours, then links of the strongest one's successor (deduped). */
  private nextSet(set: Int32Array, count: number, into: Int32Array): number {
    const store = this.store;
    const model = this.model;
    const capacity = into.length;
    const epoch = ++this.epoch;
    const visited = this.visited;
    const threshold = model.strongestWeight * STRONG_SHARE;
    let n = 0;
    const successorsMax = capacity > 1 ? capacity >> 1 : 1;
    for (let m = 0; m < count && n < successorsMax; m++) {
      if (model.weights[m]! < threshold) continue;
      const successor = store.liveSuccessor(set[m]!);
      if (successor === NO_SLOT || visited[successor] === epoch) continue;
      visited[successor] = epoch;
      into[n++] = successor;
    }
    if (model.strongest < 0) return n;
    const anchor = store.liveSuccessor(set[model.strongest]!);
    if (anchor === NO_SLOT) return n;
    const links = store.linksPerExperience;
    const base = anchor * links;
    for (let j = 0; j < links && n < capacity; j++) {
      if (!store.linkIsLive(anchor, j)) continue;
      const target = store.links[base + j]!;
      if (visited[target] === epoch) continue;
      visited[target] = epoch;
      into[n++] = target;
    }
    return n;
  }

  /** Previous plan shifted one step (last action held), perturbed by gaussian noise when asked. */
  private fillShifted(perturb: boolean): void {
    const sigma = perturb ? this.perturbationSigma : 0;
    const actionDim = this.actionDim;
    const horizon = this.horizon;
    const planSteps = this.settings.horizon;
    for (let h = 0; h < horizon; h++) {
      const from = (h + 1 < planSteps ? h + 1 : planSteps - 1) * actionDim;
      for (let i = 0; i < actionDim; i++) {
        let a = this.plan[from + i]!;
        if (sigma > 0) {
          this.rng.normalInto(this.draw, 0);
          a += sigma * this.draw[0]!;
        }
        this.sequence[h * actionDim + i] = a;
        this.clampAt(this.sequence, h * actionDim + i);
      }
    }
  }

  /** The actions recorded from `slot` onwards along its successor chain (last one held). */
  private fillChain(slot: number): void {
    const store = this.store;
    const actionDim = this.actionDim;
    let current = slot;
    for (let h = 0; h < this.horizon; h++) {
      const base = current * actionDim;
      for (let i = 0; i < actionDim; i++) this.sequence[h * actionDim + i] = store.action[base + i]!;
      const next = store.liveSuccessor(current);
      if (next !== NO_SLOT) current = next;
    }
  }

  private fillFromActiveSet(): void {
    const active = this.active;
    if (active.count === 0) {
      this.fillRandom(true);
      return;
    }
    const position = this.rng.below(active.count);
    const slot = active.slots[position]!;
    if (this.store.alive[slot] !== 1 || this.store.generation[slot] !== active.generations[position]) {
      this.fillRandom(true);
      return;
    }
    this.fillChain(slot);
  }

  /** Uniform random actions: one held for the whole horizon (`constant`) or a new one per step. */
  private fillRandom(constant: boolean): void {
    const actionDim = this.actionDim;
    const { actionMin, actionMax } = this.settings;
    for (let h = 0; h < this.horizon; h++) {
      for (let i = 0; i < actionDim; i++) {
        if (constant && h > 0) this.sequence[h * actionDim + i] = this.sequence[i]!;
        else {
          // rng.range's result would be a returned double (boxed where not inlined): see Rng.advance
          this.rng.uniformInto(this.draw, 0);
          this.sequence[h * actionDim + i] = actionMin + (actionMax - actionMin) * this.draw[0]!;
        }
      }
    }
  }

  /**
   * Clamps out[index] to the action limits in place. No double crosses the call: where V8 did not
   * inline it (the allocation test's brain, in every run: choose is large), an argument and a
   * result cost 16 B each per action value. Rounding to float first changes nothing: clamping and
   * round-to-nearest commute. Math.min / Math.max, not a ternary: `a < min ? min : a` merges the
   * integer limits from config (small integers in V8) with the double `a`, and TurboFan boxed the
   * result (measured: ~8 KB per step at 32 candidates x horizon 16).
   */
  private clampAt(out: Float32Array, index: number): void {
    const { actionMin, actionMax } = this.settings;
    out[index] = Math.min(actionMax, Math.max(actionMin, out[index]!));
  }
}
