/**
 * Independent witnesses of machine-wide stalls for `engram bench loop`: one small Python process
 * per CPU (bench/stall-witness.py), pinned there, sleeping to 1 ms ticks and recording every wake
 * later than a threshold. An interval in which every CPU's witness was stalled at once is a stall of
 * the whole machine (on this virtual machine: its vCPUs descheduled by the host), which no code in
 * engram's process can cause or avoid; the loop's skipped ticks inside such intervals are reported
 * apart from the rest.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** [start, end) on CLOCK_MONOTONIC, ns */
export type Interval = readonly [number, number];

export interface WitnessReport {
  available: boolean;
  /** why there is no report (no python3, one CPU, a witness failed) */
  reason?: string;
  cpus: number[];
  /** wakes per witness */
  wakes: number[];
  /** intervals in which every witness was stalled (sorted, disjoint) */
  machineStalls: Interval[];
  /** intervals in which at least one witness was stalled (sorted, disjoint): a CPU's own stalls too */
  anyCpuStalls: Interval[];
}

export interface StallWitness {
  /** the witness processes that started (empty when unavailable) */
  readonly pids: readonly number[];
  /** resolves once every witness keeps time (python3 takes tens of ms to start) */
  readonly ready: Promise<void>;
  /** Stops the witnesses and collects what they saw. */
  stop(): Promise<WitnessReport>;
}

export interface WitnessOptions {
  periodUs?: number;
  thresholdUs?: number;
}

/** The witness script: beside this module in the source tree, or in bench/ from dist/bench/lib. */
function witnessScript(): string | undefined {
  for (const relative of ['../stall-witness.py', '../../../bench/stall-witness.py']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** Starts one witness per CPU (needs python3 and at least two CPUs to tell the machine from one CPU). */
export function startStallWitness(options: WitnessOptions = {}): StallWitness {
  const cpuCount = os.availableParallelism();
  const cpus = Array.from({ length: cpuCount }, (_, cpu) => cpu);
  const script = witnessScript();
  const noReport = (reason: string | undefined): WitnessReport => ({
    available: false,
    ...(reason === undefined ? {} : { reason }),
    cpus,
    wakes: [],
    machineStalls: [],
    anyCpuStalls: [],
  });
  const unavailable = (reason: string): StallWitness => ({
    pids: [],
    ready: Promise.resolve(),
    stop: async () => noReport(reason),
  });
  if (cpuCount < 2) return unavailable('one CPU: a machine-wide stall cannot be told from a busy CPU');
  if (script === undefined) return unavailable('bench/stall-witness.py not found');
  const children: ChildProcess[] = [];
  const outputs: string[] = [];
  const exits: Promise<string | undefined>[] = [];
  const readies: Promise<void>[] = [];
  for (const cpu of cpus) {
    const child = spawn(
      'python3',
      [
        script,
        '--cpu',
        String(cpu),
        '--period-us',
        String(options.periodUs ?? 1000),
        '--threshold-us',
        String(options.thresholdUs ?? 2000),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    outputs.push('');
    let errors = '';
    let markReady: () => void = () => {};
    readies.push(new Promise((resolve) => (markReady = resolve)));
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      outputs[cpu] += text;
      if (outputs[cpu]!.startsWith('ready\n')) markReady();
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      errors += text;
    });
    exits.push(
      new Promise((resolve) => {
        child.on('error', (error) => {
          markReady();
          resolve(`python3: ${error.message}`);
        });
        child.on('close', (code) => {
          markReady();
          resolve(code === 0 ? undefined : `witness on CPU ${cpu} exited ${code}: ${errors.trim().split('\n').pop()}`);
        });
      }),
    );
  }
  return {
    // a witness that did not spawn has no process (its 'error' reaches stop()'s report)
    pids: children.flatMap((child) => (child.pid === undefined ? [] : [child.pid])),
    ready: Promise.all(readies).then(() => {}),
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      const failures = (await Promise.all(exits)).filter((failure) => failure !== undefined);
      if (failures.length > 0) return noReport(failures[0]);
      const reports = outputs.map(
        (text) => JSON.parse(text.trim().split('\n').pop()!) as { wakes: number; gaps: [number, number][] },
      );
      let stalls: Interval[] = reports[0]!.gaps;
      for (const report of reports.slice(1)) stalls = intersectIntervals(stalls, report.gaps);
      return {
        available: true,
        cpus,
        wakes: reports.map((report) => report.wakes),
        machineStalls: stalls,
        anyCpuStalls: unionIntervals(reports.flatMap((report) => report.gaps)),
      };
    },
  };
}

/** The intersection of two sorted lists of disjoint intervals. */
export function intersectIntervals(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const start = Math.max(a[i]![0], b[j]![0]);
    const end = Math.min(a[i]![1], b[j]![1]);
    if (start < end) out.push([start, end]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

/** The union of intervals in any order, as a sorted list of disjoint intervals. */
export function unionIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [start, end] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}

/** How much of [from, to) the sorted, disjoint `intervals` cover (ns). */
export function coveredNs(intervals: readonly Interval[], from: number, to: number): number {
  let covered = 0;
  for (const [start, end] of intervals) {
    if (end <= from) continue;
    if (start >= to) break;
    covered += Math.min(end, to) - Math.max(start, from);
  }
  return covered;
}
