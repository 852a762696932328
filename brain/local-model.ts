/**
 * A local linear model fitted once per step to the lookup's neighbours: outcome (next-context
 * delta) and reward as linear functions of (state, action), and the state value as a linear
 * function of the state, around the current context. Kernel averages (predict.ts) answer "what
 * happened near here"; a local linear fit also answers "what changes if I push harder", which is
 * what a planner needs when one control step moves the state only a little (10-20 ms dynamics).
 *
 * Weighted ridge regression in its dual form: with k neighbours the system is k x k whatever the
 * dimension (k = 16: a 16 x 16 Cholesky per fit), and a prediction is k dot products. The ridge
 * term is divided by each neighbour's kernel weight, so far neighbours count less. Everything is
 * preallocated; fit and predict allocate nothing.
 *
 * The arithmetic of fit and predict runs in engram's kernel addon when it is built (native/kernels:
 * the same operations in the same order, so the same bits; ~3x faster at 64 dimensions), and here
 * otherwise. The arrays it writes are this class's own, so everything else reads them either way.
 *
 * Value samples: an experience's stored Q = r + discount * V(its next state), so each neighbour
 * gives a sample of V at its next context (context + outcome); the value fit is over those points.
 */
import type { ExperienceStore } from './memory/store.js';
import {
  createLocalModelKernels,
  fixedFloat32,
  fixedFloat64,
  KERNEL_RESULTS,
  type KernelPath,
  KernelResult,
  type LocalModelKernels,
} from './native-kernels.js';

/** The constant feature: large, so the ridge barely pulls on the intercept. */
const BIAS = 3;
const BIAS2 = BIAS * BIAS;

export class LocalLinearModel {
  /** neighbours in the current fit */
  count = 0;
  /** predicted outcome (normalised units) of the last `predict` */
  readonly delta: Float32Array;
  reward = 0.5;
  /** result of the last evaluateValue (a field: a returned double would be boxed on the heap) */
  lastValue = 0.5;
  /** result of the last rollout */
  rolloutScore = 0.5;
  /** the discounted predicted rewards of the last rollout (rolloutScore without the end value) */
  rolloutRewards = 0;
  /** the end value of the last rollout (undiscounted, clamped) */
  rolloutValue = 0;
  /** squared-distance scale of the neighbour weights (set before fit) */
  bandwidth = 1.5;
  /** fitValue has run since the last fit (beta holds coefficients, not samples; couplings are current) */
  private valueFitted = true;
  private readonly dim: number;
  private readonly actionDim: number;
  private readonly maxK: number;
  /** state features of the neighbours, relative to the fit centre: k x dim */
  private readonly stateFeatures: Float64Array;
  /** action features (scaled to [-1, 1]): k x actionDim */
  private readonly actionFeatures: Float64Array;
  /** next-state features: k x dim */
  private readonly nextFeatures: Float64Array;
  /** dual coefficients for [outcome..., reward]: k x (dim + 1) */
  private readonly alpha: Float64Array;
  /** dual coefficients for value: k (the value samples between `fit` and `fitValue`) */
  private readonly beta: Float64Array;
  private readonly gram: Float64Array;
  /** alpha_l (outcome part) . stateFeatures_j: how a predicted step moves each neighbour's state dot (k x k) */
  private readonly stateCoupling: Float64Array;
  /** alpha_l (outcome part) . nextFeatures_j: how a predicted step moves each value-sample dot (k x k) */
  private readonly valueCoupling: Float64Array;
  /** rollout state in dual coordinates: (x - centre) . stateFeatures_j; and the kernel terms summed over steps */
  private readonly stateDots: Float64Array;
  private readonly summedDots: Float64Array;
  private readonly kernelWeights: Float64Array;
  private readonly centre: Float64Array;
  private readonly dots: Float64Array;
  private readonly column: Float64Array;
  /** the addon's kernels bound to this model's arrays, or null: fit and predict run in JavaScript */
  private readonly kernels: LocalModelKernels | null;
  /** what the kernels write besides the arrays (KernelResult) */
  private readonly kernelResults: Float64Array;
  /** why the kernels are not native (null when they are) */
  readonly kernelsUnavailable: string | null;
  /** 1 / RMS norm of the state (and next-state) features of the current fit */
  private stateScale = 1.5;
  private nextScale = 1.5;
  private valueMin = 0;
  private valueMax = 0;
  /** the range of every reward stored so far (observeReward); rollout rewards are clamped to it */
  private rewardMin = Number.POSITIVE_INFINITY;
  private rewardMax = Number.NEGATIVE_INFINITY;
  private readonly actionMid: number;
  private readonly actionHalfRange: number;

