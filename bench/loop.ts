/**
 * `engram bench loop`: the real loop, runner and waiter on the system clock, with the real Brain
 * learning every cycle (step, then storing and evicting in slack) at N stored experiences, at
 * several rates. Reports wake-up lateness p50/p99/p99.9/max, achieved rate, overruns, skipped ticks
 * and step times, with cyclictest at the same interval in the same run as the machine's reference.
 *
 * The sensor is a signal source on the driver contract (16 smooth channels that respond to the
 * action), so the brain has structure to learn and the loop has a fresh frame every cycle.
 */
import { setPriority } from 'node:os';
import type { Brain } from '../brain/brain.js';
import { brainConfig } from '../brain/config.js';
import { createBrain } from '../brain/create.js';
import { SinglePathIndex } from '../brain/linear-index.js';
import type { VectorSource } from '../brain/memory/store.js';
import type { SimilarityBackend, SimilarityIndex } from '../brain/similarity/backend.js';
import { durationFlag, numberFlag, parseCommandArgs, printJsonLast, type Subcommand } from '../runtime/cli/args.js';
import { systemClock } from '../runtime/clock.js';
import {
  type Action,
  type CycleObserver,
  type CycleRecord,
  type Driver,
  type DriverCounters,
  type EventLog,
  type Frame,
  Status,
  type StatusCode,
} from '../runtime/contracts.js';
import { Loop } from '../runtime/loop.js';
import { LoopRunner } from '../runtime/loop-runner.js';
import { actionLimits, SafetyFilter } from '../runtime/safety.js';
import {
  type CpuLatencyHold,
  holdCpuLatency,
  type RealtimeThreads,
  readCpuLatency,
  setRealtimeScheduling,
  WHOLE_PROCESS,
} from '../runtime/scheduling.js';
import type { WaiterStrategy } from '../runtime/timing.js';
import { type FaultCounts, faultsSince, readFaultCounts } from './lib/faults.js';
import { describeMachine, machineLine, table, updateBenchmarksDoc, us, writeResult } from './lib/report.js';
import { coveredNs, type Interval, startStallWitness, unionIntervals } from './lib/stall-witness.js';
import { distribution, GcCounter, median } from './lib/stats.js';
import { type CyclictestResult, realtimePermitted, runCyclictest } from './timing.js';

/** SCHED_FIFO priority of the loop's threads and of cyclictest in "rt" runs */
const LOOP_PRIORITY = 50;
/**
 * The stall witnesses' priority in "rt" runs: one below the loop's. At the loop's own priority a
 * witness (pinned to one CPU) preempted the loop's thread on every wake on its CPU: Linux's
 * check_preempt_equal_prio reschedules a running FIFO task that could run elsewhere in favour of a
 * waking one of equal priority that cannot. A sched_switch trace of a 1 kHz run showed the loop's
 * main thread switched out ~400 times a second, all but 5 of them for a witness.
 */
const WITNESS_PRIORITY = LOOP_PRIORITY - 1;
/**
 * The witnesses' nice value in runs under normal scheduling. At nice 0 a witness's wake preempted
 * the loop's main thread (the scheduler's wake-up preemption): ~800 times a second in a 1 kHz run,
 * 6,570 of its 7,795 involuntary switches in an 8 s trace. At nice 19 its wake does not preempt a
 * nice-0 thread; it runs when the loop's CPU is free, well inside its 2 ms threshold at these rates.
 */
const WITNESS_NICE = 19;
const OBSERVATION = 16;
const ACTION = 4;

/** Smooth channels at different frequencies, pushed by the last action. Allocation-free. */
class SignalDriver implements Driver {
  readonly name = 'signal';
  private polls = 0;
  private published = 0;
  private readonly lastAction = new Float32Array(ACTION);
  async start(): Promise<void> {}
  poll(into: Frame): StatusCode {
    const t = this.polls * 0.01;
    const obs = into.observation;
    for (let i = 0; i < OBSERVATION; i++) {
      obs[i] = Math.sin(t * (1 + 0.37 * i) + i) + 0.3 * this.lastAction[i % ACTION]!;
    }
    into.seq = this.polls;
    into.receivedNs = systemClock.nowNs();
    into.sourceStampNs = into.receivedNs;
    into.reward = -Math.abs(obs[0]! - 0.5);
    into.episodeStart = this.polls === 0;
    into.estop = false;
    this.polls++;
    return Status.ok;
  }
  publish(action: Action): void {
    this.published++;
    this.lastAction.set(action.values);
  }
  counters(): DriverCounters {
    return { framesReceived: this.polls, framesRejected: 0, actionsPublished: this.published, reconnects: 0 };
  }
  async stop(): Promise<void> {}
}

