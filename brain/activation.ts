/**
 * Sparse activation: the bounded active set (working memory). Retrieved experiences are activated
 * by their similarity to the current context; activation spreads along the links each experience
 * got from its own lookup when it was stored, and decays every step. The set never holds more than
 * `maxActive` entries: a newcomer weaker than the weakest member is dropped.
 *
 * Membership is one Int32Array indexed by slot (position + 1, 0 = absent), so adding, finding and
 * removing are O(1) and nothing is cleared per step.
 */
import type { ExperienceStore } from './memory/store.js';

export class ActiveSet {
  readonly maxActive: number;
  /** active slots at [0, count) */
  readonly slots: Int32Array;
  /** generation of each active slot when it entered: a mismatch means it was evicted and reused */
  readonly generations: Uint32Array;
  readonly activation: Float32Array;
  count = 0;
  private incoming = 0.5;
  /** the state kernel's bandwidth for activateRetrieved (a field: see there) */
  bandwidth = 1;
  /** slot -> position + 1 in `slots`, 0 when not active */
  private readonly positionOf: Int32Array;

  constructor(
    private readonly store: ExperienceStore,
    maxActive: number,
    private readonly decay: number,
    private readonly spread: number,
    private readonly threshold: number,
  ) {
    if (!Number.isInteger(maxActive) || maxActive < 1) throw new RangeError(`maxActive must be >= 1, got ${maxActive}`);
    this.maxActive = maxActive;
    this.slots = new Int32Array(maxActive);
    this.generations = new Uint32Array(maxActive);
    this.activation = new Float32Array(maxActive);
    this.positionOf = new Int32Array(store.capacity);
  }

  /** Current activation of `slot` (0 when not active). */
  of(slot: number): number {
    const position = this.positionOf[slot]!;
    return position === 0 ? 0 : this.activation[position - 1]!;
  }

  /** Multiplies every activation by `decay` and drops entries that fell below the threshold or died. */
  decayAll(): void {
    const store = this.store;
    let i = 0;
    while (i < this.count) {
      const slot = this.slots[i]!;
      const value = this.activation[i]! * this.decay;
      if (value < this.threshold || store.alive[slot] !== 1 || store.generation[slot] !== this.generations[i]) {
        this.removeAt(i);
        continue; // removeAt moved the last entry into i
      }
      this.activation[i] = value;
      i++;
    }
  }

  /** Raises `slot`'s activation to at least `value` (adding it when there is room or it beats the weakest). */
  activate(slot: number, value: number): void {
    // Small enough for V8 to inline; the value travels in a field so no double is boxed per call.
    this.incoming = value;
    this.activateIncoming(slot);
  }

  private activateIncoming(slot: number): void {
    const value = this.incoming;
    if (!(value >= this.threshold)) return;
    const position = this.positionOf[slot]!;
    if (position !== 0) {
      if (value > this.activation[position - 1]!) this.activation[position - 1] = value > 1 ? 1 : value;
      return;
    }
    if (this.count < this.maxActive) {
      this.insertIncoming(this.count++, slot);
      return;
    }
    let weakest = 0;
    for (let i = 1; i < this.count; i++) if (this.activation[i]! < this.activation[weakest]!) weakest = i;
    if (value <= this.activation[weakest]!) return;
    this.positionOf[this.slots[weakest]!] = 0;
    this.insertIncoming(weakest, slot);
  }

  /**
   * Activates the `count` experiences just retrieved, each by its kernel similarity
   * exp(-distance / bandwidth) (set `bandwidth` first). One call per step, and no double crosses
   * a call boundary (each one that V8 did not inline was boxed: ~200 B per step).
   */
  activateRetrieved(slots: Int32Array, distances: Float32Array, count: number): void {
    const invBandwidth = 1 / this.bandwidth;
    for (let n = 0; n < count; n++) {
      this.incoming = Math.exp(-distances[n]! * invBandwidth);
      this.activateIncoming(slots[n]!);
    }
  }

  /**
   * Spreads activation from each of `sources` (the slots just retrieved) along its live links:
   * a linked experience receives spread * source activation * link weight.
   */
  spreadFrom(sources: Int32Array, count: number): void {
    const store = this.store;
    const links = store.linksPerExperience;
    for (let s = 0; s < count; s++) {
      const source = sources[s]!;
      const sourceActivation = this.of(source);
      if (sourceActivation === 0) continue;
      const base = source * links;
      for (let j = 0; j < links; j++) {
        if (!store.linkIsLive(source, j)) continue;
        this.activate(store.links[base + j]!, this.spread * sourceActivation * store.linkWeight[base + j]!);
      }
    }
  }

  /** Removes `slot` (called when it is evicted). */
  remove(slot: number): void {
    const position = this.positionOf[slot]!;
    if (position !== 0) this.removeAt(position - 1);
  }

  clear(): void {
    for (let i = 0; i < this.count; i++) this.positionOf[this.slots[i]!] = 0;
    this.count = 0;
  }

  /**
   * Puts `slot` at position `i` with activation this.incoming. The value comes from the field, not
   * an argument: a double passed to a call V8 does not inline is boxed, and bench brain's allocation
   * sites named activateRetrieved (17-38 B per step) in runs where this call was not inlined.
   */
  private insertIncoming(i: number, slot: number): void {
    const value = this.incoming;
    this.slots[i] = slot;
    this.generations[i] = this.store.generation[slot]!;
    this.activation[i] = value > 1 ? 1 : value;
    this.positionOf[slot] = i + 1;
  }

  private removeAt(i: number): void {
    this.positionOf[this.slots[i]!] = 0;
    const last = --this.count;
    if (i !== last) {
      this.slots[i] = this.slots[last]!;
      this.generations[i] = this.generations[last]!;
      this.activation[i] = this.activation[last]!;
      this.positionOf[this.slots[i]!] = i + 1;
    }
  }
}