  constructor(
    private readonly store: ExperienceStore,
    maxK: number,
    actionMin: number,
    actionMax: number,
    private readonly ridge: number,
    private readonly discount: number,
    /** value kernel: quadratic (1 + v.v')^2 or linear */
    private readonly quadraticValue = false,
    /** 'javascript': never the addon (tests and benchmarks compare the two) */
    kernelPath: KernelPath = 'native',
  ) {
    this.dim = store.contextDim;
    this.actionDim = store.actionDim;
    this.maxK = maxK;
    const dim = this.dim;
    // arrays the addon writes: off the JS heap, where they never move (native-kernels.ts)
    this.delta = fixedFloat32(dim);
    this.stateFeatures = fixedFloat64(maxK * dim);
    this.actionFeatures = fixedFloat64(maxK * this.actionDim);
    this.nextFeatures = fixedFloat64(maxK * dim);
    this.alpha = fixedFloat64(maxK * (dim + 1));
    this.beta = fixedFloat64(maxK);
    this.gram = fixedFloat64(maxK * maxK);
    this.stateCoupling = new Float64Array(maxK * maxK);
    this.valueCoupling = new Float64Array(maxK * maxK);
    this.stateDots = new Float64Array(maxK);
    this.summedDots = new Float64Array(maxK);
    this.kernelWeights = fixedFloat64(maxK);
    this.centre = fixedFloat64(dim);
    this.dots = fixedFloat64(maxK);
    this.column = new Float64Array(maxK);
    this.actionMid = (actionMin + actionMax) / 2;
    this.actionHalfRange = (actionMax - actionMin) / 2;
    this.kernelResults = fixedFloat64(KERNEL_RESULTS);
    const kernels =
      kernelPath === 'native'
        ? createLocalModelKernels(
            {
              dim,
              actionDim: this.actionDim,
              maxK,
              actionMid: this.actionMid,
              inverseActionScale: 1 / this.actionHalfRange,
              ridge,
              discount,
            },
            {
              stateFeatures: this.stateFeatures,
              actionFeatures: this.actionFeatures,
              nextFeatures: this.nextFeatures,
              alpha: this.alpha,
              beta: this.beta,
              gram: this.gram,
              kernelWeights: this.kernelWeights,
              centre: this.centre,
              dots: this.dots,
              results: this.kernelResults,
              delta: this.delta,
            },
          )
        : new Error('JavaScript kernels were asked for');
    this.kernels = kernels instanceof Error ? null : kernels;
    this.kernelsUnavailable = kernels instanceof Error ? kernels.message : null;
  }

  /** where fit and predict run */
  get kernelPath(): KernelPath {
    return this.kernels === null ? 'javascript' : 'native';
  }

  /** Widens the range of rewards seen (called for every stored experience). */
  observeReward(reward: number): void {
    if (reward < this.rewardMin) this.rewardMin = reward;
    if (reward > this.rewardMax) this.rewardMax = reward;
  }

