/**
 * `engram bench paths`: time per query batch for each similarity path (linear scan, HNSW, tensor)
 * over N = 1e3..1e6 and B = 1..256, then check the active profile's choice at every grid point
 * against the fastest path measured in this run (must be within 10%) and against the static rule
 * this design inherited, "use the GPU (tensor path) only above 1,000 experiences" (the calibrated
 * choice must be at least as fast).
 */
import { type CellTiming, defaultGrid, measurePaths, profileChoice } from '../brain/similarity/calibration.js';
import { type PathName, selectProfile } from '../brain/similarity/profile.js';
import { numberFlag, parseCommandArgs, printJsonLast, type Subcommand } from '../runtime/cli/args.js';
import { listFlag } from '../runtime/cli/calibrate.js';
import { describeMachine, machineLine, table, updateBenchmarksDoc, writeResult } from './lib/report.js';
import { GcCounter } from './lib/stats.js';

const help = `usage: engram bench paths [--quick] [--sizes LIST] [--batches LIST] [--profile NAME|auto]
                          [--hnsw-build-limit N] [--cell-ms MS] [--json]

Times batched k-nearest search (k = 16, d = 64, trajectory data) for each path at every (N, B),
and compares the profile's choice with the best path and with the static rule "tensor above
N = 1,000, scan below". Writes bench/results/paths.json and its section of docs/benchmarks.md.

  --quick               N up to 1e5 (default grid: 1e3, 1e4, 1e5, 1e6)
  --sizes LIST          N grid, comma-separated
  --batches LIST        B grid (default 1,16,64,256)
  --profile NAME        profile to check (default auto: the one matching this host)
  --hnsw-build-limit N  largest N at which HNSW is built (default 1000000; the 1e6 build took
                        ~85 s here at efC 100; above the limit HNSW is reported as not measured)
  --cell-ms MS          measuring time per cell (default 150)

The full grid took ~5 min on the 2-core dev machine (--quick: under 1 min).
  --json                print one JSON object as the last line`;

/** The rule of thumb engram replaces: the GPU (here: the tensor path) only above 1,000 experiences. */
function staticRule(n: number): PathName {
  return n > 1_000 ? 'tensor' : 'linear';
}

interface Verdict {
  n: number;
  batch: number;
  /** median µs per batch per path */
  times: Partial<Record<PathName, number>>;
  /** p99 µs per batch per path over the repetitions, and how many there were */
  p99: Partial<Record<PathName, number>>;
  runs: Partial<Record<PathName, number>>;
  hnswRecall?: number;
  hnswEf?: number;
  best: PathName;
  chosen: PathName;
  chosenUs?: number;
  /** chosen / best (1 = the best) */
  chosenRatio?: number;
  withinTenPercent: boolean;
  staticChoice: PathName;
  staticUs?: number;
  atLeastAsFastAsStatic: boolean;
}

function verdict(cell: CellTiming, chosen: PathName): Verdict {
  const times: Partial<Record<PathName, number>> = {};
  if (cell.linear !== undefined) times.linear = cell.linear;
  if (cell.hnsw !== undefined) times.hnsw = cell.hnsw;
  if (cell.tensor !== undefined) times.tensor = cell.tensor;
  const bestUs = times[cell.best]!;
  const chosenUs = times[chosen];
  const staticChoice = staticRule(cell.n);
  const staticUs = times[staticChoice];
  return {
    n: cell.n,
    batch: cell.batch,
    times,
    p99: cell.p99 ?? {},
    runs: cell.runs ?? {},
    hnswRecall: cell.hnswRecall,
    hnswEf: cell.hnswEf,
    best: cell.best,
    chosen,
    chosenUs,
    chosenRatio: chosenUs === undefined ? undefined : chosenUs / bestUs,
    withinTenPercent: chosenUs !== undefined && chosenUs <= bestUs * 1.1,
    staticChoice,
    staticUs,
    // an unmeasured static path (e.g. a scan too slow to time) cannot beat the choice
    atLeastAsFastAsStatic: chosenUs !== undefined && (staticUs === undefined || chosenUs <= staticUs),
  };
}

const fmt = (us: number | undefined) =>
  us === undefined ? 'n/m' : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;

