/**
 * Approximate search through hnswlib-node: the path for large memories (MEASUREMENTS.md: beats a
 * JS scan from about N = 1,000 at d = 32-64, and stays at 30-50 µs per query up to 1e6).
 *
 * hnswlib-node is imported here and nowhere else, lazily inside the factory, so a machine without
 * the native addon loses this path with a clear Error instead of crashing at import.
 *
 * Labels are store slots. A slot is always the same hnswlib element: `remove` marks it deleted and
 * a later `upsert` of that slot unmarks it and moves it to the new vector in place (the addon's
 * move, native/hnsw/move.h, or hnswlib's updatePoint: both re-select the old neighbours' links and
 * build the same graph), so eviction and slot reuse never need a rebuild and the index
 * never holds more than `capacity` elements. (replaceDeleted would hand a deleted element to a
 * different label; with label = slot we do not need it.)
 *
 * The native calls go through an `HnswIndexHandle` (hnsw-binding.ts): engram's typed addon, where a
 * search or an insert allocates nothing on the JS heap, or hnswlib-node's published binding when the
 * addon is not built (it boxes every query element and returns a new result object per search).
 *
 * Deferred writes (`deferWrites`, what the registry uses). An insert costs 30-150 µs, but an update
 * of an existing label (slot reuse after eviction, re-encoding) repairs every neighbour's links
 * (hnswlib's updatePoint, before the addon's move): measured here at N = 5,000, d = 64: p50 0.9 ms, p99 1.7 ms,
 * p99.9 3.5 ms (d = 3: p50 56 µs, p99.9 4 ms). Done inside the brain's maintain that overran its
 * 2 ms slack window. With deferWrites, `upsert` only queues the slot (one queue entry per slot,
 * so the queue never holds more than `capacity`); `maintain(untilNs)` applies queued slots, reading
 * their vectors from the store, and starts one only when its estimated cost (a decaying recent
 * maximum) fits before `untilNs`. `remove` is applied at once (markDelete: ~1 µs), so a search
 * never returns an evicted slot; a queued slot is searchable with its previous vector (an update)
 * or not yet (an insert) until applied. Searches on this path therefore depend on how much slack
 * time there was, like the registry's own build (docs/persistence.md, Replay).
 *
 * Export for snapshots (`beginExport`): hnswlib writes its index file from a worker thread and
 * must not see concurrent writes, so while it writes, nothing is applied (removes are queued too and
 * hidden from searches). From the export on, every slot whose index entry may differ from the file
 * is marked in `dirty` (queued then, or touched since), so a restore only repairs those slots.
 */
import { type Clock, monotonicClock } from '../../runtime/contracts.js';
import type { VectorSource } from '../memory/store.js';
import type { BackendFactory, SimilarityBackend } from './backend.js';
import {
  type HnswBinding,
  type HnswBindingName,
  type HnswIndexHandle,
  type HnswMoveMethod,
  loadHnswBinding,
} from './hnsw-binding.js';

export interface HnswOptions {
  M: number;
  efConstruction: number;
  efSearch: number;
  /** hnswlib's level generator seed: the same inserts give the same graph */
  seed?: number;
  /** elements allocated at start; the index doubles (resizeIndex) up to the store's capacity */
  initialElements?: number;
  /** queue upserts and apply them in maintain(untilNs) (see the file comment); default false */
  deferWrites?: boolean;
  /** the native binding (hnsw-binding.ts); default: engram's typed addon, else hnswlib-node */
  binding?: HnswBindingName;
  /**
   * how a slot moves to a new vector (hnsw-binding.ts, setMoveMethod): `hnswlib` is the reference
   * that `engram bench hnsw` measures side by side; hnswlib-node's binding always moves that way
   */
  moveMethod?: HnswMoveMethod;
}

/** Per-slot state inside the index. */
const Absent = 0;
const Live = 1;
const Deleted = 2;

