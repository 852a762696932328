/**
 * Approximate search through hnswlib-node: the path for large memories (MEASUREMENTS.md: beats a
 * JS scan from about N = 1,000 at d = 32-64, and stays at 30-50 µs per query up to 1e6).
 *
 * hnswlib-node is imported here and nowhere else, lazily inside the factory, so a machine without
 * the native addon loses this path with a clear Error instead of crashing at import.
 *
 * Labels are store slots. A slot is always the same hnswlib element: `remove` marks it deleted and
 * a later `upsert` of that slot unmarks it and overwrites its vector in place (hnswlib's
 * updatePoint repairs the links), so eviction and slot reuse never need a rebuild and the index
 * never holds more than `capacity` elements. (replaceDeleted would hand a deleted element to a
 * different label; with label = slot we do not need it.)
 *
 * The library boundary allocates: searchKnn takes a plain number[] and returns a new object of two
 * arrays. We reuse one number[] scratch for the query, cross the boundary once per search and copy
 * the result into the caller's typed arrays. That allocation is the one documented exception to
 * the no-allocation rule on this path.
 */
import type { VectorSource } from '../memory/store.js';
import type { BackendFactory, SimilarityBackend } from './backend.js';

type HnswModule = typeof import('hnswlib-node');
type HierarchicalNSW = InstanceType<HnswModule['HierarchicalNSW']>;

export interface HnswOptions {
  M: number;
  efConstruction: number;
  efSearch: number;
  /** hnswlib's level generator seed: the same inserts give the same graph */
  seed?: number;
  /** elements allocated at start; the index doubles (resizeIndex) up to the store's capacity */
  initialElements?: number;
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
  /** the one number[] that crosses into the addon for queries and inserts */
  private readonly scratch: number[];

  constructor(
    private readonly module: HnswModule,
    private readonly source: VectorSource,
    private readonly options: HnswOptions,
    private index: HierarchicalNSW = new module.HierarchicalNSW('l2', source.dim),
  ) {
    this.dim = source.dim;
    this.capacity = source.capacity;
    this.slotState = new Uint8Array(source.capacity);
    this.scratch = new Array<number>(source.dim).fill(0);
    this.maxElements = Math.min(source.capacity, Math.max(16, options.initialElements ?? 1024));
    this.index.initIndex(this.maxElements, options.M, options.efConstruction, options.seed ?? 100, false);
    this.index.setEf(options.efSearch);
  }

  size(): number {
    return this.liveCount;
  }

  /** Inserts or overwrites `slot`. Costs an HNSW insert (tens to hundreds of µs): slack time only. */
  upsert(slot: number, vector: Float32Array): void {
    if (slot < 0 || slot >= this.capacity || vector.length < this.dim) return;
    const scratch = this.scratch;
    for (let i = 0; i < this.dim; i++) scratch[i] = vector[i]!;
    const state = this.slotState[slot];
    if (state === Absent) {
      if (this.elementCount >= this.maxElements) this.grow();
      this.elementCount++;
    } else if (state === Deleted) {
      this.index.unmarkDelete(slot);
    }
    // For an existing label this is hnswlib's in-place update; for a new one, an insert.
    this.index.addPoint(scratch, slot, false);
    if (state !== Live) {
      this.slotState[slot] = Live;
      this.liveCount++;
    }
  }

  remove(slot: number): void {
    if (slot < 0 || slot >= this.capacity || this.slotState[slot] !== Live) return;
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
   * Snapshot support (issue 8): writes the index file (hnswlib's own format, ~405 B per vector at
   * d = 64). Save the store alongside: the index holds labels (slots), not experiences.
   */
  async saveIndex(path: string): Promise<void> {
    await this.index.writeIndex(path);
  }

  /**
   * Replaces this index with one read from `path` (written by saveIndex for a store of the same
   * dim). Restore the store first: the index is then reconciled with it (slots dead in the store
   * are marked deleted, live slots missing from the file are inserted, live slots whose vector
   * changed since the file was written are updated), so the two agree even if the file is older.
   * Cost at load: one getPoint per live slot (about a second per million at d = 64).
   */
  async loadIndex(path: string): Promise<void> {
    const loaded = new this.module.HierarchicalNSW('l2', this.dim);
    await loaded.readIndex(path, false);
    if (loaded.getNumDimensions() !== this.dim) {
      throw new Error(`HNSW index ${path} has dim ${loaded.getNumDimensions()}, expected ${this.dim}`);
    }
    if (loaded.getMaxElements() > this.capacity) {
      throw new Error(
        `HNSW index ${path} holds up to ${loaded.getMaxElements()} elements, capacity is ${this.capacity}`,
      );
    }
    this.index = loaded;
    this.index.setEf(this.options.efSearch);
    this.maxElements = loaded.getMaxElements();
    this.slotState.fill(Absent);
    this.liveCount = 0;
    this.elementCount = 0;
    const alive = this.source.alive;
    for (const label of loaded.getIdsList()) {
      if (label < 0 || label >= this.capacity) throw new Error(`HNSW index ${path} holds label ${label} >= capacity`);
      this.elementCount++;
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
    // Live slots the file lacks are inserted; live slots whose stored vector differs from the
    // store's (the slot was reused after the snapshot) are updated in place.
    const vectors = this.source.vectors;
    const dim = this.dim;
    for (let slot = 0; slot < this.capacity; slot++) {
      if (alive[slot] !== 1) continue;
      const view = vectors.subarray(slot * dim, (slot + 1) * dim);
      if (this.slotState[slot] === Absent) {
        this.upsert(slot, view);
        continue;
      }
      const stored = loaded.getPoint(slot);
      for (let i = 0; i < dim; i++) {
        if (Math.fround(stored[i]!) !== view[i]) {
          this.upsert(slot, view);
          break;
        }
      }
    }
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
    const scratch = this.scratch;
    for (let i = 0; i < this.dim; i++) scratch[i] = query[queryOffset + i]!;
    const result = this.index.searchKnn(scratch, want);
    const neighbors = result.neighbors;
    const distances = result.distances;
    const count = neighbors.length;
    for (let i = 0; i < count; i++) {
      outSlots[outOffset + i] = neighbors[i]!;
      outDist[outOffset + i] = distances[i]!;
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
      let module: HnswModule;
      try {
        const imported = (await import('hnswlib-node')) as HnswModule & { default?: HnswModule };
        module = imported.HierarchicalNSW ? imported : (imported.default as HnswModule);
      } catch (error) {
        return new Error(`hnswlib-node is not loadable here (${(error as Error).message}); the HNSW path is off`);
      }
      try {
        return new HnswBackend(module, source, options);
      } catch (error) {
        return new Error(`hnswlib-node failed to create an index: ${(error as Error).message}`);
      }
    },
  };
}