/**
 * Copies each cycle's lateness and times into preallocated arrays (one run's worth). Lateness is
 * measured against the tick the loop was waiting for (as cyclictest measures it): a wake that
 * lands past the next tick counts in full, not just its remainder after the skipped ticks.
 */
class CycleSampler implements CycleObserver {
  count = 0;
  readonly lateness: Float64Array;
  readonly cycle: Float64Array;
  readonly step: Float64Array;
  /** when the tick the loop waited for was due, when it woke, and the ticks it skipped */
  readonly waitedForNs: Float64Array;
  readonly wokeNs: Float64Array;
  readonly skipped: Float64Array;
  /** when each cycle's own work ended: wake + cycle + its slack work (read at the next cycle) */
  readonly busyEndNs: Float64Array;
  /** the previous cycle's record (its slack work is written after observers run) */
  private previous: CycleRecord | undefined;
  constructor(
    capacity: number,
    private readonly periodNs: number,
  ) {
    this.lateness = new Float64Array(capacity);
    this.cycle = new Float64Array(capacity);
    this.step = new Float64Array(capacity);
    this.waitedForNs = new Float64Array(capacity);
    this.wokeNs = new Float64Array(capacity);
    this.skipped = new Float64Array(capacity);
    this.busyEndNs = new Float64Array(capacity);
  }
  cycleDone(record: CycleRecord): void {
    if (this.count >= this.lateness.length) return;
    this.lateness[this.count] = record.latenessNs + record.skippedTicks * this.periodNs;
    this.waitedForNs[this.count] = record.dueNs - record.skippedTicks * this.periodNs;
    this.wokeNs[this.count] = record.wokeNs;
    this.skipped[this.count] = record.skippedTicks;
    const previous = this.previous;
    if (previous !== undefined && this.count > 0) {
      this.busyEndNs[this.count - 1] = previous.wokeNs + previous.cycleNs + previous.maintenanceNs;
    }
    this.previous = record;
    this.cycle[this.count] = record.cycleNs;
    this.step[this.count] = record.encodeNs + record.lookupNs + record.activationNs + record.planNs;
    this.count++;
  }
  flush(): void {}
}

const quiet: EventLog = { info() {}, warn() {}, error() {} };

/** HNSW when this build has it (loaded lazily), else undefined: the brain's exact scan is used. */
async function hnswIndexBuilder(
  M: number,
  efConstruction: number,
  efSearch: number,
): Promise<((source: VectorSource) => Promise<SimilarityIndex>) | undefined> {
  const path = '../brain/similarity/hnsw.js';
  let module: {
    hnswFactory?: (options: object) => { create(source: VectorSource): Promise<SimilarityBackend | Error> };
  };
  try {
    module = await import(path);
  } catch {
    return undefined;
  }
  const factory = module.hnswFactory;
  if (typeof factory !== 'function') return undefined;
  return async (source) => {
    const backend = await factory({ M, efConstruction, efSearch }).create(source);
    if (backend instanceof Error) throw backend;
    return new SinglePathIndex(backend);
  };
}

/**
 * The brain at N experiences: lock-step steps until the normaliser freezes, then experiences along
 * the same signal (normalised by the brain's own normaliser) up to N, indexed as the brain would.
 */