  /**
   * Fits around context `x` from neighbours `slots[0..count)` with squared distances `distances`
   * and state bandwidth `this.bandwidth`. With no neighbours the model predicts no change, reward 0.
   */
  fit(x: Float32Array, slots: Int32Array, distances: Float32Array, count: number): void {
    const bandwidth = this.bandwidth;
    const store = this.store;
    const dim = this.dim;
    const actionDim = this.actionDim;
    const k = count < this.maxK ? count : this.maxK;
    this.count = k;
    if (k === 0) return;
    for (let i = 0; i < dim; i++) this.centre[i] = x[i]!;
    let distanceMin = Number.POSITIVE_INFINITY;
    for (let j = 0; j < k; j++) if (distances[j]! < distanceMin) distanceMin = distances[j]!;
    // Math.exp here, native or not: V8's exp and the C library's may differ in the last bit
    for (let j = 0; j < k; j++) this.kernelWeights[j] = Math.exp((distanceMin - distances[j]!) / bandwidth);
    const kernels = this.kernels;
    if (kernels !== null) {
      kernels.fit(store.context, store.outcome, store.action, store.reward, store.returnEstimate, slots, k);
      const results = this.kernelResults;
      this.stateScale = results[KernelResult.stateScale]!;
      this.nextScale = results[KernelResult.nextScale]!;
      this.valueMin = results[KernelResult.valueMin]!;
      this.valueMax = results[KernelResult.valueMax]!;
      this.valueFitted = false;
      return;
    }
    const inverseActionScale = 1 / this.actionHalfRange;
    let valueMin = Number.POSITIVE_INFINITY;
    let valueMax = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) {
      const slot = slots[j]!;
      const base = slot * dim;
      for (let i = 0; i < dim; i++) {
        const relative = store.context[base + i]! - x[i]!;
        this.stateFeatures[j * dim + i] = relative;
        this.nextFeatures[j * dim + i] = relative + store.outcome[base + i]!;
      }
      const actionBase = slot * actionDim;
      for (let i = 0; i < actionDim; i++) {
        this.actionFeatures[j * actionDim + i] = (store.action[actionBase + i]! - this.actionMid) * inverseActionScale;
      }
      const value = (store.returnEstimate[slot]! - store.reward[slot]!) / this.discount;
      this.beta[j] = value;
      if (value < valueMin) valueMin = value;
      if (value > valueMax) valueMax = value;
    }
    // Standardise the state blocks: neighbours sit close to the centre, so raw relative features are
    // tiny next to the action features and a fixed ridge would erase every state effect (and the
    // value gradient). Features are divided by their RMS norm; queries get the same scale.
    let stateSquares = 0;
    let nextSquares = 0;
    for (let q = 0; q < k * dim; q++) {
      stateSquares += this.stateFeatures[q]! * this.stateFeatures[q]!;
      nextSquares += this.nextFeatures[q]! * this.nextFeatures[q]!;
    }
    this.stateScale = 1 / Math.sqrt(stateSquares / k + 1e-12);
    this.nextScale = 1 / Math.sqrt(nextSquares / k + 1e-12);
    for (let q = 0; q < k * dim; q++) {
      this.stateFeatures[q] = this.stateFeatures[q]! * this.stateScale;
      this.nextFeatures[q] = this.nextFeatures[q]! * this.nextScale;
    }
    // A linear value extrapolates; keep it within the samples' range (plus a little).
    const margin = 0.1 * (valueMax - valueMin);
    this.valueMin = valueMin - margin;
    this.valueMax = valueMax + margin;