export class HnswBackend implements SimilarityBackend {
  readonly name = 'hnsw';
  readonly dim: number;
  readonly capacity: number;
  private readonly slotState: Uint8Array;
  private liveCount = 0;
  /** distinct slots ever added (live + deleted): hnswlib's element count */
  private elementCount = 0;
  private maxElements: number;
  /** search results while slots are hidden (an export is writing): grown on demand, rare */
  private hiddenSearchSlots = new Int32Array(0);
  private hiddenSearchDist = new Float32Array(0);
  /** why the typed binding was not used (undefined when it is) */
  readonly bindingNote: string | undefined;
  private readonly deferWrites: boolean;
  /** deferred slots, a ring of `capacity` (a slot is in it at most once: `queued`) */
  private readonly queue: Int32Array;
  private readonly queued: Uint8Array;
  private queueHead = 0;
  private queueLength = 0;
  /** per slot: 1 = should be live (upserted and not removed since) */
  private readonly wanted: Uint8Array;
  /** removed while an export was writing: still in the native index, hidden from searches */
  private readonly hidden: Uint8Array;
  private hiddenCount = 0;
  /** estimated cost of applying one queued slot (decaying recent maximum), ns */
  private applyCostNs = 0;
  /** maintain's clock readings (Clock.stampNs: a returned double is boxed where not inlined) */
  private readonly stamps = new Float64Array(2);
  /** an index file is being written from hnswlib's worker thread: apply nothing */
  private exporting = false;
  /** replay: writes held back as during a recorded export, with no file written */
  private heldForReplay = false;
  /** per slot since the last beginExport: 1 = the exported file may differ from the store here */
  private dirty: Uint8Array | undefined;
  /** importIndex loaded this index and no registry has adopted it yet (takeImported) */
  private imported = false;
  /** counted for metrics and tests */
  readonly counters = { applied: 0, deferredRemoves: 0, maxQueue: 0 };

  constructor(
    private readonly binding: HnswBinding,
    private readonly source: VectorSource,
    private readonly options: HnswOptions,
    bindingNote?: string,
    private index: HnswIndexHandle = binding.create(source.dim),
  ) {
    this.dim = source.dim;
    this.capacity = source.capacity;
    this.bindingNote = bindingNote;
    this.slotState = new Uint8Array(source.capacity);
    this.deferWrites = options.deferWrites ?? false;
    this.queue = new Int32Array(this.deferWrites ? source.capacity : 0);
    this.queued = new Uint8Array(this.deferWrites ? source.capacity : 0);
    this.wanted = new Uint8Array(source.capacity);
    this.hidden = new Uint8Array(source.capacity);
    this.maxElements = Math.min(source.capacity, Math.max(16, options.initialElements ?? 1024));
    this.index.initIndex(this.maxElements, options.M, options.efConstruction, options.seed ?? 100);
    this.configureIndex();
  }

  /**
   * What the native index takes from the options, at start and after importIndex: efSearch and the
   * move method. Throws when engram's move is asked of a binding that has only hnswlib's updatePoint.
   */
  private configureIndex(): void {
    this.index.setEf(this.options.efSearch);
    const method: HnswMoveMethod | undefined = this.options.moveMethod;
    if (method === undefined) return;
    if (this.index.setMoveMethod !== undefined) this.index.setMoveMethod(method);
    else if (method === 'engram') {
      throw new Error(`the ${this.binding.name} binding moves a slot only with hnswlib's updatePoint`);
    }
  }

  size(): number {
    return this.liveCount;
  }

  /** Which native binding serves this index. */
  get bindingName(): HnswBindingName {
    return this.binding.name;
  }

  /** For the registry's "ready" log line: the binding, and why it is the slower one if it is. */
  describe(): string {
    if (this.binding.name === 'typed') return 'hnswlib (engram typed binding)';
    return `hnswlib-node (allocates per search${this.bindingNote ? `; ${this.bindingNote}` : ''})`;
  }

  /** Index parameters (a saved index is reused only when they match). */
  get parameters(): { M: number; efConstruction: number; dim: number } {
    return { M: this.options.M, efConstruction: this.options.efConstruction, dim: this.dim };
  }

  /**
   * Inserts or overwrites `slot`. Immediate: an HNSW insert or update (tens of µs to ms). With
   * deferWrites the vector is the store's row (a different vector is written into it first, as the
   * tensor path does) and the slot is queued for maintain.
   */
  upsert(slot: number, vector: Float32Array): void {
    if (slot < 0 || slot >= this.capacity || vector.length < this.dim) return;
    this.wanted[slot] = 1;
    if (this.dirty !== undefined) this.dirty[slot] = 1;
    if (!this.deferWrites) {
      this.apply(slot, vector, 0);
      return;
    }
    const dim = this.dim;
    const vectors = this.source.vectors;
    const base = slot * dim;
    if (vector.buffer !== vectors.buffer || vector.byteOffset !== vectors.byteOffset + base * 4) {
      vectors.set(vector.subarray(0, dim), base);
    }
    this.enqueue(slot);
  }

