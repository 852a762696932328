/**
 * The tensor path: batched exact k-nearest search through the tfjs API. tfjs (core, its backends,
 * tfjs-node-gpu and the `webgpu` package) is imported here and nowhere else, lazily, inside the
 * factories, registered with priorities like tfjs's own backends:
 *
 *   tensor-cuda   @tensorflow/tfjs-node-gpu (optional dependency: CUDA 11.2 + cuDNN 8.1, x64 only)
 *   tensor-webgpu tfjs-backend-webgpu over Dawn (`webgpu` package): needs a GPU adapter (Vulkan)
 *   tensor-wasm   tfjs-backend-wasm (SIMD; no threads in Node)
 *   tensor-cpu    tfjs-backend-cpu (slower than plain JS loops: last resort, kept for conformance)
 *
 * Layout: the base matrix lives on the device pre-transposed, [dim, columns], split into column
 * blocks. MEASUREMENTS.md: tfjs-wasm ran 12-20 GFLOP/s with the base stored as [d, N] against
 * ~2.9 GFLOP/s through `transposeB`. Scores are 2 q.x - |x|^2 (largest = nearest); dead columns
 * carry |x|^2 = 1e30 so they never rank.
 *
 * Residency: vectors stay on the device. An upsert writes the host mirror and marks its column
 * stale; `maintain` (slack time) re-uploads stale blocks one at a time within its deadline. Until
 * then searches stay exact: stale columns are dropped from the device's answer and scanned on the
 * CPU from the store's vectors. Nothing bounces between host and device per cycle except the
 * query batch going up and the candidate indices coming back (once per batch).
 *
 * The device answers with k + margin candidates per query; their distances are recomputed exactly
 * on the CPU, so results match the linear oracle (ties aside) despite float32 cancellation in
 * |q|^2 + |x|^2 - 2 q.x. tfjs allocates tensor handles per call: this path is for batches, where
 * that cost is shared by many queries.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Clock, monotonicClock } from '../../runtime/contracts.js';
import type { VectorSource } from '../memory/store.js';
import type { BackendFactory, SimilarityBackend } from './backend.js';
import { insertTopK, squaredDistance } from './topk.js';

type Tf = typeof import('@tensorflow/tfjs-core');
type Tensor2D = import('@tensorflow/tfjs-core').Tensor2D;

/** |x|^2 of a dead column: its score 2 q.x - 1e30 never reaches a top-k */
const deadNorm = 1e30;
/** blockStaleSince before maintain has seen the block stale */
const notSeen = -1;
/** extra candidates fetched per query so exact re-ranking on the CPU can repair float32 order */
const refineMargin = 8;
/** stale columns tracked one by one; beyond this, whole stale blocks are scanned on the CPU */
const maxStaleSlots = 4096;

/** Columns per device block: small memories stay small, big ones do not need hundreds of blocks. */
export function blockColumnsFor(capacity: number): number {
  let columns = 1024;
  while (columns < 16_384 && columns * 64 < capacity) columns *= 2;
  return columns;
}

export class TensorBackend implements SimilarityBackend {
  readonly name = 'tensor';
  readonly dim: number;
  readonly capacity: number;
  private readonly blockColumns: number;
  /** host mirror per block, [dim, blockColumns] (the transposed layout the device holds) */
  private readonly hostBlocks: Float32Array[] = [];
  private readonly hostNorms: Float32Array[] = [];
  private readonly deviceBlocks: Tensor2D[] = [];
  private readonly deviceNorms: Tensor2D[] = [];
  /** 1 when the block's device copy differs from the host mirror */
  private readonly blockStale: Uint8Array;
  /** clock time a stale block was first seen by maintain (notSeen = not yet) */
  private readonly blockStaleSince: Float64Array;
  /** moving average of one block upload (ns): an upload starts only if it fits the deadline */
  private uploadCostNs = 0;
  /** maintain's clock readings (Clock.stampNs: a returned double is boxed where not inlined) */
  private readonly stamps = new Float64Array(2);
  /** how long a stale block may wait before its upload (the CPU covers its stale columns) */
  uploadDelayNs = 20_000_000;
  private readonly live: Uint8Array;
  private liveCount = 0;
  /** stale columns (device copy outdated), each listed once */
  private readonly staleSlots: Int32Array;
  private readonly staleMark: Uint8Array;
  private staleCount = 0;
  /** more stale columns than the list holds: scan whole stale blocks on the CPU */
  private staleOverflow = false;
  /** blocks with at least one column ever written (the search covers these) */
  private activeBlocks = 0;
  uploads = 0;

