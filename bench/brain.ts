/**
 * `engram bench brain`: the brain's per-step cost at growing memory sizes.
 *
 * One step = encode one frame, one context lookup (k = 16), activation, prediction of 32 candidate
 * actions (the planner at full effort), and storing the previous experience (maintain: insert into
 * the store and the index, links, TD backups, and, once memory is full, one eviction).
 *
 * Data: trajectories of a smooth dynamical system (damped oscillators driven by the actions through
 * a fixed random input matrix, episodes of 1000 steps), not iid noise: lookups and HNSW recall
 * behave as they do on a robot. Memory is filled through the same step + maintain path at low
 * planning effort (that fill time is the insert cost), then measured in steady state, where every
 * step also evicts one experience.
 *
 * Bytes per experience are measured: the process RSS growth from before the brain was built to
 * after it was filled, divided by N (the store's typed arrays and hnswlib's memory are touched
 * lazily as they fill, so RSS follows the contents).
 *
 * GCs attributable to the step: GC count over the measured steps minus the GC count of the same
 * loop with the brain calls removed (the data generator alone).
 *
 * Encoder latency (issue 7, brain/encode/): add an `encoder` column here once the ONNX encoder
 * exists; the step would then include it (see ENCODER below).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { brainConfig } from '../brain/config.js';
import { bytesPerExperience, createBrain, hnswBytesEstimate } from '../brain/create.js';
import { SinglePathIndex } from '../brain/linear-index.js';
import type { VectorSource } from '../brain/memory/store.js';
import { hnswFactory } from '../brain/similarity/hnsw.js';
import { numberFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from '../runtime/cli/args.js';
import { systemClock } from '../runtime/clock.js';
import { createFrame, type Frame, LookupPath, type StepTimings } from '../runtime/contracts.js';
import { describeMachine, machineLine, repoRoot, table, updateBenchmarksDoc, us, writeResult } from './lib/report.js';
import { type Distribution, distribution, GcCounter, median, nowNs } from './lib/stats.js';

const help = `usage: engram bench brain [options]

Per-step cost of the brain (encode, lookup k=16, activation, 32 candidates, store) at memory sizes N.

options:
  --sizes LIST     memory sizes N, comma separated (default 1e3,1e4,1e5; the full set 1e3,1e4,1e5,1e6
                   takes tens of minutes: filling 1e6 into HNSW costs ~100-250 µs per insert)
  --dims LIST      state x action dimensions (default 16x4,64x4)
  --repeats R      measured runs per size; p99 is the median over runs (default 5)
  --steps S        measured steps per run (default 2000)
  --backend NAME   hnsw | linear (default hnsw)
  --horizon H      planning horizon of each of the 32 candidates (default: the brain's default)
  --merge          keep earlier results (bench/results/brain.json) for sizes not measured in this
                   run, so a long 1e6 run and a quick run make one table
  --no-doc         do not update docs/benchmarks.md
  --json           print one JSON object as the last line of stdout
  -h, --help       this text`;

const options = {
  sizes: { type: 'string' },
  dims: { type: 'string' },
  repeats: { type: 'string' },
  steps: { type: 'string' },
  backend: { type: 'string' },
  horizon: { type: 'string' },
  'no-doc': { type: 'boolean' },
  merge: { type: 'boolean' },
  child: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** Where the ONNX encoder (issue 7) joins the step: a function run on the frame before brain.step. */
const ENCODER: ((frame: Frame) => void) | undefined = undefined;

interface SizeResult {
  stateDim: number;
  actionDim: number;
  n: number;
  backend: string;
  /** median over runs of each run's percentile (ns) */
  stepP50Ns: number;
  stepP99Ns: number;
  /** over all measured steps of all runs */
  stepP999Ns: number;
  stepMaxNs: number;
  p99PerRunNs: number[];
  stages: { encodeP50Ns: number; lookupP50Ns: number; activationP50Ns: number; planP50Ns: number; storeP50Ns: number };
  insert: Distribution;
  eviction: Distribution;
  fillSeconds: number;
  bytesPerExperience: number;
  rawPayloadBytes: number;
  indexLinkBytes: number;
  bytesRatio: number;
  gcPer10kWithStep: number;
  gcPer10kWithoutStep: number;
  gcPer10kAttributable: number;
  lookupPath: string;
  horizon: number;
  /** 1-minute load average when the measurement started (the machine is shared) */
  loadAverage: number;
}