    // Outcome and reward: Gram over (state, action, bias) features.
    const gram = this.gram;
    for (let a = 0; a < k; a++) {
      for (let b = 0; b <= a; b++) {
        let sum = BIAS2;
        for (let i = 0; i < dim; i++) sum += this.stateFeatures[a * dim + i]! * this.stateFeatures[b * dim + i]!;
        for (let i = 0; i < actionDim; i++) {
          sum += this.actionFeatures[a * actionDim + i]! * this.actionFeatures[b * actionDim + i]!;
        }
        gram[a * k + b] = sum;
      }
      gram[a * k + a] = gram[a * k + a]! + this.ridge / this.kernelWeights[a]!;
    }
    choleskyInPlace(gram, k);
    const outputs = dim + 1;
    for (let o = 0; o < outputs; o++) {
      for (let j = 0; j < k; j++) {
        const slot = slots[j]!;
        this.column[j] = o < dim ? store.outcome[slot * dim + o]! : store.reward[slot]!;
      }
      choleskySolve(gram, k, this.column);
      for (let j = 0; j < k; j++) this.alpha[j * outputs + o] = this.column[j]!;
    }
    this.valueFitted = false;
  }

  /**
   * The second half of a fit, which only `rollout` and `evaluateValue` use: the value fit and the
   * couplings. Run on their first call after `fit`; a planner that only calls `predict` (the walk
   * and lookup rollouts) skips more than half of the fit's arithmetic.
   */
  private fitValue(): void {
    this.valueFitted = true;
    const k = this.count;
    const dim = this.dim;
    const outputs = dim + 1;
    const gram = this.gram;
    // Value: Gram over (next state, bias) features; with the quadratic kernel (1 + v.v')^2 the
    // value can bend (a hilltop such as a balanced pole, where a linear fit has no gradient).
    const quadratic = this.quadraticValue;
    for (let a = 0; a < k; a++) {
      for (let b = 0; b <= a; b++) {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += this.nextFeatures[a * dim + i]! * this.nextFeatures[b * dim + i]!;
        gram[a * k + b] = quadratic ? (1 + dot) * (1 + dot) : BIAS2 + dot;
      }
      gram[a * k + a] = gram[a * k + a]! + this.ridge / this.kernelWeights[a]!;
    }
    choleskyInPlace(gram, k);
    for (let j = 0; j < k; j++) this.column[j] = this.beta[j]!;
    choleskySolve(gram, k, this.column);
    for (let j = 0; j < k; j++) this.beta[j] = this.column[j]!;

    // Couplings for rollouts in dual coordinates (k x k, whatever the dimension).
    for (let l = 0; l < k; l++) {
      const alphaBase = l * outputs;
      for (let j = 0; j < k; j++) {
        let toState = 0;
        let toValue = 0;
        const featureBase = j * dim;
        for (let i = 0; i < dim; i++) {
          const a = this.alpha[alphaBase + i]!;
          toState += a * this.stateFeatures[featureBase + i]!;
          toValue += a * this.nextFeatures[featureBase + i]!;
        }
        this.stateCoupling[l * k + j] = toState * this.stateScale;
        this.valueCoupling[l * k + j] = toValue * this.nextScale;
      }
    }
  }

  /**
   * Rolls the action sequence `actions` (steps of actionDim) out for `horizon` steps from the fit
   * centre and writes discounted predicted rewards + discounted end value into `rolloutScore`.
   * Works in dual coordinates: the state is carried as its dot products with the neighbours'
   * features, so a step costs O(k^2 + k * actionDim) however large the context is.
   */
  rollout(actions: Float32Array, horizon: number, discount: number): void {
    const k = this.count;
    if (k === 0) {
      this.rolloutScore = 0;
      return;
    }
    if (!this.valueFitted) this.fitValue();
    const actionDim = this.actionDim;
    const outputs = this.dim + 1;
    const rewardColumn = this.dim;
    const stateDots = this.stateDots;
    const g = this.dots;
    const inverseActionScale = 1 / this.actionHalfRange;
    // valueDots only matter at the end: accumulate the kernel terms of every step (k per step) and
    // apply the value coupling once (k^2), instead of every step.
    const summed = this.summedDots;
    for (let j = 0; j < k; j++) {
      stateDots[j] = 0;
      summed[j] = 0;
    }
    let score = 0;
    let weight = 1;
    const lastStep = horizon - 1;
    for (let h = 0; h < horizon; h++) {
      const offset = h * actionDim;
      for (let j = 0; j < k; j++) {
        let actionDot = 0;
        for (let i = 0; i < actionDim; i++) {
          actionDot +=
            (actions[offset + i]! - this.actionMid) * inverseActionScale * this.actionFeatures[j * actionDim + i]!;
        }
        g[j] = BIAS2 + stateDots[j]! + actionDot;
      }
      let reward = 0;
      for (let l = 0; l < k; l++) {
        reward += g[l]! * this.alpha[l * outputs + rewardColumn]!;
        summed[l] = summed[l]! + g[l]!;
      }
      // A linear fit extrapolated along a rollout can leave the range of any reward ever seen
      // (measured on cartpole balance: 8-step sums of 83-111 where 64 is the most possible); the
      // plan would then be chosen for impossible rewards. Clamp to the range seen in experience.
      if (reward < this.rewardMin) reward = this.rewardMin;
      else if (reward > this.rewardMax) reward = this.rewardMax;
      score += weight * reward;
      weight *= discount;
      if (h === lastStep) break;
      for (let l = 0; l < k; l++) {
        const gl = g[l]!;
        const base = l * k;
        for (let j = 0; j < k; j++) stateDots[j] = stateDots[j]! + gl * this.stateCoupling[base + j]!;
      }
    }
    let value = 0;
    for (let j = 0; j < k; j++) {
      let valueDot = 0;
      for (let l = 0; l < k; l++) valueDot += summed[l]! * this.valueCoupling[l * k + j]!;
      const kernel = this.quadraticValue ? (1 + valueDot) * (1 + valueDot) : BIAS2 + valueDot;
      value += kernel * this.beta[j]!;
    }
    value = value < this.valueMin ? this.valueMin : value > this.valueMax ? this.valueMax : value;
    this.rolloutRewards = score;
    this.rolloutValue = value;
    this.rolloutScore = score + weight * value;
  }

  /** Predicts outcome (into `delta`) and reward for state `x` and the action at actions[offset..]. */
  predict(x: Float32Array, actions: Float32Array, offset: number): void {
    const k = this.count;
    const dim = this.dim;
    if (k === 0) {
      this.predictNothing();
      return;
    }
    if (this.kernels !== null) {
      this.kernels.predict(x, actions, offset, k);
      this.reward = this.kernelResults[KernelResult.reward]!;
      return;
    }
    for (let j = 0; j < k; j++) {
      let dot = BIAS2;
      for (let i = 0; i < dim; i++)
        dot += (x[i]! - this.centre[i]!) * this.stateScale * this.stateFeatures[j * dim + i]!;
      this.dots[j] = dot;
    }
    this.addActionTerms(actions, offset);
    this.predictFromDots();
  }

  /**
   * `predict` at the fit's centre (the context the step started from), bit for bit: there every
   * state term is an exact zero, which leaves each dot unchanged, so only the action terms are summed.
   */
  predictAtCentre(actions: Float32Array, offset: number): void {
    const k = this.count;
    if (k === 0) {
      this.predictNothing();
      return;
    }
    if (this.kernels !== null) {
      this.kernels.predict(null, actions, offset, k);
      this.reward = this.kernelResults[KernelResult.reward]!;
      return;
    }
    for (let j = 0; j < k; j++) this.dots[j] = BIAS2;
    this.addActionTerms(actions, offset);
    this.predictFromDots();
  }

  /**
   * Adds the action's terms to each neighbour's kernel dot (this.dots, which already holds the
   * bias and state terms): summed after them, in the order predict has always used.
   */
  private addActionTerms(actions: Float32Array, offset: number): void {
    const k = this.count;
    const actionDim = this.actionDim;
    const inverseActionScale = 1 / this.actionHalfRange;
    for (let j = 0; j < k; j++) {
      let dot = this.dots[j]!;
      for (let i = 0; i < actionDim; i++) {
        dot += (actions[offset + i]! - this.actionMid) * inverseActionScale * this.actionFeatures[j * actionDim + i]!;
      }
      this.dots[j] = dot;
    }
  }

  private predictNothing(): void {
    this.delta.fill(0);
    this.reward = 0;
  }

  /** delta and reward from the kernel dots of the query with every neighbour (this.dots). */
  private predictFromDots(): void {
    const k = this.count;
    const dim = this.dim;
    const delta = this.delta;
    for (let i = 0; i < dim; i++) delta[i] = 0;
    const outputs = dim + 1;
    let reward = 0;
    for (let j = 0; j < k; j++) {
      const dot = this.dots[j]!;
      const base = j * outputs;
      for (let i = 0; i < dim; i++) delta[i] = delta[i]! + dot * this.alpha[base + i]!;
      reward += dot * this.alpha[base + dim]!;
    }
    this.reward = reward;
  }

  /** Value of state `x` from the linear value fit, clamped to the samples' range, into lastValue. */
  evaluateValue(x: Float32Array): void {
    const k = this.count;
    if (k === 0) {
      this.lastValue = 0;
      return;
    }
    if (!this.valueFitted) this.fitValue();
    const dim = this.dim;
    let value = 0;
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += (x[i]! - this.centre[i]!) * this.nextScale * this.nextFeatures[j * dim + i]!;
      value += (this.quadraticValue ? (1 + dot) * (1 + dot) : BIAS2 + dot) * this.beta[j]!;
    }
    this.lastValue = value < this.valueMin ? this.valueMin : value > this.valueMax ? this.valueMax : value;
  }
}