  constructor(
    private readonly tf: Tf,
    private readonly tfBackend: string,
    private readonly source: VectorSource,
    private readonly deviceLabel: string,
  ) {
    this.dim = source.dim;
    this.capacity = source.capacity;
    this.blockColumns = Math.min(blockColumnsFor(source.capacity), roundUp(source.capacity, 8));
    const blocks = Math.ceil(source.capacity / this.blockColumns);
    this.blockStale = new Uint8Array(blocks);
    this.blockStaleSince = new Float64Array(blocks).fill(notSeen);
    this.live = new Uint8Array(source.capacity);
    this.staleSlots = new Int32Array(maxStaleSlots);
    this.staleMark = new Uint8Array(source.capacity);
  }

  describe(): string {
    return this.deviceLabel;
  }

  size(): number {
    return this.liveCount;
  }

  upsert(slot: number, vector: Float32Array): void {
    if (slot < 0 || slot >= this.capacity || vector.length < this.dim) return;
    const dim = this.dim;
    const vectors = this.source.vectors;
    const base = slot * dim;
    if (vector.buffer !== vectors.buffer || vector.byteOffset !== vectors.byteOffset + base * 4) {
      vectors.set(vector.subarray(0, dim), base);
    }
    const block = this.ensureBlock(Math.floor(slot / this.blockColumns));
    const column = slot % this.blockColumns;
    const host = this.hostBlocks[block]!;
    let norm = 0;
    for (let i = 0; i < dim; i++) {
      const value = vectors[base + i]!;
      host[i * this.blockColumns + column] = value;
      norm += value * value;
    }
    this.hostNorms[block]![column] = norm;
    if (this.live[slot] === 0) {
      this.live[slot] = 1;
      this.liveCount++;
    }
    this.markStale(slot, block);
  }

  remove(slot: number): void {
    if (slot < 0 || slot >= this.capacity || this.live[slot] === 0) return;
    this.live[slot] = 0;
    this.liveCount--;
    const block = Math.floor(slot / this.blockColumns);
    this.hostNorms[block]![slot % this.blockColumns] = deadNorm;
    this.markStale(slot, block);
  }

  /** True when the device holds exactly the host mirror (nothing waits for upload). */
  isSynced(): boolean {
    return this.staleCount === 0 && !this.staleOverflow;
  }

  /**
   * Uploads stale blocks in slack time. A block waits `uploadDelayNs` after it was first seen stale
   * (so a block touched every cycle is uploaded a few times a second, not every cycle: the CPU
   * answers for its few stale columns meanwhile), unless the stale list is filling up. An upload is
   * started only when its measured cost fits before `untilNs`.
   */
  maintain(untilNs: number, clock: Clock = monotonicClock, quota = -1): number {
    if (this.isSynced()) return 0;
    const pressure = this.staleOverflow || this.staleCount > maxStaleSlots / 2;
    let uploads = 0;
    for (let block = 0; block < this.activeBlocks; block++) {
      if (this.blockStale[block] === 0) continue;
      if (quota >= 0) {
        // replay: the recorded run's uploads, in block order, whatever the clock says
        if (uploads >= quota) return uploads;
        this.upload(block);
        uploads++;
        continue;
      }
      clock.stampNs(this.stamps, 0);
      const now = this.stamps[0]!;
      if (this.blockStaleSince[block] === notSeen) this.blockStaleSince[block] = now; // first seen stale
      if (!pressure && now - this.blockStaleSince[block]! < this.uploadDelayNs) continue;
      if (now + this.uploadCostNs > untilNs) return uploads;
      this.upload(block);
      uploads++;
      clock.stampNs(this.stamps, 1);
      const cost = this.stamps[1]! - now;
      this.uploadCostNs = this.uploadCostNs === 0 ? cost : 0.8 * this.uploadCostNs + 0.2 * cost;
    }
    if (this.staleOverflow) {
      let anyStale = false;
      for (let block = 0; block < this.activeBlocks; block++) if (this.blockStale[block] === 1) anyStale = true;
      if (!anyStale) this.staleOverflow = false;
    }
    return uploads;
  }