async function brainAtN(n: number): Promise<{ brain: Brain; index: string; prefillSeconds: number }> {
  const config = brainConfig({ memory: { capacity: n, maxMiB: 4096 } });
  const builder = await hnswIndexBuilder(
    config.similarity.hnsw.M,
    config.similarity.hnsw.efConstruction,
    config.similarity.hnsw.efSearch,
  );
  const started = systemClock.nowNs();
  const brain = await createBrain(config, {
    observationSize: OBSERVATION,
    actionSize: ACTION,
    clock: systemClock,
    log: quiet,
    ...(builder ? { index: builder } : {}),
  });
  const driver = new SignalDriver();
  const frame = {
    seq: -1,
    sourceStampNs: 0,
    receivedNs: 0,
    observation: new Float32Array(OBSERVATION),
    reward: 0,
    episodeStart: true,
    estop: false,
  };
  const action = {
    cycle: 0,
    frameSeq: 0,
    stale: false,
    publishedNs: 0,
    values: new Float32Array(ACTION),
  };
  const timings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: 0 as const };
  const warmup = config.normaliser.warmupSteps + 200;
  for (let i = 0; i < warmup && brain.size() < n; i++) {
    driver.poll(frame);
    brain.step(frame, systemClock.nowNs() + 5e6, action.values, timings);
    driver.publish(action);
    brain.maintain(systemClock.nowNs() + 5e6);
  }
  // Bulk: experiences along the signal with random actions, as the brain stores them.
  const store = brain.store;
  const raw = new Float32Array(OBSERVATION);
  const next = new Float32Array(OBSERVATION);
  const context = new Float32Array(OBSERVATION);
  const nextContext = new Float32Array(OBSERVATION);
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  for (let i = 0; store.size() < n; i++) {
    const t = (warmup + i) * 0.01;
    const a = new Float32Array(ACTION);
    for (let d = 0; d < ACTION; d++) a[d] = random() * 2 - 1;
    for (let d = 0; d < OBSERVATION; d++) {
      raw[d] = Math.sin(t * (1 + 0.37 * d) + d) + 0.3 * (random() * 2 - 1);
      next[d] = Math.sin((t + 0.01) * (1 + 0.37 * d) + d) + 0.3 * a[d % ACTION]!;
    }
    brain.normaliser.normalise(raw, context);
    brain.normaliser.normalise(next, nextContext);
    const slot = store.allocate(warmup + i);
    if (slot < 0) break;
    const base = slot * OBSERVATION;
    for (let d = 0; d < OBSERVATION; d++) {
      store.context[base + d] = context[d]!;
      store.outcome[base + d] = nextContext[d]! - context[d]!;
    }
    store.action.set(a, slot * ACTION);
    store.reward[slot] = -Math.abs(next[0]! - 0.5);
    store.returnEstimate[slot] = store.reward[slot]! * 10;
    brain.index.upsert(slot, store.context.subarray(base, base + OBSERVATION));
  }
  return {
    brain,
    index: builder ? 'hnsw' : 'linear (hnsw unavailable in this build)',
    prefillSeconds: (systemClock.nowNs() - started) / 1e9,
  };
}

interface RateResult {
  rateHz: number;
  repeat: number;
  cycles: number;
  achievedRateHz: number;
  rateErrorPercent: number;
  skippedTicks: number;
  overruns: number;
  overrunPercent: number;
  deadlineMisses: number;
  lateness: { p50Us: number; p99Us: number; p999Us: number; maxUs: number };
  stepUs: { p50: number; p99: number };
  cycleUs: { p50: number; p99: number };
  effortLevelEnd: number;
  effortStepsDown: number;
  experiencesEnd: number;
  gc: { minor: number; major: number; pauseMs: number };
  realtime: boolean;
  /** under SCHED_FIFO: which threads had it ('loop': the main and timekeeper threads; 'all': every thread) */
  realtimeThreads: 'loop' | 'all' | 'none';
  /** CPU wake-up latency held during the loop's run (µs, as timing.cpuLatencyUs), or null */
  cpuLatencyHeldUs: number | null;
  cyclictest: CyclictestResult;
  /** our p99 lateness over cyclictest's p99 at the same interval and priority */
  p99Ratio: number;
  /** what the per-CPU stall witnesses saw during the run (bench/lib/stall-witness.ts) */
  witness: {
    available: boolean;
    reason?: string;
    /** intervals in which every CPU's witness was stalled: count, total and longest (ms) */
    machineStalls: number;
    machineStallMs: number;
    longestMachineStallMs: number;
  };
  /** skipped ticks that fell inside machine-wide stalls */
  skippedInMachineStalls: number;
  /** skipped ticks that fell inside V8's GC pauses (perf_hooks' gc entries) */
  skippedInGcPauses: number;
  /** skipped ticks that came due while the previous cycle's own work (step, slack work) still ran */
  skippedBehindOwnWork: number;
  /**
   * skipped ticks inside a stall that at least one CPU's witness saw: an upper bound on what other
   * work on a CPU explains, since the loop's own thread can hold up the witness on its CPU
   */
  skippedInAnyCpuStalls: number;
  /** the rate error had those ticks run */
  rateErrorOutsideStallsPercent: number;
  /** page faults and involuntary context switches during the run (bench/lib/faults.ts) */
  faults: FaultCounts;
}

