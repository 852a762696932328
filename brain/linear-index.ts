/**
 * One similarity backend as a SimilarityIndex that never switches path: the exact scan for small
 * memories, tests and a brain built without the registry, or one chosen backend (a benchmark that
 * wants to measure HNSW alone). The registry is the index that switches.
 */
import { type Clock, monotonicClock } from '../runtime/contracts.js';
import type { VectorSource } from './memory/store.js';
import type { SimilarityBackend, SimilarityIndex } from './similarity/backend.js';
import { LinearBackend } from './similarity/linear.js';

export class SinglePathIndex implements SimilarityIndex {
  readonly name: string;
  readonly dim: number;
  readonly capacity: number;

  private slackQuota = -1;

  constructor(
    private readonly backend: SimilarityBackend,
    private readonly clock: Clock = monotonicClock,
  ) {
    this.name = backend.name;
    this.dim = backend.dim;
    this.capacity = backend.capacity;
  }
  size(): number {
    return this.backend.size();
  }
  upsert(slot: number, vector: Float32Array): void {
    this.backend.upsert(slot, vector);
  }
  remove(slot: number): void {
    this.backend.remove(slot);
  }
  search(query: Float32Array, k: number, outSlots: Int32Array, outDist: Float32Array): number {
    return this.backend.search(query, k, outSlots, outDist);
  }
  searchBatch(
    queries: Float32Array,
    batch: number,
    k: number,
    outSlots: Int32Array,
    outDist: Float32Array,
    outCounts: Int32Array,
  ): void {
    this.backend.searchBatch(queries, batch, k, outSlots, outDist, outCounts);
  }
  setEffort(ef: number): void {
    this.backend.setEffort(ef);
  }
  dispose(): void {
    this.backend.dispose();
  }
  atCycleBoundary(): void {}
  /** The backend's own slack work (HNSW deferred writes, tensor uploads), if it has any. */
  maintain(untilNs: number): number {
    const quota = this.slackQuota;
    this.slackQuota = -1;
    return this.backend.maintain?.(untilNs, this.clock, quota) ?? 0;
  }
  setSlackQuota(units: number): void {
    this.slackQuota = units;
  }
  writesHeld(): boolean {
    return this.backend.writesHeld?.() ?? false;
  }
  holdWritesForReplay(held: boolean): void {
    this.backend.holdWritesForReplay?.(held);
  }
  activePath(): string {
    return this.backend.name;
  }
}

/** The exact scan as an index. */
export class LinearIndex extends SinglePathIndex {
  constructor(source: VectorSource) {
    super(new LinearBackend(source));
  }
}
