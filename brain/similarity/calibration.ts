/**
 * Measures the similarity paths on this machine over a grid of dataset sizes N and batch sizes B,
 * and turns the measurements into a hardware profile's routes. Used by `engram calibrate` (which
 * writes profiles/<name>.yaml) and `engram bench paths` (which checks the choice against the best
 * path and against the inherited static rule).
 *
 * Data: trajectories of a smooth dynamical system (synthetic.ts), the shape of the brain's own
 * contexts. HNSW only counts as a candidate where its recall@k on that data is >= minRecall.
 */
import { ExperienceStore } from '../memory/store.js';
import type { BackendFactory, SimilarityBackend } from './backend.js';
import { hnswFactory } from './hnsw.js';
import { LinearBackend } from './linear.js';
import type { PathName, Profile, Route } from './profile.js';
import { trajectoryVectors } from './synthetic.js';
import { tensorFactories } from './tensor.js';

export interface CalibrationGrid {
  sizes: number[];
  batches: number[];
  dim: number;
  k: number;
  hnsw: { M: number; efConstruction: number; efSearch: number };
  /** HNSW is not built above this N (a 1e6 build takes minutes on one thread) */
  hnswBuildLimit: number;
  /** linear is not timed above this N * B product (a 1e6 x 256 scan takes many seconds a batch) */
  linearWorkLimit: number;
  /** target measuring time per cell (ms); at least 3 repetitions when a batch is faster than that */
  cellMs: number;
  minRecall: number;
}

export const defaultGrid: CalibrationGrid = {
  sizes: [100, 300, 1_000, 3_000, 10_000, 30_000, 100_000],
  batches: [1, 4, 16, 64, 256],
  dim: 64,
  k: 16,
  hnsw: { M: 16, efConstruction: 100, efSearch: 32 },
  hnswBuildLimit: 300_000,
  linearWorkLimit: 1e8,
  cellMs: 150,
  minRecall: 0.95,
};

export interface CellTiming {
  n: number;
  batch: number;
  /** median µs per batch; undefined when the path was not measured at this point */
  linear?: number;
  hnsw?: number;
  tensor?: number;
  /** HNSW recall@k against the exact scan at this N (same for every B) */
  hnswRecall?: number;
  /** p99 µs per batch over the repetitions (a slow cell may have only a few), per path */
  p99?: Partial<Record<PathName, number>>;
  /** repetitions per path */
  runs?: Partial<Record<PathName, number>>;
  /** the ef HNSW was timed at: the smallest of ef, 2ef, 4ef, 8ef whose recall passed */
  hnswEf?: number;
  /** fastest measured path (HNSW only where its recall passes) */
  best: PathName;
}

export interface CalibrationResult {
  grid: CalibrationGrid;
  cells: CellTiming[];
  tensorDevice: string | undefined;
  /** why a path was missing, e.g. the tensor factories that failed */
  notes: string[];
  /** HNSW build time per N (ms) */
  hnswBuildMs: Record<number, number>;
}

const now = () => Number(process.hrtime.bigint());

/** µs per call of `run` (median and p99 of the repetitions), repeated for about `cellMs`. */
function timeBatch(run: () => void, cellMs: number): { median: number; p99: number; runs: number } {
  run(); // warm-up (JIT, device buffers)
  const samples: number[] = [];
  const started = now();
  for (;;) {
    const t0 = now();
    run();
    samples.push((now() - t0) / 1000);
    const spentMs = (now() - started) / 1e6;
    if (samples.length >= 30) break;
    if (spentMs >= cellMs && samples.length >= 3) break;
    if (spentMs >= cellMs * 4) break; // slow cells: fewer samples, said in the sample count
  }
  samples.sort((a, b) => a - b);
  return {
    median: samples[samples.length >> 1]!,
    p99: samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]!,
    runs: samples.length,
  };
}

/** The best tensor factory that initialises here, or the reasons none did. */
export async function firstTensorBackend(
  source: ExperienceStore,
  factories: BackendFactory[] = tensorFactories(),
): Promise<{ backend?: SimilarityBackend; device?: string; priority?: number; failures: string[] }> {
  const failures: string[] = [];
  for (const factory of [...factories].sort((a, b) => b.priority - a.priority)) {
    const created = await factory.create(source);
    if (created instanceof Error) {
      failures.push(`${factory.name}: ${created.message}`);
      continue;
    }
    return { backend: created, device: created.describe?.() ?? factory.name, priority: factory.priority, failures };
  }
  return { failures };
}