  /** Uploads everything now, ignoring delays and deadlines (start-up, benchmarks, tests). */
  flush(): void {
    for (let block = 0; block < this.activeBlocks; block++) if (this.blockStale[block] === 1) this.upload(block);
    this.staleOverflow = false;
  }

  search(query: Float32Array, k: number, outSlots: Int32Array, outDist: Float32Array): number {
    if (query.length < this.dim) return 0;
    const counts = this.oneCount;
    this.searchBatch(query, 1, k, outSlots, outDist, counts);
    return counts[0]!;
  }

  private readonly oneCount = new Int32Array(1);
  /** 2 * queries, reused across calls (the device copy is made inside tfjs) */
  private queryScratch = new Float32Array(0);

  searchBatch(
    queries: Float32Array,
    batch: number,
    k: number,
    outSlots: Int32Array,
    outDist: Float32Array,
    outCounts: Int32Array,
  ): void {
    const dim = this.dim;
    if (batch <= 0) return;
    const room = Math.floor(Math.min(outSlots.length, outDist.length) / batch);
    if (k > room) k = room;
    if (queries.length < batch * dim || k <= 0 || this.liveCount === 0 || this.activeBlocks === 0) {
      outCounts.fill(0, 0, batch);
      return;
    }
    const candidates = this.deviceCandidates(queries, batch, k);
    const perQuery = candidates.length / batch;
    const vectors = this.source.vectors;
    const live = this.live;
    for (let q = 0; q < batch; q++) {
      const outOffset = q * k;
      const queryOffset = q * dim;
      let count = 0;
      let worst = Number.POSITIVE_INFINITY;
      for (let c = 0; c < perQuery; c++) {
        const slot = candidates[q * perQuery + c]!;
        if (slot < 0 || slot >= this.capacity || live[slot] === 0 || this.isStale(slot)) continue;
        const dist = squaredDistance(queries, queryOffset, vectors, slot * dim, dim);
        if (count < k || dist < worst) {
          count = insertTopK(outSlots, outDist, outOffset, count, k, slot, dist);
          if (count === k) worst = outDist[outOffset + k - 1]!;
        }
      }
      // the CPU answers for columns the device has not seen yet
      if (this.staleOverflow) {
        for (let block = 0; block < this.activeBlocks; block++) {
          if (this.blockStale[block] === 0) continue;
          const end = Math.min(this.capacity, (block + 1) * this.blockColumns);
          for (let slot = block * this.blockColumns; slot < end; slot++) {
            if (live[slot] === 0) continue;
            const dist = squaredDistance(queries, queryOffset, vectors, slot * dim, dim);
            if (count < k || dist < worst) {
              count = insertTopK(outSlots, outDist, outOffset, count, k, slot, dist);
              if (count === k) worst = outDist[outOffset + k - 1]!;
            }
          }
        }
      } else {
        for (let s = 0; s < this.staleCount; s++) {
          const slot = this.staleSlots[s]!;
          if (live[slot] === 0) continue;
          const dist = squaredDistance(queries, queryOffset, vectors, slot * dim, dim);
          if (count < k || dist < worst) {
            count = insertTopK(outSlots, outDist, outOffset, count, k, slot, dist);
            if (count === k) worst = outDist[outOffset + k - 1]!;
          }
        }
      }
      outCounts[q] = count;
    }
  }

  setEffort(_ef: number): void {}

  dispose(): void {
    for (const tensor of this.deviceBlocks) tensor.dispose();
    for (const tensor of this.deviceNorms) tensor.dispose();
    this.deviceBlocks.length = 0;
    this.deviceNorms.length = 0;
  }

