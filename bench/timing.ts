/**
 * `engram bench timing`: how precisely can Node wake for a tick on this machine, what does each
 * way cost in CPU and GC, and does driver I/O keep flowing while the loop waits?
 *
 * Strategies (each runs a stand-in cycle of ~`--work-us` of arithmetic at every tick):
 * - timeout:       setTimeout chain, drift-corrected against absolute deadlines
 * - immediate:     setImmediate spin on the main thread until the deadline
 * - timer:         runtime TimerWaiter (setTimeout to ~1 ms + lead before, Atomics.wait, short spin)
 * - worker:        runtime WorkerWaiter (worker Atomics.wait, message to main `lead` before the tick,
 *                  main Atomics.wait to `spin` before, then spin)
 * - worker-spin:   the same, spinning the whole lead (shows what spinning costs in GC)
 * - worker-nospin: the same with no lead and no spin (message delivery latency alone)
 * - native:        runtime NativeWaiter (engram's timer addon: a C++ thread with clock_nanosleep wakes
 *                  the main thread `lead` before the tick through a thread-safe function; same finish)
 * - worker-cycle:  the cycle runs in the worker itself (Atomics.wait + spin); reference only, since
 *                  the sockets live on the main thread
 * I/O probe: a worker sends a UDP datagram to the main thread every 2 ms stamped with
 * process.hrtime; the main thread records how late each is handled (its event loop's I/O latency).
 * Reference: cyclictest at the same interval, in the same run.
 */
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { distribution, GcCounter, median, nowNs } from '../bench/lib/stats.js';
import { durationFlag, numberFlag, parseCommandArgs, printJsonLast, type Subcommand } from '../runtime/cli/args.js';
import { systemClock } from '../runtime/clock.js';
import { setRealtimeScheduling, WHOLE_PROCESS } from '../runtime/scheduling.js';
import { createWaiter, type WaiterStrategy, type WaiterTiming } from '../runtime/timing.js';
import { describeMachine, machineLine, table, updateBenchmarksDoc, us, writeResult } from './lib/report.js';

export const strategies = [
  'timeout',
  'immediate',
  'timer',
  'worker',
  'native',
  'worker-spin',
  'worker-nospin',
  'worker-cycle',
] as const;
export type Strategy = (typeof strategies)[number];

export interface LatenessSummary {
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  /** wakes before the deadline (only setTimeout can do that) */
  early: number;
  count: number;
}

export interface StrategyResult {
  strategy: Strategy;
  lateness: LatenessSummary;
  /** process CPU time over wall time (1 = one core busy) */
  cpu: number;
  gc: { minor: number; major: number; pauseMs: number };
  /** main-thread I/O latency for UDP datagrams sent every 2 ms */
  io: { p50Us: number; p99Us: number; received: number };
}

export function summarise(samplesNs: Float64Array, count: number): LatenessSummary {
  let early = 0;
  for (let i = 0; i < count; i++) if (samplesNs[i]! < 0) early++;
  const d = distribution(samplesNs, count);
  return { p50Us: d.p50 / 1e3, p99Us: d.p99 / 1e3, p999Us: d.p999 / 1e3, maxUs: d.max / 1e3, early, count };
}

/** Stand-in cycle: a fixed amount of arithmetic (no allocation). */
function busyWork(iterations: number): number {
  let x = 0;
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i + x);
  return x;
}

function calibrateWork(workUs: number): number {
  let iterations = 1000;
  for (;;) {
    const start = nowNs();
    busyWork(iterations);
    const took = nowNs() - start;
    if (took > 2e6) return Math.max(1, Math.round((iterations * workUs * 1e3) / took));
    iterations *= 2;
  }
}