/** Damped oscillators in `dim` coordinates (pairs), driven by the action through a fixed matrix. */
class SmoothSystem {
  readonly state: Float64Array;
  private readonly frequency: Float64Array;
  private readonly input: Float64Array;
  private seed = 12345;
  private readonly action: Float64Array;
  private t = 0;
  constructor(
    readonly dim: number,
    readonly actionDim: number,
  ) {
    this.state = new Float64Array(dim);
    this.frequency = new Float64Array(dim);
    this.input = new Float64Array(dim * actionDim);
    this.action = new Float64Array(actionDim);
    for (let i = 0; i < dim; i++) this.frequency[i] = 0.5 + 3 * this.random();
    for (let i = 0; i < dim * actionDim; i++) this.input[i] = this.random() - 0.5;
    this.reset();
  }
  random(): number {
    this.seed = (Math.imul(this.seed, 1664525) + 1013904223) >>> 0;
    return this.seed / 4294967296;
  }
  reset(): void {
    for (let i = 0; i < this.dim; i++) this.state[i] = 2 * this.random() - 1;
    this.t = 0;
  }
  /** Advances one 20 ms step under `u`; returns the reward (closeness to the origin). */
  advance(u: Float32Array): number {
    const dt = 0.02;
    for (let a = 0; a < this.actionDim; a++) this.action[a] = u[a]!;
    let energy = 0;
    for (let i = 0; i + 1 < this.dim; i += 2) {
      const w = this.frequency[i]!;
      let force = 0;
      for (let a = 0; a < this.actionDim; a++) force += this.input[i * this.actionDim + a]! * this.action[a]!;
      const x = this.state[i]!;
      const v = this.state[i + 1]!;
      const acceleration = -w * w * x - 0.2 * v + force;
      this.state[i + 1] = v + dt * acceleration;
      this.state[i] = x + dt * this.state[i + 1]!;
      energy += x * x;
    }
    this.t++;
    return Math.exp(-energy / this.dim);
  }
  get steps(): number {
    return this.t;
  }
}

function fillFrame(frame: Frame, system: SmoothSystem, reward: number, episodeStart: boolean): void {
  for (let i = 0; i < system.dim; i++) frame.observation[i] = system.state[i]!;
  frame.reward = reward;
  frame.episodeStart = episodeStart;
}

