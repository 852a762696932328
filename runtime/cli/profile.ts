/**
 * `engram profile`: record a cycle-time profile of the configured setup, or compare two profiles.
 *
 *   engram profile --config <file> --duration 10s --out <dir> [--json]
 *   engram profile compare <a> <b> [--max-regression 10%] [--noise-floor-us 1] [--json]
 */
import { join, resolve } from 'node:path';
import { systemClock } from '../clock.js';
import type { CycleObserver } from '../contracts.js';
import type { Logger } from '../log.js';
import { compareSummaries, formatComparison, parsePercent } from '../profile/compare.js';
import { cycleCapacityFor } from '../profile/cycles.js';
import { describeHost } from '../profile/host.js';
import { ProfileRecorder } from '../profile/recorder.js';
import { ProfileInputError, readSummary } from '../profile/summary.js';
import { type WrittenProfile, writeProfile } from '../profile/write.js';
import { durationFlag, numberFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from './args.js';

const recordHelp = `usage: engram profile --config <file> [--duration 10s] [--out <dir>] [--json]
       engram profile compare <a> <b> [--max-regression 10%] [--noise-floor-us 1] [--json]

Runs the configured setup (a sim task or a robot) for the duration and records every cycle:
wake-up lateness, each stage's time, the lookup path, the effort level and overruns, plus GC
events, event-loop delay, heap and RSS, machine CPU and memory, and the host. Writes into <dir>:
  trace.json    Chrome trace event format: open it in https://ui.perfetto.dev
  report.html   one self-contained page of plots (cycle time, stages, lateness, memory, host)
  summary.json  the figures in a stable schema (docs/profiling.md), what compare reads

options:
  --config <file>     runtime config (YAML), e.g. configs/pendulum_swingup.yaml   (required)
  --duration <d>      how long to record: 30s, 500ms, 2m                          (default 10s)
  --out <dir>         output directory                       (default runs/profile-<time>)
  --json              print one JSON object (paths and headline figures) as the last line

engram profile compare --help explains comparing two profiles.`;

const compareHelp = `usage: engram profile compare <a> <b> [--max-regression 10%] [--noise-floor-us 1] [--json]

Compares profile <b> (candidate) against <a> (baseline), reading each directory's summary.json:
prints p50 and p99 per stage and for the whole cycle, with the change. Exits 1 when any of them
grew by more than --max-regression AND by more than --noise-floor-us (sub-microsecond stages
jitter by tens of percent on a busy machine), 2 when an input is missing or corrupt, else 0.

options:
  --max-regression <p>   allowed growth, e.g. 10% or 10                     (default 10%)
  --noise-floor-us <n>   growth below this many µs never counts               (default 1)
  --json                 print one JSON object (rows, regressions) as the last line`;

async function compare(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'max-regression': { type: 'string' },
      'noise-floor-us': { type: 'string' },
      json: { type: 'boolean' },
    },
    compareHelp,
    true,
  );
  if (!parsed) return 0;
  const [a, b, ...extra] = parsed.positionals;
  if (a === undefined || b === undefined || extra.length > 0) {
    throw new UsageError('compare takes exactly two profile directories: <a> (baseline) and <b> (candidate)');
  }
  let maxRegression: number;
  try {
    maxRegression = parsePercent(parsed.values['max-regression'] ?? '10%');
  } catch (error) {
    throw new UsageError(`--max-regression: ${(error as Error).message}`);
  }
  const noiseFloorUs = numberFlag(parsed.values['noise-floor-us'], 'noise-floor-us', 1);
  if (noiseFloorUs < 0) throw new UsageError('--noise-floor-us must be >= 0');
  let summaries: ReturnType<typeof readSummary>[];
  try {
    summaries = [readSummary(a), readSummary(b)];
  } catch (error) {
    if (error instanceof ProfileInputError) {
      process.stderr.write(`engram profile compare: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const [summaryA, summaryB] = summaries as [ReturnType<typeof readSummary>, ReturnType<typeof readSummary>];
  const comparison = compareSummaries(summaryA, summaryB, { maxRegression, noiseFloorNs: noiseFloorUs * 1000 });
  process.stdout.write(`${formatComparison(comparison, `${a} (${summaryA.label})`, `${b} (${summaryB.label})`)}\n`);
  if (summaryA.host.cpuModel !== summaryB.host.cpuModel || summaryA.host.cores !== summaryB.host.cores) {
    process.stdout.write(
      `note: different hosts (${summaryA.host.cpuModel}, ${summaryA.host.cores} cores vs ${summaryB.host.cpuModel}, ${summaryB.host.cores} cores)\n`,
    );
  }
  if (parsed.values.json) {
    printJsonLast({
      a: resolve(a),
      b: resolve(b),
      maxRegression,
      noiseFloorNs: noiseFloorUs * 1000,
      regressed: comparison.regressions.length > 0,
      regressions: comparison.regressions,
      rows: comparison.rows.map((row) => ({
        stage: row.stage,
        p50: { a: row.p50.a, b: row.p50.b, change: Number.isFinite(row.p50.change) ? row.p50.change : null },
        p99: { a: row.p99.a, b: row.p99.b, change: Number.isFinite(row.p99.change) ? row.p99.change : null },
      })),
    });
  }
  return comparison.regressions.length > 0 ? 1 : 0;
}

export interface RecordOptions {
  configPath: string;
  durationMs: number;
  out: string;
  /** more observers beside the profiler (tests) */
  observers?: CycleObserver[];
  /** logger for the run (default: the config's) */
  logger?: Logger;
}

export interface Recorded {
  written: WrittenProfile;
  /** cycles the loop itself counted, to check against the profile's rows */
  loopCycles: number;
}

/**
 * Runs the configured setup through `engram run`'s composition (runConfig) with the profiler as
 * one more cycle observer, then writes the profile. Throws ConfigError for a bad config.
 */
export async function recordProfile(options: RecordOptions): Promise<Recorded> {
  const { loadRuntimeConfig } = await import('../config.js');
  const config = loadRuntimeConfig(options.configPath);
  const { runConfig } = await import('./run.js');
  const periodNs = 1e9 / config.rateHz;
  const recorder = new ProfileRecorder(systemClock, await describeHost(), {
    label: `${config.name} (${options.configPath})`,
    periodNs,
    budgetNs: config.budget.cycleMs * 1e6,
    cycleCapacity: cycleCapacityFor(options.durationMs, periodNs),
  });
  recorder.start();
  let loopCycles = 0;
  let failure: unknown;
  try {
    const run = await runConfig(config, {
      durationMs: options.durationMs,
      showStatus: false,
      observers: [recorder, ...(options.observers ?? [])],
      ...(options.logger ? { logger: options.logger } : {}),
    });
    loopCycles = run.cycles;
  } catch (error) {
    failure = error;
  }
  const data = await recorder.finish();
  if (failure !== undefined) {
    // A run cut short by an error still leaves a profile of the cycles it ran.
    if (data.cycles.count > 0) {
      await writeProfile(data, options.out);
      process.stderr.write(`engram profile: partial profile of ${data.cycles.count} cycles in ${options.out}\n`);
    }
    throw failure;
  }
  return { written: await writeProfile(data, options.out), loopCycles };
}

async function record(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      config: { type: 'string' },
      duration: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
    recordHelp,
  );
  if (!parsed) return 0;
  const configPath = parsed.values.config;
  if (configPath === undefined) throw new UsageError('--config <file> is required');
  const durationMs = durationFlag(parsed.values.duration, 'duration', 10_000);
  if (!(durationMs > 0)) throw new UsageError('--duration must be positive');
  const out = parsed.values.out ?? join('runs', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  let recorded: Recorded;
  try {
    recorded = await recordProfile({ configPath, durationMs, out });
  } catch (error) {
    const { ConfigError } = await import('../config.js');
    if (error instanceof ConfigError) {
      process.stderr.write(`engram profile: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`engram profile: the run failed: ${(error as Error).message}\n`);
    return 1;
  }
  const result = recorded.written;
  const s = result.summary;
  if (s.cycles.recorded + s.cycles.dropped !== recorded.loopCycles) {
    process.stderr.write(
      `engram profile: the loop ran ${recorded.loopCycles} cycles but the profile saw ${s.cycles.recorded + s.cycles.dropped}\n`,
    );
  }
  const us = (ns: number) => (ns / 1000).toFixed(1);
  process.stdout.write(
    `profiled ${s.label} for ${s.durationS.toFixed(1)} s: ${s.cycles.recorded} cycles at ${s.cycles.achievedHz.toFixed(1)} Hz, ` +
      `cycle p50 ${us(s.cycleNs.p50)} µs p99 ${us(s.cycleNs.p99)} µs (budget ${us(s.budgetNs)} µs), ${s.cycles.overruns} overruns, ${s.gc.count} GCs\n` +
      `  ${result.trace}  (open in https://ui.perfetto.dev)\n  ${result.report}\n  ${result.summaryPath}\n`,
  );
  if (parsed.values.json) {
    printJsonLast({
      out: resolve(result.dir),
      trace: resolve(result.trace),
      report: resolve(result.report),
      summary: resolve(result.summaryPath),
      cycles: s.cycles.recorded,
      droppedCycles: s.cycles.dropped,
      loopCycles: recorded.loopCycles,
      overruns: s.cycles.overruns,
      achievedHz: s.cycles.achievedHz,
      cycleP50Ns: s.cycleNs.p50,
      cycleP99Ns: s.cycleNs.p99,
      budgetNs: s.budgetNs,
      gcCount: s.gc.count,
    });
  }
  return 0;
}

export const command: Subcommand = {
  name: 'profile',
  summary: 'record a cycle-time profile; profile compare a b',
  help: recordHelp,
  async run(argv) {
    if (argv[0] === 'compare') return compare(argv.slice(1));
    return record(argv);
  },
};