export type CalibrationProgress = (line: string) => void;

/** Runs the grid. Each N gets a fresh store, index and device copy. */
export async function measurePaths(
  grid: CalibrationGrid,
  progress: CalibrationProgress = () => {},
  tensorFactoryList: BackendFactory[] = tensorFactories(),
): Promise<CalibrationResult> {
  const cells: CellTiming[] = [];
  const notes: string[] = [];
  const hnswBuildMs: Record<number, number> = {};
  let tensorDevice: string | undefined;
  const maxBatch = Math.max(...grid.batches);
  const queries = trajectoryVectors(maxBatch, grid.dim, 4242);
  for (const n of grid.sizes) {
    const store = new ExperienceStore({ capacity: n, contextDim: grid.dim, actionDim: 1, linksPerExperience: 0 });
    const data = trajectoryVectors(n, grid.dim, 1000 + n);
    const linear = new LinearBackend(store);
    for (let i = 0; i < n; i++) {
      const slot = store.allocate(i);
      store.context.set(data.subarray(i * grid.dim, (i + 1) * grid.dim), slot * grid.dim);
      linear.upsert(slot, store.context.subarray(slot * grid.dim, (slot + 1) * grid.dim));
    }
    let hnsw: SimilarityBackend | undefined;
    if (n <= grid.hnswBuildLimit) {
      const created = await hnswFactory(grid.hnsw).create(store);
      if (created instanceof Error) {
        if (!notes.includes(created.message)) notes.push(created.message);
      } else {
        const t0 = now();
        for (let slot = 0; slot < n; slot++) {
          created.upsert(slot, store.context.subarray(slot * grid.dim, (slot + 1) * grid.dim));
          if (slot > 0 && slot % 100_000 === 0) {
            progress(`N=${n}: HNSW build ${slot}/${n} after ${((now() - t0) / 1e9).toFixed(0)} s`);
          }
        }
        hnswBuildMs[n] = (now() - t0) / 1e6;
        hnsw = created;
      }
    } else {
      notes.push(`HNSW not built at N = ${n} (above hnswBuildLimit ${grid.hnswBuildLimit})`);
    }
    const tensorPick = await firstTensorBackend(store, tensorFactoryList);
    const tensor = tensorPick.backend;
    // later sizes try only the factory that worked (and not the failing ones again)
    if (tensor) tensorFactoryList = tensorFactoryList.filter((f) => f.priority <= (tensorPick.priority ?? 0));
    else tensorFactoryList = [];
    if (tensor) {
      tensorDevice = tensorPick.device;
      for (let slot = 0; slot < n; slot++) {
        tensor.upsert(slot, store.context.subarray(slot * grid.dim, (slot + 1) * grid.dim));
      }
      (tensor as { flush?: () => void }).flush?.();
    }
    // which better tensor factories were skipped here, and why (e.g. no CUDA, no GPU adapter)
    for (const failure of tensorPick.failures) if (!notes.includes(failure)) notes.push(failure);
    // HNSW recall at this N against the exact scan; raise ef until it passes (up to 8x), and time
    // HNSW at that ef: a fast answer with poor recall is not an answer
    let recall: number | undefined;
    let ef = grid.hnsw.efSearch;
    if (hnsw) {
      const reference = exactNeighbours(linear, queries, Math.min(maxBatch, 100), grid.k);
      for (; ; ef *= 2) {
        hnsw.setEffort(ef);
        recall = measureRecall(reference, hnsw, queries, grid.dim, grid.k);
        if (recall >= grid.minRecall || ef >= grid.hnsw.efSearch * 8) break;
      }
    }
    const slots = new Int32Array(maxBatch * grid.k);
    const dists = new Float32Array(maxBatch * grid.k);
    const counts = new Int32Array(maxBatch);
    for (const batch of grid.batches) {
      const cell: CellTiming = { n, batch, best: 'linear', p99: {}, runs: {} };
      const timeIt = (backend: SimilarityBackend) => {
        const timing = timeBatch(() => backend.searchBatch(queries, batch, grid.k, slots, dists, counts), grid.cellMs);
        cell.p99![backend.name as PathName] = timing.p99;
        cell.runs![backend.name as PathName] = timing.runs;
        return timing.median;
      };
      if (n * batch <= grid.linearWorkLimit) cell.linear = timeIt(linear);
      if (hnsw) {
        cell.hnsw = timeIt(hnsw);
        cell.hnswRecall = recall;
        cell.hnswEf = ef;
      }
      if (tensor) cell.tensor = timeIt(tensor);
      cell.best = bestPath(cell, grid.minRecall);
      cells.push(cell);
      progress(
        `N=${n} B=${batch}: linear ${fmt(cell.linear)} hnsw ${fmt(cell.hnsw)}${recall === undefined ? '' : ` (ef ${ef}, recall ${recall.toFixed(3)})`} tensor ${fmt(cell.tensor)} µs/batch -> ${cell.best}`,
      );
    }
    tensor?.dispose();
    hnsw?.dispose();
  }
  return { grid, cells, tensorDevice, notes, hnswBuildMs };
}