async function measureSize(
  stateDim: number,
  actionDim: number,
  n: number,
  repeats: number,
  steps: number,
  backendName: string,
  horizon: number,
  log: (line: string) => void,
): Promise<SizeResult> {
  const config = brainConfig({
    seed: 1,
    memory: { capacity: n, maxMiB: 1e6, evictionsPerCycle: 1 },
    similarity: { k: 16 },
    planner: horizon > 0 ? { candidates: 32, horizon } : { candidates: 32 },
    normaliser: { warmupSteps: 1000 },
  });
  const quiet = { info() {}, warn() {}, error() {} };
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const brain = await createBrain(config, {
    observationSize: stateDim,
    actionSize: actionDim,
    clock: systemClock,
    log: quiet,
    // Pressure must not shrink memory in the middle of a measurement on a busy machine.
    freeMemoryBytes: () => Number.POSITIVE_INFINITY,
    index: async (source: VectorSource) => {
      if (backendName === 'linear') {
        const { LinearIndex } = await import('../brain/linear-index.js');
        return new LinearIndex(source);
      }
      const { M, efConstruction, efSearch } = config.similarity.hnsw;
      const created = await hnswFactory({ M, efConstruction, efSearch, seed: 1 }).create(source);
      if (created instanceof Error) throw created;
      return new SinglePathIndex(created);
    },
  });
  const system = new SmoothSystem(stateDim, actionDim);
  const frame = createFrame(stateDim);
  const action = new Float32Array(actionDim);
  const timings: StepTimings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
  const far = Number.POSITIVE_INFINITY;

  // Fill to N through step + maintain at the lowest planning effort; maintain's time is the insert.
  const insertSamples = new Float64Array(Math.min(n, 200_000));
  let inserts = 0;
  brain.setEffort({ candidates: 1, horizon: 1, ef: config.similarity.hnsw.efSearch });
  const fillStart = nowNs();
  let reward = 0;
  let lastReport = fillStart;
  while (brain.size() < n) {
    const start = system.steps % 1000 === 0;
    if (start) system.reset();
    fillFrame(frame, system, reward, start);
    brain.step(frame, far, action, timings);
    const t0 = nowNs();
    brain.maintain(far);
    const t1 = nowNs();
    if (!start) insertSamples[inserts++ % insertSamples.length] = t1 - t0;
    reward = system.advance(action);
    if (t1 - lastReport > 10e9) {
      log(`  filling N=${n} (${stateDim}+${actionDim}): ${brain.size()} stored`);
      lastReport = t1;
    }
  }
  const fillSeconds = (nowNs() - fillStart) / 1e9;
  globalThis.gc?.();
  const rssAfter = process.memoryUsage().rss;
  const insert = distribution(insertSamples, Math.min(inserts, insertSamples.length));

  // Eviction cost: evict one at a time (memory refills during the measured steps).
  const evictions = Math.min(1000, Math.floor(n / 10));
  const evictionSamples = new Float64Array(evictions);
  for (let e = 0; e < evictions; e++) {
    const t0 = nowNs();
    brain.evict(1);
    evictionSamples[e] = nowNs() - t0;
  }
  const eviction = distribution(evictionSamples);

  brain.setEffort({ candidates: 32, horizon: config.planner.horizon, ef: config.similarity.hnsw.efSearch });
  const runSteps = (count: number, samples: Float64Array | null, stages: Float64Array | null): void => {
    for (let s = 0; s < count; s++) {
      const start = system.steps % 1000 === 0;
      if (start) system.reset();
      fillFrame(frame, system, reward, start);
      const t0 = nowNs();
      if (ENCODER) ENCODER(frame);
      brain.step(frame, far, action, timings);
      const t1 = nowNs();
      brain.maintain(far);
      const t2 = nowNs();
      if (samples) samples[s] = t2 - t0;
      if (stages) {
        stages[s * 5] = timings.encodeNs;
        stages[s * 5 + 1] = timings.lookupNs;
        stages[s * 5 + 2] = timings.activationNs;
        stages[s * 5 + 3] = timings.planNs;
        stages[s * 5 + 4] = t2 - t1;
      }
      reward = system.advance(action);
    }
  };
  const generatorOnly = (count: number): void => {
    for (let s = 0; s < count; s++) {
      const start = system.steps % 1000 === 0;
      if (start) system.reset();
      fillFrame(frame, system, reward, start);
      reward = system.advance(action);
    }
  };
  runSteps(Math.min(2000, steps), null, null); // refill what was evicted, warm the JIT

  const loadAtStart = Math.round(os.loadavg()[0]! * 100) / 100;
  const samples = new Float64Array(steps);
  const stages = new Float64Array(steps * 5);
  const all = new Float64Array(steps * repeats);
  const p99s: number[] = [];
  const p50s: number[] = [];
  let gcWith = 0;
  let gcWithout = 0;
  const stageSums = [[], [], [], [], []] as number[][];
  for (let r = 0; r < repeats; r++) {
    const gc = new GcCounter().start();
    runSteps(steps, samples, stages);
    gcWith += (await gc.stop()).total;
    const d = distribution(samples);
    p99s.push(d.p99);
    p50s.push(d.p50);
    all.set(samples, r * steps);
    for (let k = 0; k < 5; k++) {
      const column = new Float64Array(steps);
      for (let s = 0; s < steps; s++) column[s] = stages[s * 5 + k]!;
      stageSums[k]!.push(distribution(column).p50);
    }
    const gcBase = new GcCounter().start();
    generatorOnly(steps);
    gcWithout += (await gcBase.stop()).total;
  }
  const overall = distribution(all);
  const measuredSteps = steps * repeats;
  const perExperience = (rssAfter - rssBefore) / n;
  const raw = bytesPerExperience(config, stateDim, actionDim, 0);
  const hnswTotal = hnswBytesEstimate(config, stateDim);
  // the index's links: level-0 list (2M neighbours + count) plus upper levels, without its vector copy
  const M = config.similarity.hnsw.M;
  const links = backendName === 'hnsw' ? Math.round((2 * M + 1) * 4 + ((M + 1) * 4) / Math.max(1, M - 1)) : 0;
  const result: SizeResult = {
    stateDim,
    actionDim,
    n,
    backend: backendName,
    stepP50Ns: median(p50s),
    stepP99Ns: median(p99s),
    stepP999Ns: overall.p999,
    stepMaxNs: overall.max,
    p99PerRunNs: p99s,
    stages: {
      encodeP50Ns: median(stageSums[0]!),
      lookupP50Ns: median(stageSums[1]!),
      activationP50Ns: median(stageSums[2]!),
      planP50Ns: median(stageSums[3]!),
      storeP50Ns: median(stageSums[4]!),
    },
    insert,
    eviction,
    fillSeconds,
    bytesPerExperience: Math.round(perExperience),
    rawPayloadBytes: raw,
    indexLinkBytes: links,
    bytesRatio: perExperience / (raw + links),
    gcPer10kWithStep: (gcWith * 10_000) / measuredSteps,
    gcPer10kWithoutStep: (gcWithout * 10_000) / measuredSteps,
    gcPer10kAttributable: Math.max(0, ((gcWith - gcWithout) * 10_000) / measuredSteps),
    lookupPath: brain.index.activePath(),
    loadAverage: loadAtStart,
    horizon: config.planner.horizon,
  };
  void hnswTotal;
  brain.dispose();
  return result;
}

