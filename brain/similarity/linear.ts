/**
 * Exact scan over the store's one Float32Array: always available, the recall oracle every other
 * backend is tested against, and the fastest path for small memories (MEASUREMENTS.md: a JS scan
 * wins below about N = 1,000 at d = 32-64). It reads the store's vectors in place: no copy.
 */
import type { VectorSource } from '../memory/store.js';
import type { BackendFactory, SimilarityBackend } from './backend.js';
import { insertTopK, squaredDistance } from './topk.js';

export class LinearBackend implements SimilarityBackend {
  readonly name = 'linear';
  readonly dim: number;
  readonly capacity: number;
  /** live flags owned by this backend: the store may mark a slot alive before it is inserted here */
  private readonly indexed: Uint8Array;
  private liveCount = 0;
  /** highest indexed slot + 1: the scan stops there (a young memory is dense at the front) */
  private highWater = 0;

  constructor(private readonly source: VectorSource) {
    this.dim = source.dim;
    this.capacity = source.capacity;
    this.indexed = new Uint8Array(source.capacity);
  }

  size(): number {
    return this.liveCount;
  }

  upsert(slot: number, vector: Float32Array): void {
    if (slot < 0 || slot >= this.capacity || vector.length < this.dim) return;
    const vectors = this.source.vectors;
    const base = slot * this.dim;
    // The store normally wrote the vector already (vector is a view of it); copy when it did not.
    if (vector.buffer !== vectors.buffer || vector.byteOffset !== vectors.byteOffset + base * 4) {
      // Element by element: subarray() would allocate a view on every insert.
      for (let i = 0; i < this.dim; i++) vectors[base + i] = vector[i]!;
    }
    if (this.indexed[slot] === 0) {
      this.indexed[slot] = 1;
      this.liveCount++;
    }
    if (slot >= this.highWater) this.highWater = slot + 1;
  }

  remove(slot: number): void {
    if (this.indexed[slot] === 1) {
      this.indexed[slot] = 0;
      this.liveCount--;
    }
  }

  search(query: Float32Array, k: number, outSlots: Int32Array, outDist: Float32Array): number {
    if (query.length < this.dim) return 0;
    return this.scan(query, 0, k, outSlots, outDist, 0);
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
      outCounts[q] = valid ? this.scan(queries, q * this.dim, k, outSlots, outDist, q * k) : 0;
    }
  }

  setEffort(_ef: number): void {}

  dispose(): void {}

  private scan(
    query: Float32Array,
    queryOffset: number,
    k: number,
    outSlots: Int32Array,
    outDist: Float32Array,
    outOffset: number,
  ): number {
    const room = Math.min(outSlots.length, outDist.length) - outOffset;
    if (k > room) k = room;
    if (k <= 0) return 0;
    const dim = this.dim;
    const vectors = this.source.vectors;
    const indexed = this.indexed;
    let count = 0;
    let worst = Number.POSITIVE_INFINITY;
    for (let slot = 0; slot < this.highWater; slot++) {
      if (indexed[slot] === 0) continue;
      const dist = squaredDistance(query, queryOffset, vectors, slot * dim, dim);
      if (count < k || dist < worst) {
        count = insertTopK(outSlots, outDist, outOffset, count, k, slot, dist);
        if (count === k) worst = outDist[outOffset + k - 1]!;
      }
    }
    return count;
  }
}

export const linearFactory: BackendFactory = {
  name: 'linear',
  priority: 0,
  async create(source) {
    return new LinearBackend(source);
  },
};
