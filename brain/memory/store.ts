/**
 * Experience memory as structure-of-arrays typed arrays with a fixed capacity (allocated once).
 * An experience is one sensory-motor moment: the context it was in, the action taken, what
 * followed (outcome = next context minus this context, in normalised units) and the reward.
 *
 * Slots are reused after eviction. Each reuse bumps the slot's generation, so a link recorded to
 * an earlier occupant is recognised as dead without scanning anyone's links (hnswlib's habit of
 * generation counters instead of clearing).
 */

/** Sizes that fix the store's layout; all from config. */
export interface StoreLayout {
  /** hard cap by count: the arrays hold exactly this many experiences */
  capacity: number;
  /** length of the normalised context vector (state, after encoding) */
  contextDim: number;
  actionDim: number;
  /** k: links kept per experience to its most similar experiences at store time */
  linksPerExperience: number;
}

/** Read-only view of the vectors a similarity backend may build from (zero copy). */
export interface VectorSource {
  readonly dim: number;
  readonly capacity: number;
  /** capacity * dim floats; slot s at [s*dim, (s+1)*dim) */
  readonly vectors: Float32Array;
  /** 1 where the slot holds a live experience */
  readonly alive: Uint8Array;
}

export const NO_SLOT = -1;

export class ExperienceStore implements VectorSource {
  readonly capacity: number;
  readonly contextDim: number;
  readonly actionDim: number;
  readonly linksPerExperience: number;

  /** capacity * contextDim: normalised context (the lookup key) */
  readonly context: Float32Array;
  /** capacity * actionDim */
  readonly action: Float32Array;
  /** capacity * contextDim: next context minus context (normalised units) */
  readonly outcome: Float32Array;
  readonly reward: Float32Array;
  /** discounted return estimate, refreshed by TD backups when successors are stored */
  readonly returnEstimate: Float32Array;
  /** |predicted outcome - actual outcome| when the experience was stored (novelty / surprise) */
  readonly predictionError: Float32Array;
  readonly accessCount: Uint32Array;
  /** brain step index of the last retrieval (or of storing) */
  readonly lastAccess: Float64Array;
  /** brain step index when stored */
  readonly createdAt: Float64Array;
  /** slot of the experience that followed in the same episode, or NO_SLOT */
  readonly successor: Int32Array;
  readonly successorGeneration: Uint32Array;
  /** capacity * linksPerExperience: slots of the most similar experiences at store time */
  readonly links: Int32Array;
  /** generation of the linked slot when the link was made; a mismatch means the link is dead */
  readonly linkGeneration: Uint32Array;
  /** capacity * linksPerExperience: link strength in (0, 1], from similarity */
  readonly linkWeight: Float32Array;
  readonly generation: Uint32Array;
  readonly alive: Uint8Array;

  /** stack of free slots; top at freeTop - 1 */
  private readonly freeSlots: Int32Array;
  private freeTop: number;
  private liveCount = 0;