  /** Candidate slots per query from the device: [batch * perQuery] (one round trip per batch). */
  private deviceCandidates(queries: Float32Array, batch: number, k: number): Int32Array {
    const tf = this.tf;
    if (tf.getBackend() !== this.tfBackend) void tf.setBackend(this.tfBackend); // synchronous once initialised
    // stale columns may occupy device ranks: ask for enough to still hold k fresh ones
    const stale = this.staleOverflow ? 0 : this.staleCount;
    const columns = this.activeBlocks * this.blockColumns;
    const want = Math.min(columns, k + refineMargin + stale);
    const dim = this.dim;
    if (this.queryScratch.length < batch * dim) this.queryScratch = new Float32Array(batch * dim);
    // a view only when the batch is smaller than the scratch (tfjs needs the exact length)
    const scaled =
      this.queryScratch.length === batch * dim ? this.queryScratch : this.queryScratch.subarray(0, batch * dim);
    for (let i = 0; i < batch * dim; i++) scaled[i] = 2 * queries[i]!;
    const indices = tf.tidy(() => {
      const q = tf.tensor2d(scaled, [batch, dim]);
      const parts: Tensor2D[] = [];
      for (let block = 0; block < this.activeBlocks; block++) {
        parts.push(tf.sub(tf.matMul(q, this.deviceBlocks[block]!), this.deviceNorms[block]!));
      }
      const scores = parts.length === 1 ? parts[0]! : tf.concat2d(parts, 1);
      return tf.topk(scores, want, false).indices;
    });
    const values = indices.dataSync() as Int32Array;
    indices.dispose();
    // block-local column c of block b is slot b * blockColumns + c: the concat keeps that order
    return values;
  }

  private isStale(slot: number): boolean {
    if (this.staleMark[slot] === 1) return true;
    return this.staleOverflow && this.blockStale[Math.floor(slot / this.blockColumns)] === 1;
  }

  private markStale(slot: number, block: number): void {
    this.blockStale[block] = 1;
    if (this.staleMark[slot] === 1 || this.staleOverflow) return;
    if (this.staleCount === maxStaleSlots) {
      this.staleOverflow = true;
      return;
    }
    this.staleMark[slot] = 1;
    this.staleSlots[this.staleCount++] = slot;
  }

  private ensureBlock(block: number): number {
    while (this.activeBlocks <= block) {
      const columns = this.blockColumns;
      this.hostBlocks.push(new Float32Array(this.dim * columns));
      this.hostNorms.push(new Float32Array(columns).fill(deadNorm));
      this.deviceBlocks.push(this.tf.zeros([this.dim, columns]) as Tensor2D);
      this.deviceNorms.push(this.tf.fill([1, columns], deadNorm) as Tensor2D);
      this.activeBlocks++;
    }
    return block;
  }

