/**
 * `engram bench hnsw`: what a full memory costs the HNSW index. Once memory is full every stored
 * experience evicts one and reuses its slot, so the index moves an element to a new vector
 * (HnswBackend: remove, then upsert of the same slot), which re-selects the links of every old
 * neighbour of the moved element over efConstruction candidates: the brain step's
 * tail at N = 1e4 (bench brain). This measures the move time and the recall that is left after the
 * memory has been turned over several times, for a grid of (M, efConstruction), so the default in
 * brain/config.ts is chosen from figures. Each run is made twice, side by side: with engram's move
 * (native/hnsw/move.h, the default) and with hnswlib's updatePoint; both build the same graph, so
 * the same moves are timed and the recall must come out the same.
 */
import { ExperienceStore } from '../brain/memory/store.js';
import { type HnswBackend, hnswFactory } from '../brain/similarity/hnsw.js';
import type { HnswMoveMethod } from '../brain/similarity/hnsw-binding.js';
import { trajectoryVectors } from '../brain/similarity/synthetic.js';
import { numberFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from '../runtime/cli/args.js';
import { listFlag } from '../runtime/cli/calibrate.js';
import { describeMachine, machineLine, table, updateBenchmarksDoc, us, writeResult } from './lib/report.js';
import { distribution, median, nowNs } from './lib/stats.js';

const help = `usage: engram bench hnsw [--grid LIST] [--dims LIST] [--n N] [--turnovers T] [--repeats R]
                         [--no-doc] [--json]

Fills an HNSW index (the brain's backend, engram's typed binding) with N trajectory vectors, then
moves T x N random slots to new vectors (evict + reuse, as a full memory does) and reports the move
time (p50/p99/p99.9) and recall@16 against an exact scan afterwards, for each
(M, efConstruction, efSearch). Every run is made with engram's move and with hnswlib's updatePoint,
alternating, and reports their ratio. Writes bench/results/hnsw.json and its section of
docs/benchmarks.md.

  --grid LIST     M/efConstruction/efSearch triples (default 16/100/32,12/64/32,12/64/48,8/64/48)
  --dims LIST     vector dimensions (default 16,64)
  --n N           stored vectors (default 10000)
  --turnovers T   moves per slot on average (default 3)
  --repeats R     runs per cell; figures are medians over runs (default 3)
  --no-doc        do not update docs/benchmarks.md
  --json          print one JSON object as the last line`;

interface Cell {
  M: number;
  efConstruction: number;
  efSearch: number;
  dim: number;
  n: number;
  moves: number;
  moveP50Ns: number;
  moveP99Ns: number;
  moveP999Ns: number;
  recallAt16: number;
  /** per run, for the spread */
  moveP99PerRunNs: number[];
  recallPerRun: number[];
  /** the same runs with hnswlib's updatePoint as the move (medians over runs) */
  hnswlib: { moveP50Ns: number; moveP99Ns: number; moveP999Ns: number; recallAt16: number };
  /** hnswlib's time over engram's, per run side by side; medians */
  speedupP50: number;
  speedupP99: number;
}

const k = 16;
const queries = 300;

async function runOnce(
  M: number,
  efConstruction: number,
  efSearch: number,
  dim: number,
  n: number,
  turnovers: number,
  seed: number,
  moveMethod: HnswMoveMethod,
) {
  const store = new ExperienceStore({ capacity: n, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const factory = hnswFactory({ M, efConstruction, efSearch, seed, initialElements: n, moveMethod });
  const created = await factory.create(store);
  if (created instanceof Error) throw created;
  const backend = created as HnswBackend;
  const initial = trajectoryVectors(n, dim, seed);
  for (let i = 0; i < n; i++) {
    const slot = store.allocate(i);
    store.context.set(initial.subarray(i * dim, (i + 1) * dim), slot * dim);
    backend.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
  }
  const moves = turnovers * n;
  const fresh = trajectoryVectors(moves, dim, seed + 1000);
  const times = new Float64Array(moves);
  let state = seed * 2654435761;
  for (let m = 0; m < moves; m++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const slot = state % n;
    const row = store.context.subarray(slot * dim, (slot + 1) * dim);
    row.set(fresh.subarray(m * dim, (m + 1) * dim));
    const start = nowNs();
    backend.remove(slot);
    backend.upsert(slot, row);
    times[m] = nowNs() - start;
  }
  // recall@16 against an exact scan, queries near the stored data
  const probe = trajectoryVectors(queries, dim, seed + 2000);
  const slots = new Int32Array(k);
  const dists = new Float32Array(k);
  const exact = new Float64Array(n);
  const order = new Int32Array(n);
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    const query = probe.subarray(q * dim, (q + 1) * dim);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < dim; j++) {
        const d = query[j]! - store.context[i * dim + j]!;
        sum += d * d;
      }
      exact[i] = sum;
      order[i] = i;
    }
    order.sort((a, b) => exact[a]! - exact[b]!);
    const found = backend.search(query, k, slots, dists);
    const truth = new Set(order.subarray(0, k));
    for (let i = 0; i < found; i++) if (truth.has(slots[i]!)) hits++;
  }
  backend.dispose();
  return { times: distribution(times), recall: hits / (queries * k), moves };
}

type Run = Awaited<ReturnType<typeof runOnce>>;

function parseGrid(value: string | undefined): { M: number; efConstruction: number; efSearch: number }[] {
  const text = value ?? '16/100/32,12/64/32,12/64/48,8/64/48';
  return text.split(',').map((pair) => {
    const [M, efConstruction, efSearch] = pair.split('/').map(Number);
    if (![M, efConstruction, efSearch].every((v) => Number.isInteger(v) && v! >= 2)) {
      throw new UsageError(`--grid expects M/efConstruction/efSearch triples like 12/64/48, got '${pair}'`);
    }
    return { M: M!, efConstruction: efConstruction!, efSearch: efSearch! };
  });
}