/** Lower Cholesky factor of the symmetric positive-definite k x k matrix (lower triangle used). */
function choleskyInPlace(m: Float64Array, k: number): void {
  for (let j = 0; j < k; j++) {
    let diagonal = m[j * k + j]!;
    for (let p = 0; p < j; p++) diagonal -= m[j * k + p]! * m[j * k + p]!;
    const root = Math.sqrt(diagonal > 1e-12 ? diagonal : 1e-12);
    m[j * k + j] = root;
    for (let i = j + 1; i < k; i++) {
      let sum = m[i * k + j]!;
      for (let p = 0; p < j; p++) sum -= m[i * k + p]! * m[j * k + p]!;
      m[i * k + j] = sum / root;
    }
  }
}

/** Solves (L L^T) y = b in place, L from choleskyInPlace. */
function choleskySolve(m: Float64Array, k: number, b: Float64Array): void {
  for (let i = 0; i < k; i++) {
    let sum = b[i]!;
    for (let p = 0; p < i; p++) sum -= m[i * k + p]! * b[p]!;
    b[i] = sum / m[i * k + i]!;
  }
  for (let i = k - 1; i >= 0; i--) {
    let sum = b[i]!;
    for (let p = i + 1; p < k; p++) sum -= m[p * k + i]! * b[p]!;
    b[i] = sum / m[i * k + i]!;
  }
}
