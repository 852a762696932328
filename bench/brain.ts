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
 * Encoder latency (issue 7, brain/encode/): the ONNX sensor encoder's per-frame latency
 * (`measureEncoderLatency`, brain/encode/onnx.ts) with the model in brain/encode/models, measured
 * apart from the step (the synthetic frames above carry no encoded channel), as `encoder` in
 * bench/results/brain.json and its own table in the doc section. `--encoder-only` measures just
 * that and rewrites the section from the step results already in bench/results/brain.json.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { brainConfig } from '../brain/config.js';
import { bytesPerExperience, createBrain, hnswBytesEstimate } from '../brain/create.js';
import { encoderConfigSchema } from '../brain/encode/config.js';
import { type EncoderLatency, measureEncoderLatency, OnnxEncoder } from '../brain/encode/onnx.js';
import { SinglePathIndex } from '../brain/linear-index.js';
import type { VectorSource } from '../brain/memory/store.js';
import type { KernelPath } from '../brain/native-kernels.js';
import { hnswFactory } from '../brain/similarity/hnsw.js';
import { numberFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from '../runtime/cli/args.js';
import { systemClock } from '../runtime/clock.js';
import { createFrame, type Frame, LookupPath, monotonicNsInto, type StepTimings } from '../runtime/contracts.js';
import { type AllocationSite, sampleAllocations } from './lib/heap-sampling.js';
import {
  describeMachine,
  type MachineDescription,
  machineLine,
  repoRoot,
  resultPath,
  table,
  updateBenchmarksDoc,
  us,
  writeResult,
} from './lib/report.js';
import { type Distribution, distribution, GcCounter, median, nowNs } from './lib/stats.js';

const help = `usage: engram bench brain [options]

Per-step cost of the brain (encode, lookup k=16, activation, 32 candidates, store) at memory sizes N.

options:
  --sizes LIST     memory sizes N, comma separated (default 1e3,1e4,1e5; the full set 1e3,1e4,1e5,1e6
                   takes tens of minutes: filling 1e6 into HNSW costs ~100-250 µs per insert)
  --dims LIST      state x action dimensions (default 16x4,64x4)
  --repeats R      measured runs per size; p99 is the median over runs (default 5)
  --steps S        measured steps per run (default 2000)
  --backend LIST   hnsw | hnsw-updatepoint | linear, comma separated (default hnsw).
                   hnsw-updatepoint: HNSW moving slots with hnswlib's updatePoint instead of
                   engram's move (native/hnsw/move.h). With several, each size runs with each
                   in turn (the order alternating between sizes), side by side; with both hnsw
                   and hnsw-updatepoint the run writes bench/results/brain-move.json and its own
                   section of docs/benchmarks.md instead of the main table
  --kernels LIST   native | javascript, comma separated (default native): where the local model's
                   fit and predict run (native/kernels, or brain/local-model.ts's JavaScript; the
                   same bits either way). With both, each size runs with each in turn, side by
                   side, and the run writes bench/results/brain-kernels.json and its own section of
                   docs/benchmarks.md instead of the main table
  --horizon H      planning horizon of each of the 32 candidates (default: the brain's default)
  --merge          keep earlier results (bench/results/brain.json) for sizes not measured in this
                   run, so a long 1e6 run and a quick run make one table
  --encoder-only   measure only the ONNX encoder's per-frame latency (--repeats runs of --steps
                   frames; seconds) and rewrite bench/results/brain.json and the doc section with
                   it, keeping the step results already there
  --no-doc         do not update docs/benchmarks.md
  --json           print one JSON object as the last line of stdout
  -h, --help       this text`;

const options = {
  sizes: { type: 'string' },
  dims: { type: 'string' },
  repeats: { type: 'string' },
  steps: { type: 'string' },
  backend: { type: 'string' },
  kernels: { type: 'string' },
  horizon: { type: 'string' },
  'no-doc': { type: 'boolean' },
  merge: { type: 'boolean' },
  'encoder-only': { type: 'boolean' },
  child: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** The model the encoder figures are measured with (generated by scripts/make-test-model.ts). */
const encoderModel = {
  path: 'brain/encode/models/scan360-embed16.onnx',
  description: '360-ray scan to a 16-dim embedding: MatMul + Add + Relu',
  inputName: 'scan',
  outputName: 'embedding',
  inputSize: 360,
  outputSize: 16,
} as const;

interface EncoderResult {
  command: string;
  /** where and when the encoder was measured (with --encoder-only, not the step's run) */
  machine: MachineDescription;
  model: string;
  modelDescription: string;
  inputSize: number;
  outputSize: number;
  provider: string;
  intraOpNumThreads: number;
  runs: number;
  framesPerRun: number;
  /** median over runs of each run's percentile (µs) */
  p50Us: number;
  p99Us: number;
  /** over all measured frames of all runs (µs) */
  maxUs: number;
  p50PerRunUs: number[];
  p99PerRunUs: number[];
  /** 1-minute load average when the measurement started (the machine is shared) */
  loadAverage: number;
  /** set when the encoder could not be created (onnxruntime-node missing, model unreadable) */
  error?: string;
}

export interface SizeResult {
  stateDim: number;
  actionDim: number;
  n: number;
  backend: string;
  /** where the local model's arithmetic ran (absent in results from before the kernel addon: JavaScript) */
  kernels?: KernelPath;
  /** median over runs of each run's percentile (ns) */
  stepP50Ns: number;
  stepP99Ns: number;
  /** over all measured steps of all runs */
  stepP999Ns: number;
  stepMaxNs: number;
  p99PerRunNs: number[];
  stages: { encodeP50Ns: number; lookupP50Ns: number; activationP50Ns: number; planP50Ns: number; storeP50Ns: number };
  /**
   * Where the slow steps' time goes: each stage's mean over the steps at or above their run's p99
   * (median over runs), with `otherNs` the rest of those steps (the step outside its stages).
   */
  tailStages?: {
    encodeNs: number;
    lookupNs: number;
    activationNs: number;
    planNs: number;
    storeNs: number;
    otherNs: number;
  };
  insert: Distribution;
  eviction: Distribution;
  fillSeconds: number;
  /** RSS growth from before the brain was built to after it was filled, over N (fixed costs included) */
  bytesPerExperience: number;
  /** that RSS growth in bytes (older results: bytesPerExperience x N) */
  rssGrowthBytes?: number;
  rawPayloadBytes: number;
  indexLinkBytes: number;
  bytesRatio: number;
  /**
   * What one more experience costs: the slope of RSS growth between this N and the next smaller N
   * measured with the same dims, path and horizon (each in its own process), so the costs that do
   * not grow with N (compiled code, the addon, V8's heap reserve: ~15 MB) cancel. Set by the parent.
   */
  marginalBytesPerExperience?: number;
  marginalBytesRatio?: number;
  /** the smaller N the slope is taken from */
  marginalFromN?: number;
  gcPer10kWithStep: number;
  gcPer10kWithoutStep: number;
  gcPer10kAttributable: number;
  /**
   * JS heap bytes allocated per step + maintain: the median over 500-step windows of the young
   * generation's growth, less what reading it allocates (windows where a scavenge ran are dropped). GC counts depend on how V8
   * sizes the young generation; this is what the step itself asks of it.
   */
  allocatedBytesPerStep?: number;
  /**
   * Where the step's bytes came from when allocatedBytesPerStep exceeded
   * allocationSiteThresholdBytes: V8's sampling heap profile over a further run of steps (absent
   * otherwise). An intermittent allocation at 64+4, N = 1e6 (docs/brain.md) names itself here.
   */
  allocationSites?: (Omit<AllocationSite, 'bytes'> & { bytesPerStep: number })[];
  lookupPath: string;
  horizon: number;
  /** 1-minute load average when the measurement started (the machine is shared) */
  loadAverage: number;
  /** the date of the run (bench/results/brain.json `runs`) that measured this row; absent in older rows */
  run?: string;
}

/** A full GC (with --expose-gc), its performance entry delivered before the caller starts counting. */
async function collectGarbage(): Promise<void> {
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Damped oscillators in `dim` coordinates (pairs), driven by the action through a fixed matrix. */
class SmoothSystem {
  readonly state: Float64Array;
  private readonly frequency: Float64Array;
  private readonly input: Float64Array;
  private seed = 12345;
  private readonly action: Float64Array;
  private t = 0;
  /** the last advance's reward (a field, so the harness itself allocates nothing per step) */
  reward = 0;
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
  /** Advances one 20 ms step under `u`; `reward` becomes the closeness to the origin. */
  advance(u: Float32Array): void {
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
    this.reward = Math.exp(-energy / this.dim);
  }
  get steps(): number {
    return this.t;
  }
}

/** The frame from the system's state and the reward of its last advance (fields, not closure variables: a double stored into a closure's variable is boxed every step). */
function fillFrame(frame: Frame, system: SmoothSystem, episodeStart: boolean): void {
  for (let i = 0; i < system.dim; i++) frame.observation[i] = system.state[i]!;
  frame.reward = system.reward;
  frame.episodeStart = episodeStart;
}

async function measureSize(
  stateDim: number,
  actionDim: number,
  n: number,
  repeats: number,
  steps: number,
  backendName: string,
  kernels: KernelPath,
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
    kernels,
    index: async (source: VectorSource) => {
      if (backendName === 'linear') {
        const { LinearIndex } = await import('../brain/linear-index.js');
        return new LinearIndex(source);
      }
      const { M, efConstruction, efSearch } = config.similarity.hnsw;
      // Sized for N at start: grown by doubling from 1,024 (what the registry does for a memory
      // that may never fill), the freed blocks stay in the process (64+4 at 1e5: 1.70x, 1.48x sized)
      const moveMethod = backendName === 'hnsw-updatepoint' ? 'hnswlib' : 'engram';
      const created = await hnswFactory({
        M,
        efConstruction,
        efSearch,
        seed: 1,
        initialElements: n,
        moveMethod,
      }).create(source);
      if (created instanceof Error) throw created;
      return new SinglePathIndex(created);
    },
  });
  if (brain.local.kernelPath !== kernels) {
    throw new Error(`bench brain: --kernels ${kernels} asked for, but ${brain.local.kernelsUnavailable}`);
  }
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
  let lastReport = fillStart;
  while (brain.size() < n) {
    const start = system.steps % 1000 === 0;
    if (start) system.reset();
    fillFrame(frame, system, start);
    brain.step(frame, far, action, timings);
    const t0 = nowNs();
    brain.maintain(far);
    const t1 = nowNs();
    if (!start) insertSamples[inserts++ % insertSamples.length] = t1 - t0;
    system.advance(action);
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
  const stamps = new Float64Array(3);
  const runSteps = (count: number, samples: Float64Array | null, stages: Float64Array | null): void => {
    for (let s = 0; s < count; s++) {
      const start = system.steps % 1000 === 0;
      if (start) system.reset();
      fillFrame(frame, system, start);
      // clock reads into a typed array: a returned double is boxed where the call is not inlined,
      // and the harness's own bytes would count as the step's
      monotonicNsInto(stamps, 0);
      brain.step(frame, far, action, timings);
      monotonicNsInto(stamps, 1);
      brain.maintain(far);
      monotonicNsInto(stamps, 2);
      if (samples) samples[s] = stamps[2]! - stamps[0]!;
      if (stages) {
        stages[s * 5] = timings.encodeNs;
        stages[s * 5 + 1] = timings.lookupNs;
        stages[s * 5 + 2] = timings.activationNs;
        stages[s * 5 + 3] = timings.planNs;
        stages[s * 5 + 4] = stamps[2]! - stamps[1]!;
      }
      system.advance(action);
    }
  };
  const generatorOnly = (count: number): void => {
    for (let s = 0; s < count; s++) {
      const start = system.steps % 1000 === 0;
      if (start) system.reset();
      fillFrame(frame, system, start);
      system.advance(action);
    }
  };
  // refill what was evicted, and warm the JIT: TurboFan's compiles and deopts in the first few
  // thousand steps allocate code and feedback on the heap, which is not the step's steady state
  runSteps(Math.max(10_000, steps), null, null);

  const loadAtStart = Math.round(os.loadavg()[0]! * 100) / 100;
  const samples = new Float64Array(steps);
  const stages = new Float64Array(steps * 5);
  const all = new Float64Array(steps * repeats);
  const p99s: number[] = [];
  const p50s: number[] = [];
  let gcWith = 0;
  let gcWithout = 0;
  const stageSums = [[], [], [], [], []] as number[][];
  /** per run: the mean of each stage and of the rest (index 5) over the steps at or above its p99 */
  const tailSums = [[], [], [], [], [], []] as number[][];
  for (let r = 0; r < repeats; r++) {
    // Each window starts from an empty young generation, so a GC inside it comes from what the
    // window allocates, not from the harness's statistics of the previous window.
    await collectGarbage();
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
    const tail = [0, 0, 0, 0, 0, 0];
    let tailCount = 0;
    for (let s = 0; s < steps; s++) {
      if (samples[s]! < d.p99) continue;
      tailCount++;
      let inStages = 0;
      for (let k = 0; k < 5; k++) {
        tail[k]! += stages[s * 5 + k]!;
        inStages += stages[s * 5 + k]!;
      }
      tail[5]! += samples[s]! - inStages;
    }
    for (let k = 0; k < 6; k++) tailSums[k]!.push(tail[k]! / Math.max(1, tailCount));
    await collectGarbage();
    const gcBase = new GcCounter().start();
    generatorOnly(steps);
    gcWithout += (await gcBase.stop()).total;
  }
  const allocatedBytesPerStep = measureAllocation(runSteps);
  const allocationSites =
    allocatedBytesPerStep > allocationSiteThresholdBytes ? await nameAllocationSites(runSteps) : undefined;
  const overall = distribution(all);
  const measuredSteps = steps * repeats;
  const perExperience = (rssAfter - rssBefore) / n;
  const raw = bytesPerExperience(config, stateDim, actionDim, 0);
  const hnswTotal = hnswBytesEstimate(config, stateDim);
  // the index's links: level-0 list (2M neighbours + count) plus upper levels, without its vector copy
  const M = config.similarity.hnsw.M;
  const links = backendName.startsWith('hnsw') ? Math.round((2 * M + 1) * 4 + ((M + 1) * 4) / Math.max(1, M - 1)) : 0;
  const result: SizeResult = {
    stateDim,
    actionDim,
    n,
    backend: backendName,
    kernels,
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
    tailStages: {
      encodeNs: median(tailSums[0]!),
      lookupNs: median(tailSums[1]!),
      activationNs: median(tailSums[2]!),
      planNs: median(tailSums[3]!),
      storeNs: median(tailSums[4]!),
      otherNs: median(tailSums[5]!),
    },
    insert,
    eviction,
    fillSeconds,
    bytesPerExperience: Math.round(perExperience),
    rssGrowthBytes: rssAfter - rssBefore,
    rawPayloadBytes: raw,
    indexLinkBytes: links,
    bytesRatio: perExperience / (raw + links),
    gcPer10kWithStep: (gcWith * 10_000) / measuredSteps,
    gcPer10kWithoutStep: (gcWithout * 10_000) / measuredSteps,
    gcPer10kAttributable: Math.max(0, ((gcWith - gcWithout) * 10_000) / measuredSteps),
    allocatedBytesPerStep,
    ...(allocationSites && { allocationSites }),
    lookupPath: brain.index.activePath(),
    loadAverage: loadAtStart,
    horizon: config.planner.horizon,
  };
  void hnswTotal;
  brain.dispose();
  return result;
}

/** Median young-generation growth per step over windows of 500 steps with no scavenge inside, less the reading's own bytes. */
function measureAllocation(runSteps: (count: number, samples: null, stages: null) => void): number {
  const youngUsed = () =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_used_size ?? 0;
  // The reading itself allocates (getHeapSpaceStatistics builds its objects after sampling the
  // sizes): measured with empty windows and subtracted, so only the steps' bytes remain.
  const overheads: number[] = [];
  for (let window = 0; window < 15; window++) {
    const before = youngUsed();
    const after = youngUsed();
    if (after >= before) overheads.push(after - before);
  }
  const overhead = overheads.length > 0 ? median(overheads) : 0;
  const window = 500;
  const perStep: number[] = [];
  for (let attempt = 0; attempt < 40 && perStep.length < 15; attempt++) {
    const before = youngUsed();
    runSteps(window, null, null);
    const after = youngUsed();
    if (after >= before) perStep.push(Math.max(0, after - before - overhead) / window);
  }
  return perStep.length > 0 ? Math.round(median(perStep) * 10) / 10 : Number.NaN;
}

/** Above this many bytes per step (a clean step allocates 0-1), bench brain names the allocating functions. */
const allocationSiteThresholdBytes = 16;

/** The functions allocating over 2,000 more steps, top 8, with their bytes per step. */
async function nameAllocationSites(
  runSteps: (count: number, samples: null, stages: null) => void,
): Promise<SizeResult['allocationSites']> {
  const steps = 2000;
  const sites = await sampleAllocations(() => runSteps(steps, null, null), 256);
  return sites
    .slice(0, 8)
    .map(({ bytes, ...site }) => ({ ...site, bytesPerStep: Math.round((bytes / steps) * 10) / 10 }));
}

/**
 * The ONNX encoder's per-frame latency: `runs` calls of measureEncoderLatency (50 warm-up frames,
 * then `frames` timed encodes each) on one session. Never throws: a missing onnxruntime-node or
 * model is recorded in `error` (the step benchmark does not need the encoder).
 */
async function measureEncoder(runs: number, frames: number, command: string): Promise<EncoderResult> {
  const config = encoderConfigSchema.parse({
    channel: 'scan',
    model: join(repoRoot, encoderModel.path),
    inputName: encoderModel.inputName,
    outputName: encoderModel.outputName,
    inputSize: encoderModel.inputSize,
    outputSize: encoderModel.outputSize,
  });
  const result: EncoderResult = {
    command,
    machine: describeMachine(),
    model: encoderModel.path,
    modelDescription: encoderModel.description,
    inputSize: config.inputSize,
    outputSize: config.outputSize,
    provider: config.executionProvider,
    intraOpNumThreads: config.intraOpNumThreads,
    runs,
    framesPerRun: frames,
    p50Us: Number.NaN,
    p99Us: Number.NaN,
    maxUs: Number.NaN,
    p50PerRunUs: [],
    p99PerRunUs: [],
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
  };
  let encoder: OnnxEncoder;
  try {
    encoder = await OnnxEncoder.create(config, { info() {}, warn() {}, error() {} });
  } catch (error) {
    result.error = (error as Error).message;
    return result;
  }
  const perRun: EncoderLatency[] = [];
  for (let r = 0; r < runs; r++) perRun.push(measureEncoderLatency(encoder, frames));
  result.p50PerRunUs = perRun.map((run) => run.p50Us);
  result.p99PerRunUs = perRun.map((run) => run.p99Us);
  result.p50Us = median(result.p50PerRunUs);
  result.p99Us = median(result.p99PerRunUs);
  result.maxUs = Math.max(...perRun.map((run) => run.maxUs));
  return result;
}

function encoderLogLine(e: EncoderResult): string {
  if (e.error) return `encoder: not measured (${e.error})`;
  return `encoder ${e.model} (${e.inputSize} -> ${e.outputSize}, ${e.provider}): p50 ${us(e.p50Us * 1000)} µs, p99 ${us(e.p99Us * 1000)} µs, max ${us(e.maxUs * 1000)} µs over ${e.runs} x ${e.framesPerRun} frames`;
}

function encoderMarkdown(e: EncoderResult | undefined): string[] {
  const lines = ['', '### ONNX sensor encoder', ''];
  if (!e) return [...lines, 'Not measured yet: `engram bench brain --encoder-only`.'];
  lines.push(
    `Command: \`${e.command}\`. Machine: ${machineLine(e.machine)}; load average ${e.loadAverage}.`,
    '',
    "Per-frame latency of `OnnxEncoder.encode` (brain/encode/onnx.ts: the native session's synchronous",
    '`run`, input and output copies included), timed by `measureEncoderLatency` after 50 warm-up frames,',
    `with ${e.model} (${e.modelDescription}), execution provider \`${e.provider}\`, ${e.intraOpNumThreads} intra-op thread.`,
    'Times in µs; p50/p99 are medians over runs, max over all frames. Measured apart from the step',
    'above, whose frames carry no encoded channel: a step with an encoded channel adds this to its encode stage.',
    '',
  );
  if (e.error) return [...lines, `Not measured: ${e.error}`];
  return [
    ...lines,
    table(
      ['model', 'input → output', 'provider', 'runs x frames', 'p50', 'p99', 'max'],
      [
        [
          e.model.split('/').pop()!,
          `${e.inputSize} → ${e.outputSize}`,
          e.provider,
          `${e.runs} x ${e.framesPerRun}`,
          us(e.p50Us * 1000),
          us(e.p99Us * 1000),
          us(e.maxUs * 1000),
        ],
      ],
    ),
  ];
}

/** Adds results of an earlier run (bench/results/brain.json) for (dims, N, path, kernels, horizon) not measured now. */
function mergeEarlier(results: SizeResult[], runs: { command: string; date: string }[]): void {
  let earlier: { results?: SizeResult[]; runs?: { command: string; date: string }[]; command?: string };
  try {
    earlier = JSON.parse(readFileSync(resultPath('brain'), 'utf8'));
  } catch {
    return;
  }
  const key = (r: SizeResult) => `${r.stateDim}x${r.actionDim}@${r.n}/${r.backend}/${kernelsOf(r)}/h${r.horizon}`;
  const have = new Set(results.map(key));
  // The runs listed are those that measured a row still in the table; a kept row that does not say
  // which run measured it (older results) keeps every earlier run.
  const keptRuns = new Set<string>();
  let unknownRun = false;
  for (const old of earlier.results ?? []) {
    // results written before `horizon` was recorded ran the brain's default horizon
    old.horizon ??= brainConfig({}).planner.horizon;
    if (have.has(key(old))) continue;
    results.push(old);
    if (old.run === undefined) unknownRun = true;
    else keptRuns.add(old.run);
  }
  const earlierRuns = earlier.runs ?? (earlier.command ? [{ command: earlier.command, date: '' }] : []);
  runs.push(...earlierRuns.filter((run) => unknownRun || keptRuns.has(run.date)));
}

/**
 * Marginal bytes per experience for every N that has a smaller N with the same dims, path, kernels
 * and horizon (the nearest smaller one): (growth(N) - growth(smaller)) / (N - smaller).
 */
export function addMarginalBytes(results: SizeResult[]): void {
  const group = (r: SizeResult) => `${r.stateDim}x${r.actionDim}/${r.backend}/${kernelsOf(r)}/h${r.horizon}`;
  const growth = (r: SizeResult) => r.rssGrowthBytes ?? r.bytesPerExperience * r.n;
  for (const result of results) {
    let smaller: SizeResult | undefined;
    for (const other of results) {
      if (group(other) !== group(result) || other.n >= result.n) continue;
      if (!smaller || other.n > smaller.n) smaller = other;
    }
    if (!smaller) continue;
    const marginal = (growth(result) - growth(smaller)) / (result.n - smaller.n);
    result.marginalBytesPerExperience = Math.round(marginal);
    result.marginalBytesRatio = marginal / (result.rawPayloadBytes + result.indexLinkBytes);
    result.marginalFromN = smaller.n;
  }
}

const childMarker = 'BENCH_BRAIN_RESULT ';

/** --backend values: the index behind the brain */
const backendNames = ['hnsw', 'hnsw-updatepoint', 'linear'];

/** --kernels values: where the planner's arithmetic runs */
const kernelPaths: readonly KernelPath[] = ['native', 'javascript'];

/** A run's kernels: results from before the kernel addon ran in JavaScript. */
const kernelsOf = (r: SizeResult): KernelPath => r.kernels ?? 'javascript';

/**
 * Rows comparing two variants of the brain side by side: each (dims, N, horizon) measured as
 * `subject` (engram's move, or native kernels) and as `reference` (hnswlib's updatePoint, or
 * JavaScript kernels). "ratio": the reference's step p99 over the subject's.
 */
export function sideBySide(
  results: SizeResult[],
  isSubject: (r: SizeResult) => boolean,
  isReference: (r: SizeResult) => boolean,
  stage: 'storeNs' | 'planNs',
): (string | number)[][] {
  const rows: (string | number)[][] = [];
  const stageP50 = stage === 'storeNs' ? 'storeP50Ns' : 'planP50Ns';
  for (const subject of results) {
    if (!isSubject(subject)) continue;
    const reference = results.find(
      (r) =>
        isReference(r) &&
        r.stateDim === subject.stateDim &&
        r.actionDim === subject.actionDim &&
        r.n === subject.n &&
        r.horizon === subject.horizon,
    );
    if (!reference) continue;
    const tail = (r: SizeResult) => (r.tailStages ? us(r.tailStages[stage]) : 'n/a');
    rows.push([
      `${subject.stateDim}+${subject.actionDim}`,
      subject.n.toExponential(0).replace('+', ''),
      subject.horizon,
      `${us(subject.stepP50Ns)} / ${us(reference.stepP50Ns)}`,
      `${us(subject.stepP99Ns)} / ${us(reference.stepP99Ns)}`,
      (reference.stepP99Ns / subject.stepP99Ns).toFixed(2),
      `${us(subject.stages[stageP50])} / ${us(reference.stages[stageP50])}`,
      `${tail(subject)} / ${tail(reference)}`,
      `${subject.p99PerRunNs.map(us).join(', ')} / ${reference.p99PerRunNs.map(us).join(', ')}`,
    ]);
  }
  return rows;
}

/** engram's HNSW move (`hnsw`) against hnswlib's updatePoint (`hnsw-updatepoint`), native kernels both. */
export function moveComparison(results: SizeResult[]): (string | number)[][] {
  return sideBySide(
    results,
    (r) => r.backend === 'hnsw',
    (r) => r.backend === 'hnsw-updatepoint',
    'storeNs',
  );
}

/** the kernel addon against local-model.ts's JavaScript, same backend both. */
export function kernelComparison(results: SizeResult[]): (string | number)[][] {
  return sideBySide(
    results,
    (r) => kernelsOf(r) === 'native',
    (r) => kernelsOf(r) === 'javascript',
    'planNs',
  );
}

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
  kernels: KernelPath,
  horizon: number,
): SizeResult {
  const args = [
    ...process.execArgv,
    // full collections before each window and each RSS reading, however the parent was started
    ...(process.execArgv.includes('--expose-gc') ? [] : ['--expose-gc']),
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
    '--kernels',
    kernels,
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

function markdown(
  results: SizeResult[],
  command: string,
  machine: MachineDescription,
  encoder: EncoderResult | undefined,
): string {
  const rows = results.map((r) => [
    `${r.stateDim}+${r.actionDim}`,
    r.n.toExponential(0).replace('+', ''),
    r.backend,
    kernelsOf(r),
    r.horizon ?? '',
    us(r.stepP50Ns),
    us(r.stepP99Ns),
    us(r.stepP999Ns),
    us(r.stepMaxNs),
    `${us(r.stages.lookupP50Ns)} / ${us(r.stages.planP50Ns)} / ${us(r.stages.storeP50Ns)}`,
    r.tailStages === undefined
      ? 'n/a'
      : `${us(r.tailStages.planNs)} / ${us(r.tailStages.storeNs)} / ` +
        us(r.tailStages.encodeNs + r.tailStages.lookupNs + r.tailStages.activationNs + r.tailStages.otherNs),
    `${us(r.insert.p50)} / ${us(r.insert.p99)}`,
    `${us(r.eviction.p50)} / ${us(r.eviction.p99)}`,
    r.marginalBytesPerExperience !== undefined && r.marginalBytesRatio !== undefined && r.n >= 100_000
      ? `${r.marginalBytesPerExperience} (${r.marginalBytesRatio.toFixed(2)}x)`
      : 'n/a',
    r.n >= 100_000 ? `${r.bytesPerExperience} (${r.bytesRatio.toFixed(2)}x)` : 'n/a',
    `${r.gcPer10kWithStep.toFixed(1)} / ${r.gcPer10kWithoutStep.toFixed(1)}`,
    r.allocatedBytesPerStep === undefined ? 'n/a' : String(r.allocatedBytesPerStep),
  ]);
  return [
    '## Brain step (`engram bench brain`)',
    '',
    `Commands: \`${command}\`. Machine: ${machineLine(machine)}.`,
    '',
    'One step = encode one frame, one context lookup (k = 16), activation, 32 candidate action sequences',
    'of `horizon` steps through the planner, and storing the previous experience (insert, links, TD backups,',
    'one eviction: memory is full). Times in µs; p50/p99 are medians over runs, p99.9/max over all',
    'measured steps. Bytes per experience, as a ratio to the raw payload (store arrays) plus the index links',
    '(the index\'s own copy of each vector, its label map and per-element lock count as overhead): "marginal"',
    'is what one more experience costs, the slope of the RSS growth between this N and the next smaller N',
    '(each size fills a fresh process, so the ~15 MB that do not grow with N cancel: compiled code, the',
    'addon, V8\'s heap reserve); "whole" is RSS growth while filling / N, those 15 MB included. Shown from',
    'N = 1e5 (below that the fixed part dominates); the HNSW index is sized for N at start, as growing it by',
    'doubling leaves freed blocks in the process. GCs per 10k steps: with the step / generator alone, each',
    'window of steps started after a full collection (so a GC in it comes from what it allocates) and after',
    '10k warm-up steps. "alloc B/step": JS heap bytes the step +',
    'maintain allocate (young-generation growth, median of 500-step windows without a scavenge); the HNSW',
    "path runs through engram's typed binding (native/hnsw: no allocation per search; hnswlib-node's cost",
    '~1.2 KB per step at 16 dims, ~2.7 KB at 64). Above 16 B per step a run also names the functions that',
    "allocate (`allocationSites` in the JSON: V8's sampling heap profile over 2,000 more steps).",
    '"steps >= p99": the mean of each stage over the steps at or above their run\'s p99 (where the tail',
    'comes from; "rest" is encode, lookup, activation and the step outside its stages).',
    '"kernels": where the planner\'s arithmetic ran: engram\'s kernel addon (native/kernels) or JavaScript',
    '(rows measured before the addon existed; the same results, slower: see the side-by-side section below).',
    'Load average during each size is in',
    'the JSON (`loadAverage`): this 2-core machine is shared, so tails reflect other work too.',
    'Targets: p99 <= 500 µs at 1e4, <= 1000 µs at 1e5, <= 2000 µs at 1e6; zero GCs from the step; bytes <= 1.5x.',
    '',
    table(
      [
        'dims',
        'N',
        'path',
        'kernels',
        'horizon',
        'p50',
        'p99',
        'p99.9',
        'max',
        'lookup / plan / store p50',
        'steps >= p99: plan / store / rest',
        'insert p50 / p99',
        'evict p50 / p99',
        'bytes/exp marginal',
        'bytes/exp whole',
        'GC/10k',
        'alloc B/step',
      ],
      rows,
    ),
    ...encoderMarkdown(encoder),
  ].join('\n');
}

/** A side-by-side run of bench brain: its own result file and doc section, the main table untouched. */
interface Comparison {
  name: 'brain-move' | 'brain-kernels';
  title: string;
  /** what was compared, ahead of the table */
  explanation: string[];
  /** the stage the compared variants differ in */
  stage: 'store' | 'plan';
  rows: (results: SizeResult[]) => (string | number)[][];
}

const moveComparisonDoc: Comparison = {
  name: 'brain-move',
  title:
    "## Brain step: engram's HNSW move against hnswlib's updatePoint (`engram bench brain --backend hnsw,hnsw-updatepoint`)",
  explanation: [
    "The brain step of the table above, with the index moving slots (every store evicts and reuses one) by engram's",
    "move (native/hnsw/move.h, the default) and by hnswlib's updatePoint, each size measured with one and then the",
    'other (the order alternating between sizes). Both build the same graph, so the brain takes the same steps and',
    "only the store differs; the machine's speed drifts between runs, so compare within a row. Times in µs, engram /",
    'updatePoint; "ratio": updatePoint\'s step p99 over engram\'s; p99 per run shows the spread.',
  ],
  stage: 'store',
  rows: moveComparison,
};

const kernelComparisonDoc: Comparison = {
  name: 'brain-kernels',
  title:
    "## Brain step: the kernel addon against the local model's JavaScript (`engram bench brain --kernels native,javascript`)",
  explanation: [
    "The brain step of the table above with the local linear model's fit and predictions (the planner's",
    "arithmetic) in engram's kernel addon (native/kernels, the default) and in brain/local-model.ts's",
    'JavaScript, each size measured with one and then the other (the order alternating between sizes). Both',
    "compute the same bits, so the brain takes the same steps and only the time differs; the machine's speed",
    'drifts between runs, so compare within a row. Times in µs, native / JavaScript; "ratio": JavaScript\'s',
    "step p99 over native's; p99 per run shows the spread.",
  ],
  stage: 'plan',
  rows: kernelComparison,
};

function comparisonMarkdown(
  comparison: Comparison,
  results: SizeResult[],
  command: string,
  machine: MachineDescription,
): string {
  const { stage } = comparison;
  return [
    comparison.title,
    '',
    `Command: \`${command}\`. Machine: ${machineLine(machine)}.`,
    '',
    ...comparison.explanation,
    '',
    table(
      [
        'dims',
        'N',
        'horizon',
        'step p50',
        'step p99',
        'ratio',
        `${stage} p50`,
        `steps >= p99: ${stage}`,
        'p99 per run',
      ],
      comparison.rows(results),
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
    const backends = (values.backend ?? 'hnsw').split(',').map((name) => name.trim());
    const kernelsList = (values.kernels ?? 'native').split(',').map((name) => name.trim());
    for (const kernels of kernelsList) {
      if (!(kernelPaths as readonly string[]).includes(kernels)) {
        throw new UsageError(`--kernels expects ${kernelPaths.join(', ')} (comma separated), got '${kernels}'`);
      }
    }
    for (const [flag, list] of [
      ['--backend', backends],
      ['--kernels', kernelsList],
    ] as const) {
      if (new Set(list).size !== list.length) throw new UsageError(`${flag} names a value twice: ${list.join(',')}`);
    }
    if (kernelsList.length > 1 && backends.length > 1) {
      throw new UsageError('compare either --backend or --kernels side by side, not both in one run');
    }
    const variants = backends.flatMap((backend) =>
      kernelsList.map((kernels) => ({ backend, kernels: kernels as KernelPath })),
    );
    const horizon = numberFlag(values.horizon, 'horizon', 0);
    if (!Number.isInteger(horizon) || horizon < 0) throw new UsageError('--horizon expects a positive integer');
    for (const backend of backends) {
      if (!backendNames.includes(backend)) {
        throw new UsageError(`--backend expects ${backendNames.join(', ')} (comma separated), got '${backend}'`);
      }
    }
    if (!(repeats >= 1) || !(steps >= 100)) throw new UsageError('--repeats must be >= 1 and --steps >= 100');
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const commandLine = `engram bench brain ${argv.filter((a) => a !== '--json').join(' ')}`.trim();
    if (values['encoder-only']) {
      const encoder = await measureEncoder(repeats, steps, commandLine);
      log(encoderLogLine(encoder));
      if (encoder.error) return 1;
      // keep the step results (and their machine) of the last full run; replace only `encoder`
      let earlier: { machine?: MachineDescription; runs?: { command: string }[]; results?: SizeResult[] } = {};
      try {
        earlier = JSON.parse(readFileSync(resultPath('brain'), 'utf8'));
      } catch {}
      const { benchmark: _benchmark, ...kept } = earlier as { benchmark?: string };
      const path = writeResult('brain', { ...kept, encoder });
      if (!values['no-doc']) {
        const machine = earlier.machine ?? describeMachine();
        const runs = earlier.runs ?? [];
        updateBenchmarksDoc(
          'brain',
          markdown(earlier.results ?? [], runs.map((r) => r.command).join('`; `'), machine, encoder),
        );
      }
      log(`wrote ${path}`);
      if (values.json) printJsonLast({ benchmark: 'brain', encoder });
      return 0;
    }
    if (!globalThis.gc) log('note: run node with --expose-gc for steadier RSS readings');
    if (values.child) {
      // one size in this process: the parent reads the JSON line
      const [[stateDim, actionDim]] = dims as [[number, number]];
      const { backend, kernels } = variants[0]!;
      const result = await measureSize(stateDim, actionDim, sizes[0]!, repeats, steps, backend, kernels, horizon, log);
      process.stdout.write(`${childMarker}${JSON.stringify(result)}\n`);
      return 0;
    }
    const results: SizeResult[] = [];
    let sizeIndex = 0;
    for (const [stateDim, actionDim] of dims) {
      for (const n of sizes) {
        // side by side: alternate which variant goes first, so a slow stretch does not favour one
        const order = sizeIndex++ % 2 === 0 ? variants : [...variants].reverse();
        for (const { backend, kernels } of order) {
          const result = measureInChild(stateDim, actionDim, n, repeats, steps, backend, kernels, horizon);
          results.push(result);
          log(
            `dims ${stateDim}+${actionDim} N=${n} ${result.backend} (${kernels} kernels): step p50 ${us(result.stepP50Ns)} µs, p99 ${us(result.stepP99Ns)} µs, p99.9 ${us(result.stepP999Ns)} µs, max ${us(result.stepMaxNs)} µs; insert p50 ${us(result.insert.p50)} µs; evict p50 ${us(result.eviction.p50)} µs; ${result.bytesPerExperience} B/exp (${result.bytesRatio.toFixed(2)}x); GC/10k ${result.gcPer10kWithStep.toFixed(1)} with, ${result.gcPer10kWithoutStep.toFixed(1)} without; alloc ${result.allocatedBytesPerStep} B/step; fill ${result.fillSeconds.toFixed(1)} s`,
          );
          for (const site of result.allocationSites ?? []) {
            log(
              `  allocates ${site.bytesPerStep} B/step: ${site.functionName} ${site.url}:${site.line} <- ${site.caller}`,
            );
          }
        }
      }
    }
    const comparison =
      kernelsList.length > 1
        ? kernelComparisonDoc
        : backends.includes('hnsw') && backends.includes('hnsw-updatepoint')
          ? moveComparisonDoc
          : null;
    if (comparison !== null) {
      const path = writeResult(comparison.name, { command: commandLine, repeats, steps, results });
      if (!values['no-doc']) {
        updateBenchmarksDoc(comparison.name, comparisonMarkdown(comparison, results, commandLine, describeMachine()));
      }
      log(`wrote ${path}`);
      if (values.json) printJsonLast({ benchmark: comparison.name, results });
      return 0;
    }
    const encoder = await measureEncoder(repeats, steps, commandLine);
    log(encoderLogLine(encoder));
    const runs = [{ command: commandLine, date: new Date().toISOString(), repeats, steps }];
    for (const result of results) result.run = runs[0]!.date;
    if (values.merge) mergeEarlier(results, runs);
    addMarginalBytes(results);
    results.sort(
      (a, b) =>
        a.stateDim - b.stateDim ||
        a.actionDim - b.actionDim ||
        (a.horizon ?? 0) - (b.horizon ?? 0) ||
        a.n - b.n ||
        a.backend.localeCompare(b.backend),
    );
    const path = writeResult('brain', { command: commandLine, runs, repeats, steps, results, encoder });
    if (!values['no-doc']) {
      const commands = runs.map((r) => r.command).join('`; `');
      updateBenchmarksDoc('brain', markdown(results, commands, describeMachine(), encoder));
    }
    log(`wrote ${path}`);
    if (values.json) printJsonLast({ benchmark: 'brain', results, encoder });
    return 0;
  },
};
