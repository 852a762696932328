/**
 * Running per-dimension mean and variance of observations (Welford), frozen after a warm-up so
 * that contexts stored early and late stay comparable (a context is the normalised observation,
 * and it is the lookup key). The statistics are public typed arrays so a snapshot can save and
 * restore them.
 */
export class Normaliser {
  readonly dim: number;
  readonly mean: Float64Array;
  /** running sum of squared deviations (Welford's M2); variance = m2 / count */
  readonly m2: Float64Array;
  /** 1 / std-dev per dimension, refreshed while the statistics still move */
  readonly invStd: Float64Array;
  /** observations folded in so far (stops growing at warmupSteps) */
  count = 0;

  constructor(
    dim: number,
    readonly warmupSteps: number,
    readonly minStd: number,
  ) {
    if (!Number.isInteger(dim) || dim < 1)
      throw new RangeError(`normaliser dim must be a positive integer, got ${dim}`);
    if (!(minStd > 0)) throw new RangeError(`normaliser minStd must be positive, got ${minStd}`);
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
    this.invStd = new Float64Array(dim).fill(1 / Math.max(1, minStd));
  }

  get frozen(): boolean {
    return this.count >= this.warmupSteps;
  }

  /** Folds `observation` into the statistics (until frozen). The caller has checked it is finite. */
  observe(observation: Float32Array): void {
    if (this.count >= this.warmupSteps) return;
    const n = ++this.count;
    for (let i = 0; i < this.dim; i++) {
      const x = observation[i]!;
      const delta = x - this.mean[i]!;
      const mean = this.mean[i]! + delta / n;
      this.mean[i] = mean;
      this.m2[i] = this.m2[i]! + delta * (x - mean);
    }
    this.refreshInvStd();
  }

  /** out = (observation - mean) / std */
  normalise(observation: Float32Array, out: Float32Array): void {
    for (let i = 0; i < this.dim; i++) out[i] = (observation[i]! - this.mean[i]!) * this.invStd[i]!;
  }

  /** Inverse for a delta: raw units = normalised delta * std. */
  denormaliseDelta(delta: Float32Array, out: Float32Array): void {
    for (let i = 0; i < this.dim; i++) out[i] = delta[i]! / this.invStd[i]!;
  }

  /** Restores saved statistics (a snapshot); lengths must match. */
  restore(mean: ArrayLike<number>, m2: ArrayLike<number>, count: number): void {
    if (mean.length !== this.dim || m2.length !== this.dim) {
      throw new RangeError(`normaliser restore expects ${this.dim} dims, got mean ${mean.length}, m2 ${m2.length}`);
    }
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`normaliser count must be >= 0, got ${count}`);
    for (let i = 0; i < this.dim; i++) {
      if (!Number.isFinite(mean[i]!) || !Number.isFinite(m2[i]!) || m2[i]! < 0) {
        throw new RangeError(`normaliser restore: dimension ${i} is not a valid statistic`);
      }
    }
    this.mean.set(mean);
    this.m2.set(m2);
    this.count = count;
    this.refreshInvStd();
  }

  private refreshInvStd(): void {
    // With fewer than two samples the variance is unknown: keep unit scale (std 1).
    if (this.count < 2) return;
    for (let i = 0; i < this.dim; i++) {
      const std = Math.sqrt(this.m2[i]! / this.count);
      this.invStd[i] = 1 / (std > this.minStd ? std : this.minStd);
    }
  }
}