/** Adds results of an earlier run (bench/results/brain.json) for (dims, N, path) not measured now. */
function mergeEarlier(results: SizeResult[], runs: { command: string; date: string }[]): void {
  let earlier: { results?: SizeResult[]; runs?: { command: string; date: string }[]; command?: string };
  try {
    earlier = JSON.parse(readFileSync(join(repoRoot, 'bench', 'results', 'brain.json'), 'utf8'));
  } catch {
    return;
  }
  const key = (r: SizeResult) => `${r.stateDim}x${r.actionDim}@${r.n}/${r.backend}/h${r.horizon}`;
  const have = new Set(results.map(key));
  let used = false;
  for (const old of earlier.results ?? []) {
    // results written before `horizon` was recorded ran the brain's default horizon
    old.horizon ??= brainConfig({}).planner.horizon;
    if (have.has(key(old))) continue;
    results.push(old);
    used = true;
  }
  if (used) runs.push(...(earlier.runs ?? (earlier.command ? [{ command: earlier.command, date: '' }] : [])));
}

const childMarker = 'BENCH_BRAIN_RESULT ';

/**
 * Each size runs in a fresh process: memory freed by an earlier size stays in the process (RSS does
 * not shrink), which would make the next size's RSS growth, and so its bytes per experience, too low.
 */
function measureInChild(
  stateDim: number,
  actionDim: number,
  n: number,
  repeats: number,
  steps: number,
  backend: string,
  horizon: number,
): SizeResult {
  const args = [
    ...process.execArgv,
    process.argv[1]!,
    'bench',
    'brain',
    '--child',
    '--sizes',
    String(n),
    '--dims',
    `${stateDim}x${actionDim}`,
    '--repeats',
    String(repeats),
    '--steps',
    String(steps),
    '--backend',
    backend,
    '--horizon',
    String(horizon),
  ];
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith(childMarker));
  if (child.status !== 0 || !line) {
    throw new Error(`bench brain: the measurement of ${stateDim}+${actionDim} at N=${n} failed (exit ${child.status})`);
  }
  return JSON.parse(line.slice(childMarker.length)) as SizeResult;
}

function parseList(value: string | undefined, fallback: string, flag: string): number[] {
  const list = (value ?? fallback).split(',').map((item) => Number(item.trim()));
  for (const item of list) {
    if (!Number.isFinite(item) || item < 1) throw new UsageError(`--${flag} expects positive numbers, got '${value}'`);
  }
  return list.map((item) => Math.round(item));
}

function parseDims(value: string | undefined): [number, number][] {
  const parts = (value ?? '16x4,64x4').split(',');
  return parts.map((part) => {
    const match = /^(\d+)x(\d+)$/.exec(part.trim());
    if (!match) throw new UsageError(`--dims expects STATExACTION pairs like 16x4, got '${part}'`);
    return [Number(match[1]), Number(match[2])] as [number, number];
  });
}

