import type { Clock } from '../../runtime/contracts.js';
import type { VectorSource } from '../memory/store.js';

/**
 * One interface for every similarity path (hnswlib's habit: brute force implements the same
 * interface and is the recall oracle). Vectors live in slots 0..capacity-1 of the experience store;
 * a backend indexes slot ids, so eviction and slot reuse need no renumbering.
 *
 * Distances are squared Euclidean over the context vector. Results go into caller-owned typed
 * arrays; the return value is how many neighbours were written (<= k). Nothing here allocates per
 * call except where a native library forces it (hnswlib-node), which the backend documents.
 */
export interface SimilarityBackend {
  /** registry name: 'linear' | 'hnsw' | 'tensor' */
  readonly name: string;
  readonly dim: number;
  readonly capacity: number;
  /** live (inserted and not removed) vectors */
  size(): number;
  /**
   * Insert or overwrite the vector for `slot` (slot reuse after eviction overwrites). A backend
   * may defer the write to its slack-time `maintain` (HNSW with deferWrites, the tensor upload):
   * until then searches do not see it.
   */
  upsert(slot: number, vector: Float32Array): void;
  /** Remove `slot` from search results. */
  remove(slot: number): void;
  /**
   * k nearest live slots to `query` (length dim), nearest first. Writes slot ids into `outSlots`
   * and squared distances into `outDist`; returns the count written.
   */
  search(query: Float32Array, k: number, outSlots: Int32Array, outDist: Float32Array): number;
  /**
   * Batched search: `queries` holds `batch` vectors back to back; results for query q start at
   * q*k in the outputs; `outCounts[q]` gets each count. Backends without a native batch path loop.
   */
  searchBatch(
    queries: Float32Array,
    batch: number,
    k: number,
    outSlots: Int32Array,
    outDist: Float32Array,
    outCounts: Int32Array,
  ): void;
  /** Search effort knob (HNSW ef); exact backends ignore it. */
  setEffort(ef: number): void;
  /** Release native resources. */
  dispose(): void;
  /**
   * Optional slack-time work of the backend itself (the tensor path uploads changed rows to its
   * device here, HNSW applies deferred writes). Returns by `untilNs` on `clock` (the registry
   * passes its injected clock, so a mock clock makes this exact), or, when `quota` >= 0, does
   * exactly `quota` units of work (fewer only when there is no more) whatever the clock says: a
   * replay repeats the recorded run's work that way. Returns the units done.
   */
  maintain?(untilNs: number, clock: Clock, quota?: number): number;
  /**
   * Optional: false while the backend still has slack-time work before its device copy matches
   * what was upserted (it still answers exactly meanwhile). The registry switches to a path only
   * when it is built and synced.
   */
  isSynced?(): boolean;
  /**
   * Optional: true while the backend holds its writes back (HNSW while a snapshot export writes
   * its file: removes are hidden and queued, nothing is applied). When that happens depends on
   * time, so the flight recorder keeps it per slack and a replay imposes it with
   * `holdWritesForReplay`.
   */
  writesHeld?(): boolean;
  /** Optional, replay: hold writes back exactly as a recorded export did (no file is written). */
  holdWritesForReplay?(held: boolean): void;
  /** Optional: a line naming the device or library variant serving this path (for logs). */
  describe?(): string;
}

/** How a backend is created; registered with a priority like tfjs backends. */
export interface BackendFactory {
  readonly name: string;
  /**
   * The lookup path this factory serves ('linear' | 'hnsw' | 'tensor'); defaults to `name`.
   * Several factories may serve one path (tensor: tfjs-node-gpu, webgpu, wasm, cpu).
   */
  readonly path?: string;
  /** higher tries first when several can serve the same role */
  readonly priority: number;
  /**
   * Create the backend over the given dimensions, or return an Error that says why this path is
   * unavailable on this machine (missing optional dependency, no GPU). Never throws for that.
   * `source` is the experience store's vector array (zero copy): a backend may read it to build
   * its index in slack time, and an exact scan may search it directly.
   */
  create(source: VectorSource): Promise<SimilarityBackend | Error>;
}

/**
 * What the brain holds for lookups: one SimilarityBackend face over whichever path is active
 * (the registry implements this). The active path changes only inside `atCycleBoundary`, and a
 * new path's index is built incrementally in `maintain`, in slack time.
 */
export interface SimilarityIndex extends SimilarityBackend {
  /** The only moment the active path may switch (decided from size, batch and the profile). */
  atCycleBoundary(): void;
  /**
   * Slack-time work (building a pending path's index, the backends' own) that returns by
   * `untilNs`. Returns the units done (inserts into a path being built, deferred writes applied,
   * device uploads): how many fit depended on time, so the flight recorder keeps the count.
   */
  maintain(untilNs: number): number;
  /**
   * Replay: the next `maintain` does exactly `units` units (in the same order, so the same ones as
   * the recorded run), ignoring the clock. Negative: back to the clock.
   */
  setSlackQuota(units: number): void;
  /** True while a path holds its writes back (a snapshot export is writing the HNSW index). */
  writesHeld(): boolean;
  /** Replay: every path holds its writes back (true) or not, as the recorded run's did. */
  holdWritesForReplay(held: boolean): void;
  /** name of the active path and why it was chosen (for metrics and the profile record) */
  activePath(): string;
}
