/**
 * The native HNSW index behind `HnswBackend`, through one of two bindings to the same hnswlib graph
 * code (the copy hnswlib-node ships, so both read and write the same index files):
 *
 * - `typed`: engram's own addon (native/hnsw, built by `make build` with node-gyp). Vectors cross
 *   as a Float32Array and an offset, results land in caller-owned Int32Array / Float32Array: a
 *   search or an insert allocates nothing on the JS heap. It builds hnswlib with no-op locks and an
 *   array for the label map (~100 bytes less per element; native/hnsw/third_party/hnswlib/ENGRAM.md).
 * - `hnswlib-node`: the published binding, used when engram's addon is not built. Its calls take a
 *   number[] (each element read boxes a heap number) and a search returns a new object of two
 *   arrays: ~1.2 KB per brain step at 16 dimensions (docs/brain.md, "No allocation per step").
 *
 * Both are loaded lazily: a machine without the native code loses the HNSW path with a clear Error
 * instead of crashing at import.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The calls HnswBackend makes; every vector is `dim` floats from `offset` in a Float32Array. */
export interface HnswIndexHandle {
  initIndex(maxElements: number, M: number, efConstruction: number, seed: number): void;
  resizeIndex(maxElements: number): void;
  setEf(ef: number): void;
  /** inserts `label`, or moves it to a new vector (the old neighbours' links are re-selected) */
  addPoint(vectors: Float32Array, offset: number, label: number): void;
  /**
   * Optional (the typed addon): how addPoint moves an existing label. `engram` (its default,
   * native/hnsw/move.h) builds the same graph as hnswlib's updatePoint without its per-move heap
   * containers; `hnswlib` calls updatePoint, the reference for benchmarks and tests.
   */
  setMoveMethod?(method: HnswMoveMethod): void;
  markDelete(label: number): void;
  unmarkDelete(label: number): void;
  /** nearest first into out*[outOffset..]; returns how many were written (at most k) */
  searchKnn(
    query: Float32Array,
    queryOffset: number,
    k: number,
    outLabels: Int32Array,
    outDistances: Float32Array,
    outOffset: number,
  ): number;
  /** the stored vector of a live label into out[outOffset..] */
  getPoint(label: number, out: Float32Array, outOffset: number): void;
  /** every label, deleted ones included (start-up only: allocates) */
  getIdsList(): number[];
  getMaxElements(): number;
  getNumDimensions(): number;
  /** hnswlib writes the file from a worker thread; searches may run meanwhile, writes may not */
  writeIndex(path: string): Promise<void>;
  writeIndexSync(path: string): void;
  /** replaces this index with the file's */
  readIndexSync(path: string): void;
  /**
   * Optional (the typed addon): replaces this index with the one stored in `length` bytes at
   * `offset` of `path` (a snapshot's HNSW section, read in place without a temporary copy).
   */
  readIndexAtSync?(path: string, offset: number, length: number): void;
}

export type HnswBindingName = 'typed' | 'hnswlib-node';

export type HnswMoveMethod = 'engram' | 'hnswlib';

export interface HnswBinding {
  readonly name: HnswBindingName;
  /** its handles have readIndexAtSync (an index stored inside another file) */
  readonly readsRegions: boolean;
  create(dim: number): HnswIndexHandle;
}

/** engram's addon, as built by node-gyp (native/hnsw/binding.gyp). */
interface TypedAddon {
  HierarchicalNSW: new (dim: number) => HnswIndexHandle;
}

/** The compiled addon: from brain/similarity (tsx) or dist/brain/similarity (the build). */
const addonCandidates = [
  '../../native/hnsw/build/Release/engram_hnsw.node',
  '../../../native/hnsw/build/Release/engram_hnsw.node',
];

/** engram's typed binding, or an Error saying why it is not there (not built, or not loadable). */
export function loadTypedBinding(): HnswBinding | Error {
  const require = createRequire(import.meta.url);
  for (const candidate of addonCandidates) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (!existsSync(path)) continue;
    try {
      const addon = require(path) as TypedAddon;
      return { name: 'typed', readsRegions: true, create: (dim) => new addon.HierarchicalNSW(dim) };
    } catch (error) {
      return new Error(`engram's HNSW addon ${path} does not load: ${(error as Error).message}`);
    }
  }
  return new Error("engram's HNSW addon is not built (native/hnsw; `make build` or `npm run build:native` builds it)");
}