/**
 * Skipped ticks that came due while the loop's previous cycle was still working (its step and slack
 * work ran past them): the loop's own doing, whatever the machine did.
 */
function skippedBehindOwnWork(sampler: CycleSampler, periodNs: number): number {
  let ticks = 0;
  for (let i = 1; i < sampler.count; i++) {
    const skipped = sampler.skipped[i]!;
    if (skipped === 0) continue;
    const overhang = sampler.busyEndNs[i - 1]! - sampler.waitedForNs[i]!;
    if (overhang > 0) ticks += Math.min(skipped, Math.floor(overhang / periodNs) + 1);
  }
  return ticks;
}

/** Skipped ticks whose time the sorted, disjoint `stalls` cover (whole periods of each late wake). */
function skippedInStalls(sampler: CycleSampler, stalls: readonly Interval[], periodNs: number): number {
  if (stalls.length === 0) return 0;
  let ticks = 0;
  for (let i = 0; i < sampler.count; i++) {
    const skipped = sampler.skipped[i]!;
    if (skipped === 0) continue;
    const covered = coveredNs(stalls, sampler.waitedForNs[i]!, sampler.wokeNs[i]!);
    ticks += Math.min(skipped, Math.floor(covered / periodNs));
  }
  return ticks;
}

async function runRate(
  brain: Brain,
  rateHz: number,
  seconds: number,
  strategy: WaiterStrategy,
  repeat: number,
  realtime: boolean,
  realtimeScope: 'loop' | 'all',
  holdCpu: boolean,
): Promise<RateResult> {
  const periodMs = 1000 / rateHz;
  const cycleBudgetMs = periodMs * 0.8;
  const sampler = new CycleSampler(Math.ceil(rateHz * seconds) + 100, 1e9 / rateHz);
  const driver = new SignalDriver();
  const safety = new SafetyFilter(
    actionLimits({
      size: ACTION,
      low: new Array(ACTION).fill(-1),
      high: new Array(ACTION).fill(1),
      safe: new Array(ACTION).fill(0),
      maxSlewPerSecond: 0,
    }),
    100e6,
  );
  const loop = new Loop(
    systemClock,
    driver,
    brain,
    safety,
    {
      rateHz,
      cycleBudgetNs: cycleBudgetMs * 1e6,
      stageBudgetsNs: {
        ingest: cycleBudgetMs * 0.05e6,
        encode: cycleBudgetMs * 0.1e6,
        lookup: cycleBudgetMs * 0.3e6,
        plan: cycleBudgetMs * 0.45e6,
        publish: cycleBudgetMs * 0.1e6,
      },
      // Slack for storing and evicting: what the period leaves after the budget and the wake lead.
      maintenanceNs: Math.max(0.1e6, (periodMs - cycleBudgetMs) * 1e6 * 0.5),
      overrunPolicy: 'hold',
      effort: { levels: 4, downAbove: 0.9, upBelow: 0.5, upAfterCycles: 200 },
      fullEffort: {
        candidates: brain.config.planner.candidates,
        horizon: brain.config.planner.horizon,
        ef: brain.config.similarity.hnsw.efSearch,
      },
      ringSize: 1024,
    },
    [sampler],
  );
  brain.setExploration(true);
  const runner = new LoopRunner(loop, systemClock, {
    strategy,
    wakeLeadNs: 300e3,
    spinNs: 50e3,
    durationNs: seconds * 1e9,
    onWaiterFallback: (why) => {
      throw new Error(`bench loop --strategy ${strategy}: ${why}`);
    },
  });
  // The witnesses start (python3 takes tens of ms of CPU) before the run, then run just below the
  // loop: WITNESS_PRIORITY under SCHED_FIFO, WITNESS_NICE under normal scheduling.
  const witness = startStallWitness();
  await witness.ready;
  // SCHED_FIFO for the loop's threads (or, 'all', every thread)
  const threads = realtimeScope === 'all' ? WHOLE_PROCESS : runner.waiter.realtimeThreads();
  const witnesses: RealtimeThreads = { kind: 'threads', ids: witness.pids };
  if (
    realtime &&
    !(setRealtimeScheduling(LOOP_PRIORITY, threads) && setRealtimeScheduling(WITNESS_PRIORITY, witnesses))
  ) {
    throw new Error(`SCHED_FIFO ${LOOP_PRIORITY} not permitted`);
  }
  if (!realtime) {
    for (const pid of witness.pids) {
      try {
        setPriority(pid, WITNESS_NICE);
      } catch {
        // the witness has exited already: witness.stop() reports why, and the run goes on without it
      }
    }
  }
  // as timing.cpuLatencyUs: 0 does in engram run; cyclictest holds the same while it runs (its default)
  let cpuLatency: CpuLatencyHold | undefined;
  if (holdCpu) {
    const held = holdCpuLatency(0);
    if (held instanceof Error) throw new Error(`bench loop --cpu-latency: ${held.message}`);
    cpuLatency = held;
  }
  const gc = new GcCounter().start();
  const faultsBefore = readFaultCounts();
  let gcs: Awaited<ReturnType<GcCounter['stop']>>;
  let faults: FaultCounts;
  try {
    await runner.run();
    faults = faultsSince(faultsBefore);
    gcs = await gc.stop();
  } finally {
    if (realtime) setRealtimeScheduling(0, threads);
    cpuLatency?.release();
  }
  const witnessed = await witness.stop();
  const periodNs = 1e9 / rateHz;
  const inStalls = skippedInStalls(sampler, witnessed.machineStalls, periodNs);
  const inAnyCpuStalls = skippedInStalls(sampler, witnessed.anyCpuStalls, periodNs);
  const inGcPauses = skippedInStalls(sampler, unionIntervals(gc.pauses), periodNs);
  const stallLengths = witnessed.machineStalls.map(([start, end]) => (end - start) / 1e6);
  const c = loop.counters;
  const lateness = distribution(sampler.lateness, sampler.count);
  const step = distribution(sampler.step, sampler.count);
  const cycle = distribution(sampler.cycle, sampler.count);
  const achieved = loop.achievedRateHz();
  const cyclictest = runCyclictest(1e6 / rateHz, Math.round(rateHz * seconds), realtime ? LOOP_PRIORITY : 0);
  return {
    rateHz,
    repeat,
    cycles: c.cycles,
    achievedRateHz: achieved,
    rateErrorPercent: ((achieved - rateHz) / rateHz) * 100,
    skippedTicks: c.skippedTicks,
    overruns: c.overruns,
    overrunPercent: (c.overruns / Math.max(1, c.cycles)) * 100,
    deadlineMisses: c.deadlineMisses,
    lateness: {
      p50Us: lateness.p50 / 1e3,
      p99Us: lateness.p99 / 1e3,
      p999Us: lateness.p999 / 1e3,
      maxUs: lateness.max / 1e3,
    },
    stepUs: { p50: step.p50 / 1e3, p99: step.p99 / 1e3 },
    cycleUs: { p50: cycle.p50 / 1e3, p99: cycle.p99 / 1e3 },
    effortLevelEnd: loop.ladder.level,
    effortStepsDown: loop.ladder.stepsDown,
    experiencesEnd: brain.size(),
    gc: { minor: gcs.minor, major: gcs.major, pauseMs: gcs.pauseMs },
    realtime,
    realtimeThreads: realtime ? (threads.kind === 'process' ? 'all' : 'loop') : 'none',
    cpuLatencyHeldUs: cpuLatency ? cpuLatency.us : null,
    cyclictest,
    p99Ratio: cyclictest.available ? lateness.p99 / 1e3 / Math.max(1, cyclictest.p99Us) : Number.NaN,
    witness: {
      available: witnessed.available,
      ...(witnessed.reason === undefined ? {} : { reason: witnessed.reason }),
      machineStalls: stallLengths.length,
      machineStallMs: stallLengths.reduce((sum, ms) => sum + ms, 0),
      longestMachineStallMs: Math.max(0, ...stallLengths),
    },
    skippedInMachineStalls: inStalls,
    skippedInAnyCpuStalls: inAnyCpuStalls,
    skippedInGcPauses: inGcPauses,
    skippedBehindOwnWork: skippedBehindOwnWork(sampler, periodNs),
    rateErrorOutsideStallsPercent: ((achieved * (1 + inStalls / Math.max(1, c.cycles - 1)) - rateHz) / rateHz) * 100,
    faults,
  };
}