export const command: Subcommand = {
  name: 'bench paths',
  summary: 'similarity paths by N and B: calibrated choice vs best vs static rule',
  help,
  async run(argv) {
    const parsed = parseCommandArgs(
      argv,
      {
        quick: { type: 'boolean', default: false },
        sizes: { type: 'string' },
        batches: { type: 'string' },
        profile: { type: 'string', default: 'auto' },
        'hnsw-build-limit': { type: 'string' },
        'cell-ms': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      help,
    );
    if (!parsed) return 0;
    const v = parsed.values;
    const grid = {
      ...defaultGrid,
      sizes: listFlag(v.sizes, 'sizes', v.quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000]),
      batches: listFlag(v.batches, 'batches', [1, 16, 64, 256]),
      hnswBuildLimit: numberFlag(v['hnsw-build-limit'], 'hnsw-build-limit', 1_000_000),
      cellMs: numberFlag(v['cell-ms'], 'cell-ms', defaultGrid.cellMs),
    };
    const events: string[] = [];
    const log = {
      info: (details: object, message: string) => events.push(`${message} ${JSON.stringify(details)}`),
      warn: (details: object, message: string) => events.push(`${message} ${JSON.stringify(details)}`),
      error: (details: object, message: string) => events.push(`${message} ${JSON.stringify(details)}`),
    };
    const profile = selectProfile(v.profile ?? 'auto', log);
    for (const line of events) process.stderr.write(`${line}\n`);
    const gc = new GcCounter().start();
    const started = Date.now();
    const result = await measurePaths(grid, (line) => process.stderr.write(`${line}\n`));
    const gcs = await gc.stop();
    const verdicts = result.cells.map((cell) => verdict(cell, profileChoice(profile, cell.n, cell.batch)));
    const withinTen = verdicts.filter((x) => x.withinTenPercent).length;
    const asFast = verdicts.filter((x) => x.atLeastAsFastAsStatic).length;
    const machine = describeMachine();
    const summary = {
      profile: profile.name,
      grid: { sizes: grid.sizes, batches: grid.batches, dim: grid.dim, k: grid.k, hnsw: grid.hnsw },
      tensorDevice: result.tensorDevice ?? 'none',
      notes: result.notes,
      hnswBuildMs: result.hnswBuildMs,
      points: verdicts.length,
      choiceWithinTenPercentOfBest: withinTen,
      choiceAtLeastAsFastAsStaticRule: asFast,
      seconds: (Date.now() - started) / 1000,
      gc: gcs,
      verdicts,
    };
    writeResult('paths', summary);
    const rows = verdicts.map((x) => [
      x.n,
      x.batch,
      fmt(x.times.linear),
      x.times.hnsw === undefined ? 'n/m' : `${fmt(x.times.hnsw)} (ef ${x.hnswEf}, r ${x.hnswRecall?.toFixed(2)})`,
      fmt(x.times.tensor),
      x.best,
      `${x.chosen} ${x.chosenRatio === undefined ? '(n/m)' : `x${x.chosenRatio.toFixed(2)}`}`,
      `${x.staticChoice} ${fmt(x.staticUs)}`,
      x.withinTenPercent ? 'yes' : 'NO',
      x.atLeastAsFastAsStatic ? 'yes' : 'NO',
    ]);
    const markdown = [
      '## Similarity paths by dataset size and batch (`engram bench paths`)',
      '',
      `Machine: ${machineLine(machine)}. Tensor device: ${result.tensorDevice ?? 'none'} (no GPU on this machine).`,
      `Command: \`engram bench paths${argv.length ? ` ${argv.join(' ')}` : ''}\`. Median time per query batch over repeated runs (p99 and run counts in bench/results/paths.json; k = ${grid.k}, d = ${grid.dim}, trajectory data), profile \`${profile.name}\`.`,
      'HNSW is timed at the smallest ef (32, 64, 128, 256) whose recall@16 reaches 0.95, and only counts as best where it does. `n/m` = not measured (see notes).',
      '',
      table(
        [
          'N',
          'B',
          'linear',
          'hnsw',
          'tensor',
          'best',
          'profile choice (x best)',
          'static rule',
          '≤ 1.1x best',
          '≥ static',
        ],
        rows,
      ),
      '',
      `Profile choice within 10% of the best at ${withinTen}/${verdicts.length} points; at least as fast as the static rule ("tensor only above 1,000") at ${asFast}/${verdicts.length}. GCs during the run: ${gcs.total} (${gcs.major} major). ${((Date.now() - started) / 1000).toFixed(0)} s.`,
      ...(result.notes.length ? ['', 'Notes:', ...result.notes.map((n) => `- ${n}`)] : []),
    ].join('\n');
    updateBenchmarksDoc('paths', markdown);
    process.stderr.write(`${markdown}\n`);
    if (v.json) printJsonLast(summary);
    return 0;
  },
};