  constructor(layout: StoreLayout) {
    const { capacity, contextDim, actionDim, linksPerExperience } = layout;
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`store capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(contextDim) || contextDim < 1)
      throw new RangeError(`contextDim must be a positive integer, got ${contextDim}`);
    if (!Number.isInteger(actionDim) || actionDim < 1)
      throw new RangeError(`actionDim must be a positive integer, got ${actionDim}`);
    if (!Number.isInteger(linksPerExperience) || linksPerExperience < 0) {
      throw new RangeError(`linksPerExperience must be a non-negative integer, got ${linksPerExperience}`);
    }
    this.capacity = capacity;
    this.contextDim = contextDim;
    this.actionDim = actionDim;
    this.linksPerExperience = linksPerExperience;
    this.context = new Float32Array(capacity * contextDim);
    this.action = new Float32Array(capacity * actionDim);
    this.outcome = new Float32Array(capacity * contextDim);
    this.reward = new Float32Array(capacity);
    this.returnEstimate = new Float32Array(capacity);
    this.predictionError = new Float32Array(capacity);
    this.accessCount = new Uint32Array(capacity);
    this.lastAccess = new Float64Array(capacity);
    this.createdAt = new Float64Array(capacity);
    this.successor = new Int32Array(capacity).fill(NO_SLOT);
    this.successorGeneration = new Uint32Array(capacity);
    this.links = new Int32Array(capacity * linksPerExperience).fill(NO_SLOT);
    this.linkGeneration = new Uint32Array(capacity * linksPerExperience);
    this.linkWeight = new Float32Array(capacity * linksPerExperience);
    this.generation = new Uint32Array(capacity);
    this.alive = new Uint8Array(capacity);
    this.freeSlots = new Int32Array(capacity);
    // Hand out low slots first so a small memory stays dense at the front of the arrays.
    for (let i = 0; i < capacity; i++) this.freeSlots[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  get dim(): number {
    return this.contextDim;
  }

  /** vectors for similarity backends: the context array itself (zero copy) */
  get vectors(): Float32Array {
    return this.context;
  }

  size(): number {
    return this.liveCount;
  }

  isFull(): boolean {
    return this.freeTop === 0;
  }

  /**
   * Takes a free slot (bumping its generation so old links to it die) and returns it, or NO_SLOT
   * when the store is full: the caller evicts first. Fields are reset; the caller fills them.
   */
  allocate(step: number): number {
    if (this.freeTop === 0) return NO_SLOT;
    const slot = this.freeSlots[--this.freeTop]!;
    this.generation[slot] = (this.generation[slot]! + 1) >>> 0;
    this.alive[slot] = 1;
    this.liveCount++;
    this.reward[slot] = 0;
    this.returnEstimate[slot] = 0;
    this.predictionError[slot] = 0;
    this.accessCount[slot] = 0;
    this.lastAccess[slot] = step;
    this.createdAt[slot] = step;
    this.successor[slot] = NO_SLOT;
    const linkBase = slot * this.linksPerExperience;
    this.links.fill(NO_SLOT, linkBase, linkBase + this.linksPerExperience);
    return slot;
  }

  /** Frees a live slot for reuse. Links pointing at it die through the generation check. */
  release(slot: number): void {
    if (this.alive[slot] !== 1) return;
    this.alive[slot] = 0;
    this.liveCount--;
    this.freeSlots[this.freeTop++] = slot;
  }

  /** The free-slot stack, bottom first (the last entry is handed out next): a copy, for snapshots. */
  exportFreeList(): Int32Array {
    return this.freeSlots.slice(0, this.freeTop);
  }

  /**
   * Reorders the free stack after a restore so slots are handed out in `saved` order (bottom
   * first). Only slots that are free now count: entries that are live or repeated are skipped, and
   * free slots `saved` lacks go to the bottom (highest first), so the stack holds exactly the free
   * slots whatever `saved` says. Returns how many saved entries were used.
   */
  restoreFreeList(saved: Int32Array): number {
    const capacity = this.capacity;
    const placed = new Uint8Array(capacity);
    const order = new Int32Array(capacity);
    let count = 0;
    for (let i = 0; i < saved.length; i++) {
      const slot = saved[i]!;
      if (slot < 0 || slot >= capacity || this.alive[slot] === 1 || placed[slot] === 1) continue;
      placed[slot] = 1;
      order[count++] = slot;
    }
    const used = count;
    let top = 0;
    for (let slot = capacity - 1; slot >= 0; slot--) {
      if (this.alive[slot] === 0 && placed[slot] === 0) this.freeSlots[top++] = slot;
    }
    for (let i = 0; i < used; i++) this.freeSlots[top++] = order[i]!;
    this.freeTop = top;
    return used;
  }

  /** True when link j of `slot` points at a live experience (not a later occupant of its slot). */
  linkIsLive(slot: number, j: number): boolean {
    const index = slot * this.linksPerExperience + j;
    const target = this.links[index]!;
    return target !== NO_SLOT && this.alive[target] === 1 && this.generation[target] === this.linkGeneration[index];
  }

  /** The successor of `slot` if it is still the same experience, else NO_SLOT. */
  liveSuccessor(slot: number): number {
    const next = this.successor[slot]!;
    return next !== NO_SLOT && this.alive[next] === 1 && this.generation[next] === this.successorGeneration[slot]
      ? next
      : NO_SLOT;
  }

  /** Bytes of typed-array payload per experience slot (the store's own arrays, not an index). */
  static bytesPerSlot(layout: Omit<StoreLayout, 'capacity'>): number {
    const { contextDim, actionDim, linksPerExperience } = layout;
    const floats = contextDim * 2 + actionDim + 3; // context, outcome, action, reward, return, error
    const perLink = 4 + 4 + 4; // slot, generation, weight
    return floats * 4 + 4 + 8 + 8 + 4 + 4 + linksPerExperience * perLink + 4 + 1 + 4; // + free-list entry
  }
}