function fmt(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(value < 100 ? 1 : 0);
}

/** Exact top-k slots for the first `count` queries (computed once per N, reused per ef tried). */
function exactNeighbours(exact: SimilarityBackend, queries: Float32Array, count: number, k: number) {
  const slots = new Int32Array(count * k);
  const dists = new Float32Array(count * k);
  const counts = new Int32Array(count);
  exact.searchBatch(queries, count, k, slots, dists, counts);
  return { slots, counts };
}

function measureRecall(
  reference: { slots: Int32Array; counts: Int32Array },
  approximate: SimilarityBackend,
  queries: Float32Array,
  dim: number,
  k: number,
): number {
  const approxSlots = new Int32Array(k);
  const dists = new Float32Array(k);
  let hits = 0;
  let total = 0;
  for (let q = 0; q < reference.counts.length; q++) {
    const got = approximate.search(queries.subarray(q * dim, (q + 1) * dim), k, approxSlots, dists);
    for (let i = 0; i < reference.counts[q]!; i++) {
      total++;
      const want = reference.slots[q * k + i]!;
      for (let j = 0; j < got; j++) {
        if (approxSlots[j] === want) {
          hits++;
          break;
        }
      }
    }
  }
  return total === 0 ? 1 : hits / total;
}

/** Fastest measured path at a cell; HNSW counts only where its recall passes. */
export function bestPath(cell: Omit<CellTiming, 'best'>, minRecall: number, allowTensor = true): PathName {
  let best: PathName = 'linear';
  let bestTime = cell.linear ?? Number.POSITIVE_INFINITY;
  if (cell.hnsw !== undefined && (cell.hnswRecall ?? 1) >= minRecall && cell.hnsw < bestTime) {
    best = 'hnsw';
    bestTime = cell.hnsw;
  }
  if (allowTensor && cell.tensor !== undefined && cell.tensor < bestTime) best = 'tensor';
  return best;
}

/**
 * Routes from measurements: one route per measured batch size (minBatch = that B); bands follow
 * the best path along N, with an edge at the geometric mean of the grid points where it changes.
 * Single queries route to linear or HNSW only.
 */
export function routesFrom(result: CalibrationResult): Route[] {
  const routes: Route[] = [];
  const batches = [...new Set(result.cells.map((c) => c.batch))].sort((a, b) => a - b);
  for (const batch of batches) {
    const column = result.cells.filter((c) => c.batch === batch).sort((a, b) => a.n - b.n);
    const bands: Route['bands'] = [];
    let previousN = 0;
    for (const cell of column) {
      const path = batch === 1 ? bestPath(cell, result.grid.minRecall, false) : cell.best;
      const last = bands[bands.length - 1];
      if (!last) bands.push({ path });
      else if (last.path !== path) {
        last.belowN = Math.round(Math.sqrt(previousN * cell.n));
        bands.push({ path });
      }
      previousN = cell.n;
    }
    const minBatch = routes.length === 0 ? 1 : batch;
    const previous = routes[routes.length - 1];
    // a route identical to the one before it adds nothing
    if (previous && JSON.stringify(previous.bands) === JSON.stringify(bands)) continue;
    routes.push({ minBatch, bands });
  }
  return routes;
}

/** The path a profile chooses at exactly (n, batch), without hysteresis (for benchmarks). */
export function profileChoice(profile: Profile, n: number, batch: number): PathName {
  let route = profile.routes[0]!;
  for (const candidate of profile.routes) if (batch >= candidate.minBatch) route = candidate;
  for (const band of route.bands) if (band.belowN === undefined || n < band.belowN) return band.path;
  return route.bands[route.bands.length - 1]!.path;
}