  remove(slot: number): void {
    if (slot < 0 || slot >= this.capacity || this.wanted[slot] !== 1) return;
    this.wanted[slot] = 0;
    if (this.dirty !== undefined) this.dirty[slot] = 1;
    if (this.writesHeld()) {
      // The worker thread is reading the native index: hide the slot now, mark it deleted later.
      if (this.slotState[slot] === Live && this.hidden[slot] === 0) {
        this.hidden[slot] = 1;
        this.hiddenCount++;
      }
      this.counters.deferredRemoves++;
      this.enqueue(slot);
      return;
    }
    this.markDeleted(slot);
  }

  /** Slots queued and not applied yet (0 when synced). */
  pending(): number {
    return this.queueLength;
  }

  /** True when every upsert and remove has reached the native index. */
  isSynced(): boolean {
    return this.queueLength === 0;
  }

  /**
   * Applies queued slots until `untilNs`, starting one only when its estimated cost fits, or, with
   * `quota` >= 0, exactly `quota` of them (replay). Nothing while an export is writing. Returns how
   * many were applied.
   */
  maintain(untilNs: number, clock: Clock = monotonicClock, quota = -1): number {
    if (this.writesHeld() || this.queueLength === 0) return 0;
    let applied = 0;
    if (quota >= 0) {
      while (applied < quota && this.queueLength > 0) {
        this.applyNext();
        applied++;
      }
      return applied;
    }
    const stamps = this.stamps;
    while (this.queueLength > 0) {
      clock.stampNs(stamps, 0);
      const before = stamps[0]!;
      if (before + this.applyCostNs > untilNs) {
        // Let the estimate decay so that one slow update does not stop the queue for good.
        this.applyCostNs *= 0.9;
        break;
      }
      this.applyNext();
      applied++;
      clock.stampNs(stamps, 1);
      const cost = stamps[1]! - before;
      this.applyCostNs = cost > this.applyCostNs ? cost : 0.95 * this.applyCostNs + 0.05 * cost;
    }
    return applied;
  }

  /** Applies every queued slot now, whatever it costs (shutdown, tests, benchmarks). */
  flush(): void {
    if (this.exporting) throw new Error('HNSW flush while an index export is writing');
    while (this.queueLength > 0) this.applyNext();
  }

  private enqueue(slot: number): void {
    if (this.queued[slot] === 1) return;
    this.queued[slot] = 1;
    this.queue[(this.queueHead + this.queueLength) % this.capacity] = slot;
    this.queueLength++;
    if (this.queueLength > this.counters.maxQueue) this.counters.maxQueue = this.queueLength;
  }

  private applyNext(): void {
    const slot = this.queue[this.queueHead]!;
    this.queueHead = (this.queueHead + 1) % this.capacity;
    this.queueLength--;
    this.queued[slot] = 0;
    if (this.hidden[slot] === 1) {
      this.hidden[slot] = 0;
      this.hiddenCount--;
    }
    if (this.wanted[slot] === 1) {
      // The store's row read in place: a subarray view here would allocate on every maintain.
      this.apply(slot, this.source.vectors, slot * this.dim);
    } else {
      this.markDeleted(slot);
    }
    this.counters.applied++;
  }

  /** The native insert or update of `slot` with the vector at vectors[offset..offset + dim). */
  private apply(slot: number, vectors: Float32Array, offset: number): void {
    const state = this.slotState[slot];
    if (state === Absent) {
      if (this.elementCount >= this.maxElements) this.grow();
      this.elementCount++;
    } else if (state === Deleted) {
      this.index.unmarkDelete(slot);
    }
    // For an existing label this is hnswlib's in-place update; for a new one, an insert.
    this.index.addPoint(vectors, offset, slot);
    if (state !== Live) {
      this.slotState[slot] = Live;
      this.liveCount++;
    }
  }

  private markDeleted(slot: number): void {
    if (this.slotState[slot] !== Live) return;
    this.index.markDelete(slot);
    this.slotState[slot] = Deleted;
    this.liveCount--;
  }

  search(query: Float32Array, k: number, outSlots: Int32Array, outDist: Float32Array): number {
    if (query.length < this.dim) return 0;
    return this.searchAt(query, 0, k, outSlots, outDist, 0);
  }

  searchBatch(
    queries: Float32Array,
    batch: number,
    k: number,
    outSlots: Int32Array,
    outDist: Float32Array,
    outCounts: Int32Array,
  ): void {
    const valid = queries.length >= batch * this.dim;
    for (let q = 0; q < batch; q++) {
      outCounts[q] = valid ? this.searchAt(queries, q * this.dim, k, outSlots, outDist, q * k) : 0;
    }
  }

