/**
 * Beacons (planner.beacons > 0; off by default): a few stored experiences with the highest returns,
 * kept apart from each other in context space, that lend value to states far from them. Where the
 * memory's returns are flat (every neighbour scored the same, as at the bottom of a swing-up the
 * brain has never finished), the looked-up value gives the planner no direction; the beacons' value
 * `max over b of Q(b) - slope * scale * |x - context(b)|` (scale: the largest return seen) falls off
 * with distance from the best states, so a plan that ends nearer one scores higher. A rollout's end
 * value is the larger of the looked-up value and this one.
 *
 * The set is updated from slack time (`consider`, when an experience's return is written) and read
 * by the planner (`measure`); both are allocation-free and read the live returns, so a beacon whose
 * return falls is replaced by a better experience, and an evicted one (generation changed) is skipped.
 */
import type { ExperienceStore } from './memory/store.js';
import { squaredDistance } from './similarity/topk.js';

export class Beacons {
  readonly slots: Int32Array;
  readonly generations: Uint32Array;
  count = 0;
  /** the largest |return| seen (the brain's return scale), set by the brain in slack time */
  scale = 1;
  /** result of `measure`: the beacons' value at the measured context (a field: a returned double is boxed) */
  value = 0;
  private readonly radiusSquared: number;

  constructor(
    private readonly store: ExperienceStore,
    size: number,
    /** value lost per unit of (normalised) distance, as a fraction of `scale` */
    private readonly slope: number,
    /** beacons closer than this (normalised distance) replace each other rather than both staying */
    radius: number,
  ) {
    this.slots = new Int32Array(size);
    this.generations = new Uint32Array(size);
    this.radiusSquared = radius * radius;
  }

  private live(b: number): boolean {
    const slot = this.slots[b]!;
    return this.store.alive[slot] === 1 && this.store.generation[slot] === this.generations[b];
  }

  /**
   * Offers `slot` (live, with its return just written): it becomes a beacon when its return beats
   * the beacon within `radius` of it, or, with none that near, the weakest beacon (or a free place).
   */
  consider(slot: number): void {
    const store = this.store;
    const q = store.returnEstimate[slot]!;
    if (!(q > 0)) return;
    const dim = store.contextDim;
    const context = store.context;
    const base = slot * dim;
    let near = -1;
    let weakest = -1;
    let weakestQ = Number.POSITIVE_INFINITY;
    for (let b = 0; b < this.count; b++) {
      const other = this.slots[b]!;
      if (!this.live(b)) {
        weakest = b;
        weakestQ = Number.NEGATIVE_INFINITY;
        continue;
      }
      if (other === slot) return;
      const d = squaredDistance(context, base, context, other * dim, dim);
      const otherQ = store.returnEstimate[other]!;
      if (d < this.radiusSquared) {
        if (near < 0 || otherQ < store.returnEstimate[this.slots[near]!]!) near = b;
      }
      if (otherQ < weakestQ) {
        weakestQ = otherQ;
        weakest = b;
      }
    }
    let into = -1;
    if (near >= 0) {
      if (q > store.returnEstimate[this.slots[near]!]!) into = near;
    } else if (this.count < this.slots.length) {
      into = this.count++;
    } else if (q > weakestQ) {
      into = weakest;
    }
    if (into < 0) return;
    this.slots[into] = slot;
    this.generations[into] = store.generation[slot]!;
  }

  /** The beacons' value at context `x` into `this.value` (-Infinity with no live beacon). */
  measure(x: Float32Array): void {
    const store = this.store;
    const dim = store.contextDim;
    const context = store.context;
    const fall = this.slope * this.scale;
    let best = Number.NEGATIVE_INFINITY;
    for (let b = 0; b < this.count; b++) {
      if (!this.live(b)) continue;
      const slot = this.slots[b]!;
      const d = squaredDistance(context, slot * dim, x, 0, dim);
      const v = store.returnEstimate[slot]! - fall * Math.sqrt(d);
      if (v > best) best = v;
    }
    this.value = best;
  }
}
