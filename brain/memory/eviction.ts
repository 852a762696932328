/**
 * Eviction by utility. When memory is at its cap, the least useful of a bounded random sample of
 * live slots goes (never a scan over the whole store), so the cost of one eviction is fixed no
 * matter how large memory grows. Utility rewards use (access count), recency, surprise (prediction
 * error: the experiences the model got wrong teach it most), high returns and current activation.
 */
import type { ActiveSet } from '../activation.js';
import type { Rng } from '../rng.js';
import type { SimilarityBackend } from '../similarity/backend.js';
import { type ExperienceStore, NO_SLOT } from './store.js';

export interface UtilityWeights {
  use: number;
  recency: number;
  surprise: number;
  value: number;
  activation: number;
}

export const defaultUtilityWeights: UtilityWeights = { use: 1, recency: 1, surprise: 0.5, value: 1, activation: 2 };

export class Evictor {
  evictions = 0;
  /** sampling tries that found only empty slots (memory nearly empty): nothing evicted */
  misses = 0;
  /** largest |return| seen, to put returns on the same 0-1 scale as the other terms */
  returnScale = 1;
  private lastUtility = 0.5;

  constructor(
    private readonly store: ExperienceStore,
    private readonly index: SimilarityBackend,
    private readonly active: ActiveSet,
    private readonly rng: Rng,
    private readonly sampleSize: number,
    private readonly weights: UtilityWeights = defaultUtilityWeights,
  ) {
    if (!Number.isInteger(sampleSize) || sampleSize < 1)
      throw new RangeError(`eviction sample must be >= 1, got ${sampleSize}`);
  }

  /**
   * Utility of a live slot at brain step `step`; `horizon` is how many steps a memory of this size
   * takes to turn over (recency fades on that scale).
   */
  utility(slot: number, step: number, horizon: number): number {
    this.evaluate(slot, step, horizon);
    return this.lastUtility;
  }

  /** utility into lastUtility (a field: a returned double is boxed when the call is not inlined) */
  private evaluate(slot: number, step: number, horizon: number): void {
    const store = this.store;
    const w = this.weights;
    const age = step - store.lastAccess[slot]!;
    const surprise = store.predictionError[slot]!;
    const value = store.returnEstimate[slot]! / this.returnScale;
    this.lastUtility =
      w.use * Math.log1p(store.accessCount[slot]!) +
      w.recency * Math.exp(-(age > 0 ? age : 0) / horizon) +
      w.surprise * (surprise < 4 ? surprise : 4) +
      w.value * value +
      w.activation * this.active.of(slot);
  }

  /**
   * Evicts the lowest-utility slot of a random sample (skipping `protectedSlot`). Returns the slot
   * freed, or NO_SLOT when the sample found nothing to evict.
   */
  evictOne(step: number, horizon: number, protectedSlot: number): number {
    const store = this.store;
    const capacity = store.capacity;
    let victim = NO_SLOT;
    let victimUtility = Number.POSITIVE_INFINITY;
    let found = 0;
    // Twice the sample in tries: a sparse store may need more draws to find live slots.
    for (let attempt = 0; attempt < this.sampleSize * 2 && found < this.sampleSize; attempt++) {
      const slot = this.rng.below(capacity);
      if (store.alive[slot] !== 1 || slot === protectedSlot) continue;
      found++;
      this.evaluate(slot, step, horizon);
      const u = this.lastUtility;
      if (u < victimUtility) {
        victimUtility = u;
        victim = slot;
      }
    }
    if (victim === NO_SLOT) {
      this.misses++;
      return NO_SLOT;
    }
    this.index.remove(victim);
    this.active.remove(victim);
    store.release(victim);
    this.evictions++;
    return victim;
  }

  /** Call when a return estimate is written, to keep the value term on a 0-1 scale. */
  noteReturn(value: number): void {
    const magnitude = value < 0 ? -value : value;
    if (magnitude > this.returnScale) this.returnScale = magnitude;
  }
}