  setEffort(ef: number): void {
    if (Number.isInteger(ef) && ef > 0) this.index.setEf(ef);
  }

  dispose(): void {
    // hnswlib-node frees the index when the object is collected; drop our reference.
    this.liveCount = 0;
  }

  /**
   * Snapshot support: writes the index file (hnswlib's format, ~405 B per vector at d = 64) from
   * hnswlib's worker thread. Until it resolves nothing is applied (removes are hidden instead); from
   * now until the next export, `dirty` marks every slot where the file may differ from the store
   * (queued now, or upserted/removed since). Save the store alongside: the index holds labels
   * (slots), not experiences.
   */
  async beginExport(path: string): Promise<void> {
    if (this.exporting) throw new Error('an HNSW index export is already writing');
    const dirty = this.dirty ?? new Uint8Array(this.capacity);
    if (this.deferWrites) dirty.set(this.queued);
    else dirty.fill(0);
    this.dirty = dirty;
    this.exporting = true;
    try {
      await this.index.writeIndex(path);
    } finally {
      this.exporting = false;
    }
  }

  /** Synchronous export (shutdown): applies the queue first, so the file matches the store exactly. */
  exportSync(path: string): void {
    this.flush();
    const dirty = this.dirty ?? new Uint8Array(this.capacity);
    dirty.fill(0);
    this.dirty = dirty;
    this.index.writeIndexSync(path);
  }

  /** True while writes are held back: an export is writing, or a replay repeats one. */
  writesHeld(): boolean {
    return this.exporting || this.heldForReplay;
  }

  /** Replay: hold writes back (removes hidden and queued, nothing applied) as a recorded export did. */
  holdWritesForReplay(held: boolean): void {
    this.heldForReplay = held;
  }

  /** True while an export's file is being written (nothing is applied meanwhile). */
  isExporting(): boolean {
    return this.exporting;
  }

  /** The slots changed since the last export as a bitmap (bit s%8 of byte s/8); all set if none. */
  dirtyBits(out: Uint8Array): void {
    out.fill(0);
    const dirty = this.dirty;
    for (let slot = 0; slot < this.capacity; slot++) {
      if (dirty === undefined || dirty[slot] === 1) out[slot >> 3]! |= 1 << (slot & 7);
    }
  }

  /** Writes the index file now (applying the queue first). */
  async saveIndex(path: string): Promise<void> {
    this.flush();
    await this.index.writeIndex(path);
  }

  /**
   * Replaces this index with one read from `path` (written by saveIndex / an export for a store of
   * the same dim). Restore the store first: the index is then reconciled with it. Every slot is
   * checked (a getPoint per live slot: about a second per million at d = 64); `importIndex` with
   * the export's dirty bitmap checks only the slots that may differ.
   */
  async loadIndex(path: string): Promise<void> {
    this.importIndex(path, undefined);
  }

  /** Whether `importIndex` can read an index stored inside another file (the typed addon can). */
  canImportFromRegion(): boolean {
    return this.binding.readsRegions;
  }