export const command: Subcommand = {
  name: 'hnsw',
  summary: 'HNSW move (evict + reuse) cost and recall after turnover',
  help,
  async run(argv) {
    const parsed = parseCommandArgs(
      argv,
      {
        grid: { type: 'string' },
        dims: { type: 'string' },
        n: { type: 'string' },
        turnovers: { type: 'string' },
        repeats: { type: 'string' },
        'no-doc': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      help,
    );
    if (!parsed) return 0;
    const { values } = parsed;
    const grid = parseGrid(values.grid);
    const dims = listFlag(values.dims, 'dims', [16, 64]);
    const n = numberFlag(values.n, 'n', 10_000);
    const turnovers = numberFlag(values.turnovers, 'turnovers', 3);
    const repeats = numberFlag(values.repeats, 'repeats', 3);
    const cells: Cell[] = [];
    for (const dim of dims) {
      for (const { M, efConstruction, efSearch } of grid) {
        const runs: Run[] = [];
        const reference: Run[] = [];
        for (let r = 0; r < repeats; r++) {
          // alternate which goes first, so a noisy stretch of the machine does not favour one
          const order: HnswMoveMethod[] = r % 2 === 0 ? ['engram', 'hnswlib'] : ['hnswlib', 'engram'];
          for (const method of order) {
            const run = await runOnce(M, efConstruction, efSearch, dim, n, turnovers, r + 1, method);
            (method === 'engram' ? runs : reference).push(run);
          }
        }
        const ratio = (which: 'p50' | 'p99') =>
          median(runs.map((run, r) => reference[r]!.times[which] / run.times[which]));
        const cell: Cell = {
          M,
          efConstruction,
          efSearch,
          dim,
          n,
          moves: runs[0]!.moves,
          moveP50Ns: median(runs.map((run) => run.times.p50)),
          moveP99Ns: median(runs.map((run) => run.times.p99)),
          moveP999Ns: median(runs.map((run) => run.times.p999)),
          recallAt16: median(runs.map((run) => run.recall)),
          moveP99PerRunNs: runs.map((run) => run.times.p99),
          recallPerRun: runs.map((run) => run.recall),
          hnswlib: {
            moveP50Ns: median(reference.map((run) => run.times.p50)),
            moveP99Ns: median(reference.map((run) => run.times.p99)),
            moveP999Ns: median(reference.map((run) => run.times.p999)),
            recallAt16: median(reference.map((run) => run.recall)),
          },
          speedupP50: ratio('p50'),
          speedupP99: ratio('p99'),
        };
        // the same graph: the same recall, query for query
        runs.forEach((run, r) => {
          if (run.recall !== reference[r]!.recall) {
            throw new Error(
              `bench hnsw: recall ${run.recall} with engram's move, ${reference[r]!.recall} with hnswlib's`,
            );
          }
        });
        cells.push(cell);
        process.stderr.write(
          `d ${dim} M ${M} efC ${efConstruction} efS ${efSearch}: move p50 ${us(cell.moveP50Ns)} µs, p99 ${us(cell.moveP99Ns)} µs, p99.9 ${us(cell.moveP999Ns)} µs; recall@16 ${cell.recallAt16.toFixed(3)}; ` +
            `hnswlib's updatePoint p50 ${us(cell.hnswlib.moveP50Ns)} µs, p99 ${us(cell.hnswlib.moveP99Ns)} µs (x${cell.speedupP50.toFixed(2)} / x${cell.speedupP99.toFixed(2)})\n`,
        );
      }
    }
    const machine = describeMachine();
    const path = writeResult('hnsw', { n, turnovers, repeats, k, cells });
    if (!values['no-doc']) {
      updateBenchmarksDoc(
        'hnsw',
        [
          '## HNSW under turnover (`engram bench hnsw`)',
          '',
          `Command: \`engram bench hnsw --repeats ${repeats}\`. Machine: ${machineLine(machine)}.`,
          '',
          `N = ${n} trajectory vectors, then ${turnovers} x N moves of random slots to new vectors (remove + upsert of`,
          'the same slot: what a full memory does on every store). Move time in µs; recall@16 against an exact',
          'scan after the turnover. Medians over runs. The brain default is M 12 / efC 64 / efSearch 48.',
          '"move" is engram\'s (native/hnsw/move.h, what the brain uses); "updatePoint" is hnswlib\'s own move, run',
          'side by side (each run made both ways, alternating which goes first): the same moves on the same',
          'graph, so the same recall. "x p50 / x p99": updatePoint\'s time over engram\'s, medians of the per-run ratios.',
          '',
          table(
            [
              'd',
              'M / efC / efS',
              'move p50',
              'move p99',
              'move p99.9',
              'recall@16',
              'p99 per run',
              'updatePoint p50 / p99',
              'x p50 / x p99',
            ],
            cells.map((c) => [
              c.dim,
              `${c.M} / ${c.efConstruction} / ${c.efSearch}`,
              us(c.moveP50Ns),
              us(c.moveP99Ns),
              us(c.moveP999Ns),
              c.recallAt16.toFixed(3),
              c.moveP99PerRunNs.map(us).join(', '),
              `${us(c.hnswlib.moveP50Ns)} / ${us(c.hnswlib.moveP99Ns)}`,
              `${c.speedupP50.toFixed(2)} / ${c.speedupP99.toFixed(2)}`,
            ]),
          ),
        ].join('\n'),
      );
    }
    process.stderr.write(`wrote ${path}\n`);
    if (values.json) printJsonLast({ benchmark: 'hnsw', machine, cells });
    return 0;
  },
};