type HnswlibNodeModule = typeof import('hnswlib-node');
type HnswlibNodeIndex = InstanceType<HnswlibNodeModule['HierarchicalNSW']>;

/** hnswlib-node behind the typed interface: copies through one number[] (this is where it allocates). */
class HnswlibNodeHandle implements HnswIndexHandle {
  private index: HnswlibNodeIndex;
  private readonly scratch: number[];

  constructor(
    private readonly module: HnswlibNodeModule,
    private readonly dim: number,
  ) {
    this.index = new module.HierarchicalNSW('l2', dim);
    this.scratch = new Array<number>(dim).fill(0);
  }

  private copy(vectors: Float32Array, offset: number): number[] {
    const scratch = this.scratch;
    for (let i = 0; i < this.dim; i++) scratch[i] = vectors[offset + i]!;
    return scratch;
  }

  initIndex(maxElements: number, M: number, efConstruction: number, seed: number): void {
    this.index.initIndex(maxElements, M, efConstruction, seed, false);
  }
  resizeIndex(maxElements: number): void {
    this.index.resizeIndex(maxElements);
  }
  setEf(ef: number): void {
    this.index.setEf(ef);
  }
  addPoint(vectors: Float32Array, offset: number, label: number): void {
    this.index.addPoint(this.copy(vectors, offset), label, false);
  }
  markDelete(label: number): void {
    this.index.markDelete(label);
  }
  unmarkDelete(label: number): void {
    this.index.unmarkDelete(label);
  }
  searchKnn(
    query: Float32Array,
    queryOffset: number,
    k: number,
    outLabels: Int32Array,
    outDistances: Float32Array,
    outOffset: number,
  ): number {
    const result = this.index.searchKnn(this.copy(query, queryOffset), k);
    const count = result.neighbors.length;
    for (let i = 0; i < count; i++) {
      outLabels[outOffset + i] = result.neighbors[i]!;
      outDistances[outOffset + i] = result.distances[i]!;
    }
    return count;
  }
  getPoint(label: number, out: Float32Array, outOffset: number): void {
    const point = this.index.getPoint(label);
    for (let i = 0; i < this.dim; i++) out[outOffset + i] = point[i]!;
  }
  getIdsList(): number[] {
    return this.index.getIdsList();
  }
  getMaxElements(): number {
    return this.index.getMaxElements();
  }
  getNumDimensions(): number {
    return this.index.getNumDimensions();
  }
  async writeIndex(path: string): Promise<void> {
    await this.index.writeIndex(path);
  }
  writeIndexSync(path: string): void {
    this.index.writeIndexSync(path);
  }
  readIndexSync(path: string): void {
    const loaded = new this.module.HierarchicalNSW('l2', this.dim);
    loaded.readIndexSync(path, false);
    if (loaded.getNumDimensions() !== this.dim) {
      throw new Error(
        `readIndexSync: the file holds vectors of ${loaded.getNumDimensions()} dimensions, this index has ${this.dim}`,
      );
    }
    this.index = loaded;
  }
}

/** hnswlib-node's binding, or an Error saying why it does not load. */
export async function loadHnswlibNodeBinding(): Promise<HnswBinding | Error> {
  try {
    const imported = (await import('hnswlib-node')) as HnswlibNodeModule & { default?: HnswlibNodeModule };
    const module = imported.HierarchicalNSW ? imported : (imported.default as HnswlibNodeModule);
    return { name: 'hnswlib-node', readsRegions: false, create: (dim) => new HnswlibNodeHandle(module, dim) };
  } catch (error) {
    return new Error(`hnswlib-node is not loadable here (${(error as Error).message})`);
  }
}

/**
 * The binding to use: `prefer` if given (an Error if it does not load), else engram's typed addon,
 * else hnswlib-node. `fallbackReason` says why the typed one was not taken, for the log.
 */
export async function loadHnswBinding(
  prefer?: HnswBindingName,
): Promise<{ binding: HnswBinding; fallbackReason?: string } | Error> {
  if (prefer === 'hnswlib-node') {
    const binding = await loadHnswlibNodeBinding();
    return binding instanceof Error ? binding : { binding };
  }
  const typed = loadTypedBinding();
  if (!(typed instanceof Error)) return { binding: typed };
  if (prefer === 'typed') return typed;
  const published = await loadHnswlibNodeBinding();
  if (published instanceof Error) {
    return new Error(`no HNSW binding loads: ${typed.message}; ${published.message}`);
  }
  return { binding: published, fallbackReason: typed.message };
}