  private upload(block: number): void {
    const tf = this.tf;
    if (tf.getBackend() !== this.tfBackend) void tf.setBackend(this.tfBackend);
    this.deviceBlocks[block]!.dispose();
    this.deviceNorms[block]!.dispose();
    this.deviceBlocks[block] = tf.tensor2d(this.hostBlocks[block]!, [this.dim, this.blockColumns]);
    this.deviceNorms[block] = tf.tensor2d(this.hostNorms[block]!, [1, this.blockColumns]);
    this.blockStale[block] = 0;
    this.blockStaleSince[block] = notSeen;
    this.uploads++;
    // drop this block's columns from the stale list (swap-remove)
    const from = block * this.blockColumns;
    const to = from + this.blockColumns;
    for (let s = 0; s < this.staleCount; ) {
      const slot = this.staleSlots[s]!;
      if (slot >= from && slot < to) {
        this.staleMark[slot] = 0;
        this.staleSlots[s] = this.staleSlots[--this.staleCount]!;
      } else {
        s++;
      }
    }
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** Loads tfjs-core once (lazily) so a missing or broken install only turns this path off. */
async function loadTf(): Promise<Tf> {
  return (await import('@tensorflow/tfjs-core')) as Tf;
}

async function activate(tf: Tf, name: string): Promise<Error | undefined> {
  try {
    const ok = await tf.setBackend(name);
    if (!ok || tf.getBackend() !== name) return new Error(`tfjs backend '${name}' did not initialise`);
    return undefined;
  } catch (error) {
    return new Error(`tfjs backend '${name}' failed: ${(error as Error).message}`);
  }
}

function tensorFactory(
  name: string,
  priority: number,
  prepare: (tf: Tf) => Promise<{ backend: string; device: string } | Error>,
): BackendFactory {
  return {
    name,
    path: 'tensor',
    priority,
    async create(source: VectorSource) {
      let tf: Tf;
      try {
        tf = await loadTf();
      } catch (error) {
        return new Error(`@tensorflow/tfjs-core is not loadable: ${(error as Error).message}`);
      }
      let prepared: { backend: string; device: string } | Error;
      try {
        prepared = await prepare(tf);
      } catch (error) {
        prepared = error instanceof Error ? error : new Error(String(error));
      }
      if (prepared instanceof Error) return prepared;
      const failed = await activate(tf, prepared.backend);
      if (failed) return failed;
      tf.enableProdMode(); // skips per-op NaN checks and debug bookkeeping
      return new TensorBackend(tf, prepared.backend, source, prepared.device);
    },
  };
}

const require = createRequire(import.meta.url);

/** Whether the Vulkan loader Dawn needs on Linux is installed (standard dirs and LD_LIBRARY_PATH). */
function hasVulkanLoader(): boolean {
  const dirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib',
    '/usr/lib64',
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter((dir) => dir !== ''),
  ];
  return dirs.some((dir) => existsSync(`${dir}/libvulkan.so.1`));
}

const noVulkanLoader =
  'Dawn found no GPU adapter: no Vulkan loader (libvulkan.so.1) on this machine, so no GPU driver to reach';

/** The tensor path's factories, best first. */
export function tensorFactories(): BackendFactory[] {
  return [
    tensorFactory('tensor-cuda', 40, async () => {
      try {
        // optional dependency; the specifier is a variable so TypeScript does not need its types
        const specifier = '@tensorflow/tfjs-node-gpu';
        await import(specifier);
      } catch (error) {
        return new Error(
          `@tensorflow/tfjs-node-gpu is not installed or did not load (${(error as Error).message.split('\n')[0]}); it needs CUDA 11.2 + cuDNN 8.1 on linux x64`,
        );
      }
      return { backend: 'tensorflow', device: 'tfjs-node-gpu (CUDA)' };
    }),
    tensorFactory('tensor-webgpu', 30, async () => {
      // Without a Vulkan loader Dawn can find no adapter on Linux, and loading it only prints a
      // native warning on stderr: say why here instead.
      if (process.platform === 'linux' && !hasVulkanLoader()) return new Error(noVulkanLoader);
      const dawn = (await import('webgpu')) as unknown as {
        create: (options: string[]) => {
          requestAdapter(): Promise<{ info?: { description?: string; vendor?: string } } | null>;
        };
        globals: Record<string, unknown>;
      };
      const gpu = dawn.create([]);
      const adapter = await gpu.requestAdapter();
      if (!adapter) {
        return new Error('Dawn found no GPU adapter (the Vulkan loader is present but no device or driver answered)');
      }
      Object.assign(globalThis, dawn.globals);
      if (!('navigator' in globalThis) || !(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
        Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
      }
      await import('@tensorflow/tfjs-backend-webgpu');
      const description = adapter.info?.description || adapter.info?.vendor || 'GPU';
      return { backend: 'webgpu', device: `tfjs-webgpu over Dawn (${description})` };
    }),
    tensorFactory('tensor-wasm', 20, async () => {
      const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { setWasmPaths(prefix: string): void };
      // In Node the .wasm binaries are read from the package's dist/ folder.
      wasm.setWasmPaths(require.resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/]+$/, ''));
      return { backend: 'wasm', device: 'tfjs-wasm (SIMD, one thread)' };
    }),
    tensorFactory('tensor-cpu', 5, async () => {
      await import('@tensorflow/tfjs-backend-cpu');
      return { backend: 'cpu', device: 'tfjs-cpu (plain JS kernels)' };
    }),
  ];
}