  /**
   * Reads an index file (or, with `region`, the index stored in `region.length` bytes at
   * `region.offset` of `path`: see canImportFromRegion) and reconciles it with the store (restored
   * first): slots marked in `dirtyBits` (undefined = all) are repaired (dead ones marked deleted,
   * live ones missing from the file inserted, live ones whose vector differs updated); the others
   * are taken as the file has them. Synchronous: start-up only. Throws when the file does not fit
   * this backend.
   */
  importIndex(
    path: string,
    dirtyBits: Uint8Array | undefined,
    region?: { offset: number; length: number },
  ): { repaired: number } {
    const loaded = this.binding.create(this.dim);
    // both bindings refuse a file of another dimension
    if (region === undefined) loaded.readIndexSync(path);
    else if (loaded.readIndexAtSync !== undefined) loaded.readIndexAtSync(path, region.offset, region.length);
    else throw new Error(`the ${this.binding.name} binding reads whole index files only`);
    if (loaded.getMaxElements() > this.capacity) {
      throw new Error(
        `HNSW index ${path} holds up to ${loaded.getMaxElements()} elements, capacity is ${this.capacity}`,
      );
    }
    const ids = loaded.getIdsList();
    for (const label of ids) {
      if (label < 0 || label >= this.capacity) throw new Error(`HNSW index ${path} holds label ${label} >= capacity`);
    }
    this.index = loaded;
    this.configureIndex();
    this.maxElements = Math.max(16, loaded.getMaxElements());
    this.slotState.fill(Absent);
    this.wanted.fill(0);
    this.hidden.fill(0);
    this.hiddenCount = 0;
    this.queued.fill(0);
    this.queueHead = 0;
    this.queueLength = 0;
    this.liveCount = 0;
    this.elementCount = ids.length;
    this.dirty = undefined;
    const alive = this.source.alive;
    const isDirty = (slot: number): boolean =>
      dirtyBits === undefined || ((dirtyBits[slot >> 3] ?? 0xff) & (1 << (slot & 7))) !== 0;
    let repaired = 0;
    for (const label of ids) {
      if (!isDirty(label)) {
        // Unchanged since the export: the file's deleted mark agrees with the store.
        this.slotState[label] = alive[label] === 1 ? Live : Deleted;
        if (alive[label] === 1) this.liveCount++;
        continue;
      }
      // The file does not say which labels were deleted; unmark/mark and ignore "already so".
      if (alive[label] === 1) {
        try {
          loaded.unmarkDelete(label);
        } catch {
          // was live already
        }
        this.slotState[label] = Live;
        this.liveCount++;
      } else {
        try {
          loaded.markDelete(label);
        } catch {
          // was deleted already
        }
        this.slotState[label] = Deleted;
      }
    }
    // Live slots the file lacks are inserted; dirty live slots whose stored vector differs from
    // the store's (the slot was reused or re-encoded after the export) are updated in place.
    const vectors = this.source.vectors;
    const dim = this.dim;
    const stored = new Float32Array(dim);
    for (let slot = 0; slot < this.capacity; slot++) {
      if (alive[slot] !== 1) continue;
      this.wanted[slot] = 1;
      const base = slot * dim;
      if (this.slotState[slot] === Absent) {
        this.apply(slot, vectors, base);
        repaired++;
        continue;
      }
      if (!isDirty(slot)) continue;
      loaded.getPoint(slot, stored, 0);
      for (let i = 0; i < dim; i++) {
        if (stored[i] !== vectors[base + i]) {
          this.apply(slot, vectors, base);
          repaired++;
          break;
        }
      }
    }
    this.imported = true;
    return { repaired };
  }

  /** True once after importIndex: the registry then takes this path as built (no slack-time rebuild). */
  takeImported(): boolean {
    const imported = this.imported;
    this.imported = false;
    return imported;
  }

  private grow(): void {
    this.maxElements = Math.min(this.capacity, this.maxElements * 2);
    this.index.resizeIndex(this.maxElements);
  }

  private searchAt(
    query: Float32Array,
    queryOffset: number,
    k: number,
    outSlots: Int32Array,
    outDist: Float32Array,
    outOffset: number,
  ): number {
    if (this.liveCount === 0) return 0;
    let want = k < this.maxElements ? k : this.maxElements;
    const room = Math.min(outSlots.length, outDist.length) - outOffset;
    if (want > room) want = room;
    if (want <= 0) return 0;
    if (this.hiddenCount === 0) {
      return this.index.searchKnn(query, queryOffset, want, outSlots, outDist, outOffset);
    }
    // Slots removed during an export are still in the native index: ask for more, skip them.
    let ask = want + this.hiddenCount;
    if (ask > this.elementCount) ask = this.elementCount;
    if (this.hiddenSearchSlots.length < ask) {
      this.hiddenSearchSlots = new Int32Array(ask);
      this.hiddenSearchDist = new Float32Array(ask);
    }
    const slots = this.hiddenSearchSlots;
    const distances = this.hiddenSearchDist;
    const found = this.index.searchKnn(query, queryOffset, ask, slots, distances, 0);
    const hidden = this.hidden;
    let count = 0;
    for (let i = 0; i < found && count < want; i++) {
      const slot = slots[i]!;
      if (hidden[slot] === 1) continue;
      outSlots[outOffset + count] = slot;
      outDist[outOffset + count] = distances[i]!;
      count++;
    }
    return count;
  }
}

/** Registered with priority 10: preferred over the scan wherever the profile routes to 'hnsw'. */
export function hnswFactory(options: HnswOptions): BackendFactory {
  return {
    name: 'hnsw',
    priority: 10,
    async create(source) {
      const loaded = await loadHnswBinding(options.binding);
      if (loaded instanceof Error) return new Error(`${loaded.message}; the HNSW path is off`);
      try {
        return new HnswBackend(loaded.binding, source, options, loaded.fallbackReason);
      } catch (error) {
        return new Error(
          `the HNSW index (${loaded.binding.name} binding) failed to start: ${(error as Error).message}`,
        );
      }
    },
  };
}