const help = `usage: engram bench loop [--rates 100,500,1000] [--duration D] [--repeats N] [--experiences N]
                         [--strategy native|worker|timer] [--rt on|off|both] [--rt-threads loop|all]
                         [--cpu-latency on|off|both] [--json]

The real loop with the brain learning every cycle at N stored experiences, at each rate, with
cyclictest at the same interval in the same run. Writes bench/results/loop.json and the loop
section of docs/benchmarks.md.

  --rates L        comma-separated rates in Hz (default 100,500,1000)
  --duration D     per rate and repeat (default 30s)
  --repeats N      repeats per rate; tables show medians (default 1)
  --experiences N  experiences in memory before the runs (default 100000)
  --strategy S     tick waiter (default native: the config's default)
  --rt MODE        off: normal scheduling; on: SCHED_FIFO 50 for the loop and cyclictest -p 50;
                   both (default when permitted): each rate both ways
  --rt-threads S   loop (default): FIFO for the loop's main and timekeeper threads only; all: for
                   every thread of the process (V8's GC and compiler workers too)
  --cpu-latency M  on (default where permitted): hold CPU wake-up latency at 0 µs while the loop
                   runs (/dev/cpu_dma_latency, as timing.cpuLatencyUs: 0 does; cyclictest holds
                   the same while it runs, by default); off; both: each rate and scheduling both
                   ways, the order alternating between repeats, side by side
  --json           print one JSON object as the last line of stdout`;