function markdown(results: SizeResult[], command: string): string {
  const machine = describeMachine();
  const rows = results.map((r) => [
    `${r.stateDim}+${r.actionDim}`,
    r.n.toExponential(0).replace('+', ''),
    r.backend,
    r.horizon ?? '',
    us(r.stepP50Ns),
    us(r.stepP99Ns),
    us(r.stepP999Ns),
    us(r.stepMaxNs),
    `${us(r.stages.lookupP50Ns)} / ${us(r.stages.planP50Ns)} / ${us(r.stages.storeP50Ns)}`,
    `${us(r.insert.p50)} / ${us(r.insert.p99)}`,
    `${us(r.eviction.p50)} / ${us(r.eviction.p99)}`,
    r.n >= 100_000 ? `${r.bytesPerExperience} (${r.bytesRatio.toFixed(2)}x)` : 'n/a',
    `${r.gcPer10kWithStep.toFixed(1)} / ${r.gcPer10kWithoutStep.toFixed(1)}`,
  ]);
  return [
    '## Brain step (`engram bench brain`)',
    '',
    `Commands: \`${command}\`. Machine: ${machineLine(machine)}.`,
    '',
    'One step = encode one frame, one context lookup (k = 16), activation, 32 candidate action sequences',
    'of `horizon` steps through the planner, and storing the previous experience (insert, links, TD backups,',
    'one eviction: memory is full). Times in µs; p50/p99 are medians over runs, p99.9/max over all',
    'measured steps. Bytes per experience: RSS growth while filling / N, and its ratio to the raw payload',
    '(store arrays) plus the index links; shown from N = 1e5 (below that, allocator noise dominates the',
    'RSS delta). GCs per 10k steps: with the step / generator alone. Load average during each size is in',
    'the JSON (`loadAverage`): this 2-core machine is shared, so tails reflect other work too.',
    'Targets: p99 <= 500 µs at 1e4, <= 1000 µs at 1e5, <= 2000 µs at 1e6; zero GCs from the step; bytes <= 1.5x.',
    '',
    table(
      [
        'dims',
        'N',
        'path',
        'horizon',
        'p50',
        'p99',
        'p99.9',
        'max',
        'lookup / plan / store p50',
        'insert p50 / p99',
        'evict p50 / p99',
        'bytes/exp',
        'GC/10k',
      ],
      rows,
    ),
  ].join('\n');
}

export const command: Subcommand = {
  name: 'bench brain',
  summary: 'brain step cost vs memory size',
  help,
  async run(argv) {
    const args = parseCommandArgs(argv, options, help);
    if (!args) return 0;
    const values = args.values;
    const sizes = parseList(values.sizes, '1e3,1e4,1e5', 'sizes');
    const dims = parseDims(values.dims);
    const repeats = numberFlag(values.repeats, 'repeats', 5);
    const steps = numberFlag(values.steps, 'steps', 2000);
    const backend = values.backend ?? 'hnsw';
    const horizon = numberFlag(values.horizon, 'horizon', 0);
    if (!Number.isInteger(horizon) || horizon < 0) throw new UsageError('--horizon expects a positive integer');
    if (backend !== 'hnsw' && backend !== 'linear')
      throw new UsageError(`--backend expects hnsw or linear, got '${backend}'`);
    if (!(repeats >= 1) || !(steps >= 100)) throw new UsageError('--repeats must be >= 1 and --steps >= 100');
    const log = (line: string) => process.stderr.write(`${line}\n`);
    if (!globalThis.gc) log('note: run node with --expose-gc for steadier RSS readings');
    if (values.child) {
      // one size in this process: the parent reads the JSON line
      const [[stateDim, actionDim]] = dims as [[number, number]];
      const result = await measureSize(stateDim, actionDim, sizes[0]!, repeats, steps, backend, horizon, log);
      process.stdout.write(`${childMarker}${JSON.stringify(result)}\n`);
      return 0;
    }
    const results: SizeResult[] = [];
    for (const [stateDim, actionDim] of dims) {
      for (const n of sizes) {
        const result = measureInChild(stateDim, actionDim, n, repeats, steps, backend, horizon);
        results.push(result);
        log(
          `dims ${stateDim}+${actionDim} N=${n} ${result.lookupPath}: step p50 ${us(result.stepP50Ns)} µs, p99 ${us(result.stepP99Ns)} µs, p99.9 ${us(result.stepP999Ns)} µs, max ${us(result.stepMaxNs)} µs; insert p50 ${us(result.insert.p50)} µs; evict p50 ${us(result.eviction.p50)} µs; ${result.bytesPerExperience} B/exp (${result.bytesRatio.toFixed(2)}x); GC/10k ${result.gcPer10kWithStep.toFixed(1)} with, ${result.gcPer10kWithoutStep.toFixed(1)} without; fill ${result.fillSeconds.toFixed(1)} s`,
        );
      }
    }
    const commandLine = `engram bench brain ${argv.filter((a) => a !== '--json').join(' ')}`.trim();
    const runs = [{ command: commandLine, date: new Date().toISOString(), repeats, steps }];
    if (values.merge) mergeEarlier(results, runs);
    results.sort(
      (a, b) =>
        a.stateDim - b.stateDim || a.actionDim - b.actionDim || (a.horizon ?? 0) - (b.horizon ?? 0) || a.n - b.n,
    );
    const path = writeResult('brain', { command: commandLine, runs, repeats, steps, results });
    if (!values['no-doc']) updateBenchmarksDoc('brain', markdown(results, runs.map((r) => r.command).join('`; `')));
    log(`wrote ${path}`);
    if (values.json) printJsonLast({ benchmark: 'brain', results });
    return 0;
  },
};