/** UDP datagrams from a worker, received on the main thread: its I/O latency while the loop runs. */
class IoProbe {
  private readonly socket = createSocket('udp4');
  private sender: Worker | undefined;
  private readonly samples = new Float64Array(200_000);
  private count = 0;
  async start(intervalMs: number): Promise<void> {
    this.socket.on('message', (message: Buffer) => {
      const sent = message.readDoubleLE(0);
      if (this.count < this.samples.length) this.samples[this.count++] = nowNs() - sent;
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    const port = this.socket.address().port;
    this.sender = new Worker(
      `const dgram = require('node:dgram'); const { workerData } = require('node:worker_threads');
       const s = dgram.createSocket('udp4'); const b = Buffer.alloc(8);
       setInterval(() => { b.writeDoubleLE(Number(process.hrtime.bigint()), 0); s.send(b, workerData.port, '127.0.0.1'); }, workerData.intervalMs);`,
      { eval: true, workerData: { port, intervalMs } },
    );
  }
  reset(): void {
    this.count = 0;
  }
  summary(): { p50Us: number; p99Us: number; received: number } {
    const d = distribution(this.samples, this.count);
    return { p50Us: d.p50 / 1e3, p99Us: d.p99 / 1e3, received: this.count };
  }
  async stop(): Promise<void> {
    await this.sender?.terminate();
    this.socket.close();
  }
}

/** Runs `ticks` ticks of one main-thread strategy; resolves with the lateness samples. */
function runMainThread(
  strategy: Exclude<Strategy, 'worker-cycle'>,
  periodNs: number,
  ticks: number,
  iterations: number,
  timing: WaiterTiming,
): Promise<Float64Array> {
  const lateness = new Float64Array(ticks);
  return new Promise((resolve) => {
    let k = 0;
    let t0 = nowNs() + periodNs;
    let due = t0;
    const cycle = (): boolean => {
      lateness[k] = nowNs() - due;
      busyWork(iterations);
      k++;
      // Phase-locked: skip ticks already past, never burst.
      const now = nowNs();
      let next = t0 + k * periodNs;
      while (next <= now) next += periodNs;
      due = next;
      return k >= ticks;
    };
    if (strategy === 'timeout') {
      const fire = (): void => {
        if (cycle()) {
          resolve(lateness);
          return;
        }
        setTimeout(fire, Math.max(0, Math.ceil((due - nowNs()) / 1e6)));
      };
      setTimeout(fire, Math.ceil((due - nowNs()) / 1e6));
      return;
    }
    if (strategy === 'immediate') {
      const poll = (): void => {
        if (nowNs() >= due) {
          if (cycle()) {
            resolve(lateness);
            return;
          }
        }
        setImmediate(poll);
      };
      setImmediate(poll);
      return;
    }
    const waiterStrategy: WaiterStrategy = strategy === 'timer' ? 'timer' : strategy === 'native' ? 'native' : 'worker';
    const waiter = createWaiter(
      waiterStrategy,
      systemClock,
      () => {
        if (cycle()) {
          void waiter.close().then(() => resolve(lateness));
          return;
        }
        waiter.schedule(due);
      },
      strategy === 'worker-nospin'
        ? { wakeLeadNs: 0, spinNs: 0 }
        : strategy === 'worker-spin'
          ? { wakeLeadNs: timing.wakeLeadNs, spinNs: timing.wakeLeadNs }
          : timing,
      (why) => {
        throw new Error(`bench timing: the native strategy needs engram's timer addon: ${why}`);
      },
    );
    // The phase starts once the timekeeper worker has booted (tens of ms), as LoopRunner does.
    void waiter.ready().then(() => {
      t0 = nowNs() + periodNs;
      due = t0;
      waiter.schedule(due);
    });
  });
}

/** The cycle in the worker itself: Atomics.wait to `spin` before, then spin. */
function runWorkerCycle(periodNs: number, ticks: number, iterations: number, spinNs: number): Promise<Float64Array> {
  const source = `
const { parentPort, workerData } = require('node:worker_threads');
const { periodNs, ticks, iterations, spinNs } = workerData;
const sleep = new Int32Array(new SharedArrayBuffer(4));
const lateness = new Float64Array(ticks);
const now = () => Number(process.hrtime.bigint());
let x = 0;
const t0 = now() + periodNs;
let due = t0;
for (let k = 0; k < ticks; ) {
  const remainingMs = (due - spinNs - now()) / 1e6;
  if (remainingMs > 0) Atomics.wait(sleep, 0, 0, remainingMs);
  while (now() < due) {}
  lateness[k] = now() - due;
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i + x);
  k++;
  const t = now();
  let next = t0 + k * periodNs;
  while (next <= t) next += periodNs;
  due = next;
}
parentPort.postMessage(lateness);
`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { periodNs, ticks, iterations, spinNs } });
    worker.once('message', (lateness: Float64Array) => {
      void worker.terminate();
      resolve(lateness);
    });
    worker.once('error', reject);
  });
}