export const command: Subcommand = {
  name: 'bench loop',
  summary: 'the loop with the brain learning, against cyclictest',
  help,
  async run(argv) {
    const args = parseCommandArgs(
      argv,
      {
        rates: { type: 'string' },
        duration: { type: 'string' },
        repeats: { type: 'string' },
        experiences: { type: 'string' },
        strategy: { type: 'string' },
        rt: { type: 'string' },
        'rt-threads': { type: 'string' },
        'cpu-latency': { type: 'string' },
        json: { type: 'boolean' },
      },
      help,
    );
    if (!args) return 0;
    const rates = (args.values.rates ?? '100,500,1000').split(',').map((r) => numberFlag(r, 'rates', 0));
    const seconds = durationFlag(args.values.duration, 'duration', 30_000) / 1000;
    const repeats = Math.max(1, Math.round(numberFlag(args.values.repeats, 'repeats', 1)));
    const experiences = Math.round(numberFlag(args.values.experiences, 'experiences', 100_000));
    const strategy = (args.values.strategy ?? 'native') as WaiterStrategy;
    if (strategy !== 'native' && strategy !== 'worker' && strategy !== 'timer') {
      throw new Error('--strategy: expected native, worker or timer');
    }
    const permitted = realtimePermitted();
    const rtMode = args.values.rt ?? (permitted ? 'both' : 'off');
    const realtimeScope = args.values['rt-threads'] ?? 'loop';
    if (realtimeScope !== 'loop' && realtimeScope !== 'all') throw new Error('--rt-threads: expected loop or all');
    if (!['on', 'off', 'both'].includes(rtMode)) throw new Error(`--rt: expected on, off or both`);
    const modes = rtMode === 'both' ? [false, true] : [rtMode === 'on'];
    const cpuLatencyMode = args.values['cpu-latency'] ?? (readCpuLatency() instanceof Error ? 'off' : 'on');
    if (!['on', 'off', 'both'].includes(cpuLatencyMode)) throw new Error('--cpu-latency: expected on, off or both');
    // with both, the order alternates between repeats so neither always runs first
    const holdOrder = (repeat: number): boolean[] =>
      cpuLatencyMode === 'both' ? (repeat % 2 === 0 ? [true, false] : [false, true]) : [cpuLatencyMode === 'on'];
    const log = (line: string) => process.stderr.write(`${line}\n`);

    log(`preparing the brain at ${experiences} experiences ...`);
    const { brain, index, prefillSeconds } = await brainAtN(experiences);
    log(`  ${brain.size()} experiences, index ${index}, ${prefillSeconds.toFixed(1)} s`);
    const results: RateResult[] = [];
    for (const rateHz of rates) {
      for (const realtime of modes) {
        for (let repeat = 0; repeat < repeats; repeat++) {
          if (realtime && !permitted) {
            log('  SCHED_FIFO not permitted: skipped');
            continue;
          }
          for (const holdCpu of holdOrder(repeat)) {
            const result = await runRate(brain, rateHz, seconds, strategy, repeat, realtime, realtimeScope, holdCpu);
            results.push(result);
            log(
              `${rateHz} Hz${realtime ? ' rt' : ''}${holdCpu ? ', cpu 0 µs' : ''}: achieved ${result.achievedRateHz.toFixed(3)} Hz (${result.rateErrorPercent.toFixed(3)}%), ` +
                `lateness p50 ${result.lateness.p50Us.toFixed(1)} p99 ${result.lateness.p99Us.toFixed(0)} max ${result.lateness.maxUs.toFixed(0)} µs, ` +
                `overruns ${result.overruns} (${result.overrunPercent.toFixed(2)}%), skipped ${result.skippedTicks}, step p99 ${result.stepUs.p99.toFixed(0)} µs, ` +
                `cyclictest p99 ${result.cyclictest.p99Us} µs, ratio ${result.p99Ratio.toFixed(2)}, effort ${result.effortLevelEnd}, gc ${result.gc.minor}/${result.gc.major}; ` +
                (result.witness.available
                  ? `machine-wide stalls ${result.witness.machineStalls} (${result.witness.machineStallMs.toFixed(1)} ms, longest ${result.witness.longestMachineStallMs.toFixed(1)}), ` +
                    `${result.skippedInMachineStalls} skipped ticks inside them, rate error outside them ${result.rateErrorOutsideStallsPercent.toFixed(3)}%; ` +
                    `${result.skippedInAnyCpuStalls} skipped inside a stall of either CPU; ${result.skippedInGcPauses} inside GC pauses; ${result.skippedBehindOwnWork} behind the loop's own work`
                  : `no stall witness: ${result.witness.reason}`) +
                `; page faults ${result.faults.majorPageFaults} major / ${result.faults.minorPageFaults} minor, ` +
                `involuntary switches ${result.faults.involuntarySwitches} (main thread ${result.faults.mainThreadInvoluntarySwitches})`,
            );
          }
        }
      }
    }
    brain.dispose();

    const groups = new Map<string, RateResult[]>();
    for (const result of results) {
      const key = `${result.rateHz}${result.realtime ? ' rt' : ''}${result.cpuLatencyHeldUs === null ? '' : ', cpu 0 µs'}`;
      groups.set(key, [...(groups.get(key) ?? []), result]);
    }
    const summary = [...groups.entries()].map(([key, runs]) => {
      const med = (pick: (r: RateResult) => number) => median(runs.map(pick));
      return {
        key,
        rateHz: runs[0]!.rateHz,
        realtime: runs[0]!.realtime,
        achievedRateHz: med((r) => r.achievedRateHz),
        rateErrorPercent: med((r) => r.rateErrorPercent),
        latenessP50Us: med((r) => r.lateness.p50Us),
        latenessP99Us: med((r) => r.lateness.p99Us),
        latenessP999Us: med((r) => r.lateness.p999Us),
        latenessMaxUs: Math.max(...runs.map((r) => r.lateness.maxUs)),
        overrunPercent: med((r) => r.overrunPercent),
        skippedTicks: med((r) => r.skippedTicks),
        stepP99Us: med((r) => r.stepUs.p99),
        cycleP99Us: med((r) => r.cycleUs.p99),
        cyclictestP99Us: med((r) => r.cyclictest.p99Us),
        p99Ratio: med((r) => r.p99Ratio),
        machineStallMs: med((r) => r.witness.machineStallMs),
        skippedInMachineStalls: med((r) => r.skippedInMachineStalls),
        skippedInAnyCpuStalls: med((r) => r.skippedInAnyCpuStalls),
        rateErrorOutsideStallsPercent: med((r) => r.rateErrorOutsideStallsPercent),
        gcMinor: med((r) => r.gc.minor),
        gcMajor: med((r) => r.gc.major),
        majorPageFaults: med((r) => r.faults.majorPageFaults),
        mainThreadInvoluntarySwitches: med((r) => r.faults.mainThreadInvoluntarySwitches),
      };
    });
    const machine = describeMachine();
    const settings = {
      rates,
      seconds,
      repeats,
      experiences,
      index,
      strategy,
      rtMode,
      realtimeScope,
      cpuLatencyMode,
      prefillSeconds,
    };
    writeResult('loop', { settings, summary, runs: results });
    const rows = summary.map((s) => [
      s.key,
      s.achievedRateHz.toFixed(2),
      `${s.rateErrorPercent.toFixed(3)}%`,
      us(s.latenessP50Us * 1e3),
      us(s.latenessP99Us * 1e3),
      us(s.latenessP999Us * 1e3),
      us(s.latenessMaxUs * 1e3),
      `${s.overrunPercent.toFixed(2)}%`,
      s.skippedTicks,
      us(s.stepP99Us * 1e3),
      us(s.cyclictestP99Us * 1e3),
      s.p99Ratio.toFixed(2),
      `${s.gcMinor}/${s.gcMajor}`,
      s.machineStallMs.toFixed(1),
      s.skippedInMachineStalls,
      `${s.rateErrorOutsideStallsPercent.toFixed(3)}%`,
      s.majorPageFaults,
      s.mainThreadInvoluntarySwitches,
    ]);
    updateBenchmarksDoc(
      'loop',
      `## The loop with the brain learning (\`engram bench loop\`)

\`engram bench loop --duration ${seconds}s --repeats ${repeats} --experiences ${experiences}\`: ${machineLine(machine)}.
The real Loop, LoopRunner and \`${strategy}\` waiter on the system clock; the real Brain (index: ${index}) stepping
and storing every cycle at ${experiences} experiences (evicting at the cap), fed a fresh 16-channel frame per cycle.
Budget 80% of the period; lateness = wake minus the tick waited for (µs; a wake past the next tick counts in
full, as cyclictest counts it, and that tick is skipped); medians over ${repeats} repeat(s) of ${seconds} s.
"cpu 0 µs" rows: CPU wake-up latency held at 0 µs while the loop runs (\`timing.cpuLatencyUs: 0\`, /dev/cpu_dma_latency:
idle CPUs poll instead of halting); cyclictest holds the same during its own run (its default) in every row.
"rt" rows: SCHED_FIFO ${LOOP_PRIORITY} for ${realtimeScope === 'loop' ? "the loop's main and timekeeper threads (V8's and libuv's workers stay under normal scheduling)" : 'every thread of the process'} and cyclictest -p ${LOOP_PRIORITY}; other rows: normal scheduling for both.
Targets: achieved rate within 0.1%, p99 lateness <= 2x cyclictest p99, overruns < 0.5% at 500 Hz.
Machine-wide stalls: during each run one witness per CPU (bench/stall-witness.py, pinned, 1 ms ticks, just below
the loop: SCHED_FIFO ${WITNESS_PRIORITY} in "rt" rows, nice ${WITNESS_NICE} in the others, so it never preempts the loop) records
every wake over 2 ms late; "machine stalls ms" is the time in which every CPU's witness was stalled at once
(the whole machine, which nothing in the process can cause or avoid), "skipped in them" the loop's skipped
ticks inside that time, and "error outside them" the rate error had those ticks run. The target is the
"error" column; the last two say how much of it the machine's stalls explain. (The JSON also counts the
skipped ticks inside a stall of either witness, skippedInAnyCpuStalls: an upper bound only, since the loop's
own thread, running above it, can hold up the witness on its CPU.) "major faults": pages read back from
disk during the run; "main preempted": the main thread's involuntary context switches (bench/lib/faults.ts).

${table(['rate', 'achieved Hz', 'error', 'late p50', 'late p99', 'p99.9', 'max', 'overruns', 'skipped', 'step p99', 'cyclictest p99', 'p99 ratio', 'GC', 'machine stalls ms', 'skipped in them', 'error outside them', 'major faults', 'main preempted'], rows)}
`,
    );
    if (args.values.json) printJsonLast({ settings, summary });
    return 0;
  },
};