export interface CyclictestResult {
  available: boolean;
  /** why it is unavailable, when it is */
  reason?: string;
  priority: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  count: number;
}

/**
 * cyclictest at `intervalUs` for `loops` wake-ups, optionally SCHED_FIFO at `priority`; percentiles
 * from its histogram (1 µs bins up to 20 ms; overflows count as its reported max).
 */
export function runCyclictest(intervalUs: number, loops: number, priority = 0): CyclictestResult {
  const args = ['-t1', '-q', '-i', String(Math.round(intervalUs)), '-l', String(loops), '-h', '20000'];
  if (priority > 0) args.push('-p', String(priority));
  const run = spawnSync('cyclictest', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const empty = { p50Us: Number.NaN, p99Us: Number.NaN, p999Us: Number.NaN, maxUs: Number.NaN, count: 0 };
  if (run.error || run.status !== 0) {
    const reason = run.error ? run.error.message : (run.stderr || `exit ${run.status}`).trim().split('\n')[0];
    return { available: false, reason, priority, ...empty };
  }
  const bins: number[] = [];
  let overflows = 0;
  let maxUs = Number.NaN;
  for (const line of run.stdout.split('\n')) {
    const bin = /^(\d+) (\d+)$/.exec(line);
    if (bin) {
      bins[Number(bin[1])] = Number(bin[2]);
      continue;
    }
    const overflow = /^# Histogram Overflows: (\d+)/.exec(line);
    if (overflow) overflows = Number(overflow[1]);
    const max = /^# Max Latencies: (\d+)/.exec(line);
    if (max) maxUs = Number(max[1]);
  }
  let total = overflows;
  for (const count of bins) total += count ?? 0;
  const percentile = (q: number): number => {
    const target = Math.ceil(q * total);
    let seen = 0;
    for (let latency = 0; latency < bins.length; latency++) {
      seen += bins[latency] ?? 0;
      if (seen >= target) return latency;
    }
    return maxUs;
  };
  return {
    available: true,
    priority,
    p50Us: percentile(0.5),
    p99Us: percentile(0.99),
    p999Us: percentile(0.999),
    maxUs,
    count: total,
  };
}

/** Whether SCHED_FIFO is permitted here (root without a restricted RT budget). */
export function realtimePermitted(): boolean {
  const run = spawnSync('chrt', ['-f', '50', 'true']);
  return run.status === 0;
}

const help = `usage: engram bench timing [--rate HZ] [--duration D] [--repeats N] [--lead-us US] [--spin-us US]
                           [--work-us US] [--strategies a,b] [--rt] [--json]

Measures tick wake-up lateness, CPU and GC for each waiting strategy Node allows, with a UDP I/O
probe on the main thread, and cyclictest at the same interval as the reference.
Strategies: ${strategies.join(', ')}.

  --rate HZ        tick rate (default 1000)
  --duration D     per strategy per repeat (default 10s)
  --repeats N      repeats; figures are medians over repeats (default 1)
  --lead-us US     timer/worker: wake the main thread this long before the tick (default 300)
  --spin-us US     of which only the last stretch is a busy spin (default 50)
  --work-us US     stand-in cycle work per tick (default 50)
  --strategies L   comma-separated subset
  --rt             run the strategies under SCHED_FIFO 50 (all threads) and compare with
                   cyclictest -p 50; 'immediate' is left out (a SCHED_FIFO busy loop starves the machine)
  --json           print one JSON object as the last line of stdout`;

export const command: Subcommand = {
  name: 'bench timing',
  summary: 'tick wake-up strategies against cyclictest',
  help,
  async run(argv) {
    const args = parseCommandArgs(
      argv,
      {
        rate: { type: 'string' },
        duration: { type: 'string' },
        repeats: { type: 'string' },
        'lead-us': { type: 'string' },
        'spin-us': { type: 'string' },
        'work-us': { type: 'string' },
        strategies: { type: 'string' },
        rt: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      help,
    );
    if (!args) return 0;
    const rateHz = numberFlag(args.values.rate, 'rate', 1000);
    const durationMs = durationFlag(args.values.duration, 'duration', 10_000);
    const repeats = Math.max(1, Math.round(numberFlag(args.values.repeats, 'repeats', 1)));
    const spinNs = numberFlag(args.values['spin-us'], 'spin-us', 50) * 1e3;
    const wakeLeadNs = numberFlag(args.values['lead-us'], 'lead-us', 300) * 1e3;
    const timing: WaiterTiming = { wakeLeadNs, spinNs };
    const workUs = numberFlag(args.values['work-us'], 'work-us', 50);
    const realtime = args.values.rt === true;
    const chosen = (args.values.strategies?.split(',') ??
      strategies.filter((name) => !realtime || name !== 'immediate')) as Strategy[];
    if (realtime && !realtimePermitted()) throw new Error('--rt: SCHED_FIFO is not permitted here (chrt -f 50 failed)');
    for (const name of chosen) if (!strategies.includes(name)) throw new Error(`unknown strategy '${name}'`);
    const periodNs = 1e9 / rateHz;
    const ticks = Math.max(10, Math.round((durationMs / 1e3) * rateHz));
    const iterations = calibrateWork(workUs);
    const log = (line: string) => process.stderr.write(`${line}\n`);

    const probe = new IoProbe();
    await probe.start(2);
    const perStrategy = new Map<Strategy, StrategyResult[]>();
    const cyclictestRuns: CyclictestResult[] = [];
    const cyclictestRtRuns: CyclictestResult[] = [];
    const rt = realtimePermitted();
    for (let r = 0; r < repeats; r++) {
      for (const strategy of chosen) {
        probe.reset();
        const gc = new GcCounter().start();
        const cpuBefore = process.cpuUsage();
        const wallBefore = nowNs();
        // every thread: this benchmark compares the waiters themselves, worker threads included
        if (realtime) setRealtimeScheduling(50, WHOLE_PROCESS);
        let samples: Float64Array;
        try {
          samples =
            strategy === 'worker-cycle'
              ? await runWorkerCycle(periodNs, ticks, iterations, spinNs)
              : await runMainThread(strategy, periodNs, ticks, iterations, timing);
        } finally {
          if (realtime) setRealtimeScheduling(0, WHOLE_PROCESS);
        }
        const cpu = process.cpuUsage(cpuBefore);
        const wall = nowNs() - wallBefore;
        const gcs = await gc.stop();
        const result: StrategyResult = {
          strategy,
          lateness: summarise(samples, samples.length),
          cpu: ((cpu.user + cpu.system) * 1e3) / wall,
          gc: { minor: gcs.minor, major: gcs.major, pauseMs: gcs.pauseMs },
          io: probe.summary(),
        };
        log(
          `${strategy.padEnd(14)} lateness p50 ${us(result.lateness.p50Us * 1e3)} p99 ${us(result.lateness.p99Us * 1e3)} max ${us(result.lateness.maxUs * 1e3)} µs, early ${result.lateness.early}, cpu ${(result.cpu * 100).toFixed(0)}%, gc ${gcs.minor}/${gcs.major}, io p99 ${us(result.io.p99Us * 1e3)} µs`,
        );
        const list = perStrategy.get(strategy) ?? [];
        list.push(result);
        perStrategy.set(strategy, list);
      }
      const reference = runCyclictest(periodNs / 1e3, ticks);
      cyclictestRuns.push(reference);
      log(
        `cyclictest     p50 ${reference.p50Us} p99 ${reference.p99Us} max ${reference.maxUs} µs${reference.available ? '' : ` (${reference.reason})`}`,
      );
      if (rt) {
        const referenceRt = runCyclictest(periodNs / 1e3, ticks, 50);
        cyclictestRtRuns.push(referenceRt);
        log(`cyclictest -p50 p50 ${referenceRt.p50Us} p99 ${referenceRt.p99Us} max ${referenceRt.maxUs} µs`);
      }
    }
    await probe.stop();

    const med = (values: number[]) => median(values.filter((v) => Number.isFinite(v)));
    const summaryRows = [...perStrategy.entries()].map(([strategy, runs]) => ({
      strategy,
      p50Us: med(runs.map((x) => x.lateness.p50Us)),
      p99Us: med(runs.map((x) => x.lateness.p99Us)),
      p999Us: med(runs.map((x) => x.lateness.p999Us)),
      maxUs: Math.max(...runs.map((x) => x.lateness.maxUs)),
      early: runs.reduce((sum, x) => sum + x.lateness.early, 0),
      cpu: med(runs.map((x) => x.cpu)),
      gcMinor: med(runs.map((x) => x.gc.minor)),
      gcMajor: med(runs.map((x) => x.gc.major)),
      ioP99Us: med(runs.map((x) => x.io.p99Us)),
    }));
    const cyclictest = {
      p50Us: med(cyclictestRuns.map((x) => x.p50Us)),
      p99Us: med(cyclictestRuns.map((x) => x.p99Us)),
      maxUs: Math.max(...cyclictestRuns.map((x) => x.maxUs)),
      available: cyclictestRuns.some((x) => x.available),
    };
    const cyclictestRt = rt
      ? {
          p50Us: med(cyclictestRtRuns.map((x) => x.p50Us)),
          p99Us: med(cyclictestRtRuns.map((x) => x.p99Us)),
          maxUs: Math.max(...cyclictestRtRuns.map((x) => x.maxUs)),
        }
      : undefined;
    const machine = describeMachine();
    const settings = {
      rateHz,
      durationMs,
      repeats,
      realtime,
      wakeLeadUs: wakeLeadNs / 1e3,
      spinUs: spinNs / 1e3,
      workUs,
    };
    const name = realtime ? 'timing-rt' : 'timing';
    writeResult(name, {
      settings,
      summary: summaryRows,
      cyclictest,
      cyclictestRt,
      runs: Object.fromEntries(perStrategy),
    });
    const fmt = (v: number) => us(v * 1e3);
    const rows = summaryRows.map((s) => [
      s.strategy,
      fmt(s.p50Us),
      fmt(s.p99Us),
      fmt(s.p999Us),
      fmt(s.maxUs),
      s.early,
      `${(s.cpu * 100).toFixed(0)}%`,
      `${s.gcMinor}/${s.gcMajor}`,
      fmt(s.ioP99Us),
    ]);
    rows.push(['cyclictest', fmt(cyclictest.p50Us), fmt(cyclictest.p99Us), '', fmt(cyclictest.maxUs), '', '', '', '']);
    if (cyclictestRt)
      rows.push([
        'cyclictest -p 50',
        fmt(cyclictestRt.p50Us),
        fmt(cyclictestRt.p99Us),
        '',
        fmt(cyclictestRt.maxUs),
        '',
        '',
        '',
        '',
      ]);
    updateBenchmarksDoc(
      name,
      `## Tick wake-up strategies${realtime ? ', SCHED_FIFO 50' : ''} (\`engram bench timing${realtime ? ' --rt' : ''}\`)

\`engram bench timing --rate ${rateHz} --duration ${durationMs / 1000}s --repeats ${repeats}${realtime ? ' --rt' : ''}\`: ${machineLine(machine)}.
Lateness = wake time minus tick deadline (µs), medians over ${repeats} repeat(s) of ${durationMs / 1000} s at ${rateHz} Hz,
${workUs} µs stand-in cycle; timer/worker wake the main thread ${wakeLeadNs / 1e3} µs early and spin the last ${spinNs / 1e3} µs
(worker-spin spins all ${wakeLeadNs / 1e3} µs; worker-cycle waits in the worker and spins ${spinNs / 1e3} µs); CPU = process CPU over wall time; GC = minor/major
collections per run; I/O p99 = main-thread handling delay of UDP datagrams sent every 2 ms by another thread.
cyclictest ran in the same run at the same interval.

${table(['strategy', 'p50', 'p99', 'p99.9', 'max', 'early', 'CPU', 'GC', 'I/O p99'], rows)}
`,
    );
    if (args.values.json) printJsonLast({ settings, summary: summaryRows, cyclictest, cyclictestRt });
    return 0;
  },
};
