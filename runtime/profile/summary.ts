/**
 * summary.json: the session's figures in a stable, versioned schema (documented in
 * docs/profiling.md). The zod schema is the one definition: the writer's type is inferred from
 * it and `readSummary` validates against it, so compare gives a clear error for a corrupt file.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { gcForcedFlag, gcKindName } from './gc.js';
import type { ProfileData } from './recorder.js';
import { cycleStages, lookupPathNames, stageNames } from './stages.js';
import { distributionOf } from './stats.js';

export const summarySchemaId = 'engram.profile.summary/1';

/** Nanoseconds unless the field name says otherwise. */
const distributionSchema = z.object({
  count: z.number().int().nonnegative(),
  mean: z.number(),
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  p999: z.number(),
  max: z.number(),
});

const stageDistributions = z.object({
  ingest: distributionSchema,
  encode: distributionSchema,
  lookup: distributionSchema,
  activation: distributionSchema,
  plan: distributionSchema,
  safety: distributionSchema,
  publish: distributionSchema,
  maintenance: distributionSchema,
  /** cycleNs minus the in-cycle stages: loop overhead between stages */
  other: distributionSchema,
});

export const summarySchema = z.object({
  schema: z.literal(summarySchemaId),
  label: z.string(),
  startedAt: z.string(),
  durationS: z.number().nonnegative(),
  periodNs: z.number().positive(),
  budgetNs: z.number().positive(),
  host: z.object({
    hostname: z.string(),
    cpuModel: z.string(),
    cores: z.number(),
    physicalCores: z.number(),
    cpuSpeedGHz: z.number().nullable(),
    memoryBytes: z.number(),
    os: z.string(),
    kernel: z.string(),
    arch: z.string(),
    node: z.string(),
    v8: z.string(),
    gpus: z.array(z.object({ vendor: z.string(), model: z.string(), vramMiB: z.number().nullable() })),
  }),
  cycles: z.object({
    recorded: z.number().int().nonnegative(),
    /** cycles the preallocated table had no room for */
    dropped: z.number().int().nonnegative(),
    achievedHz: z.number().nonnegative(),
    overruns: z.number().int().nonnegative(),
    skippedTicks: z.number().int().nonnegative(),
    /** steps that hit their deadline and returned their best-so-far action */
    deadlineSteps: z.number().int().nonnegative(),
    staleActions: z.number().int().nonnegative(),
    safeActions: z.number().int().nonnegative(),
    /** cycles whose in-cycle stages add up to more than their measured total (should be 0) */
    unaccounted: z.number().int().nonnegative(),
  }),
  cycleNs: distributionSchema,
  latenessNs: distributionSchema,
  stages: stageDistributions,
  lookupPaths: z.record(z.string(), z.number().int().nonnegative()),
  /** cycles at each effort level, index 0 = full effort */
  effortLevels: z.array(z.number().int().nonnegative()),
  gc: z.object({
    count: z.number().int().nonnegative(),
    /** GCs the program asked for (global.gc()) */
    forced: z.number().int().nonnegative(),
    byKind: z.record(z.string(), z.number().int().nonnegative()),
    totalPauseMs: z.number().nonnegative(),
    maxPauseMs: z.number().nonnegative(),
    /** cycles that overran with a GC starting inside them */
    overrunsWithGc: z.number().int().nonnegative(),
  }),
  eventLoopDelayNs: z.object({ mean: z.number(), p50: z.number(), p99: z.number(), max: z.number() }),
  memory: z.object({
    /** heap samples (loop thread, slack time) */
    heapSamples: z.number().int().nonnegative(),
    heapUsedMaxBytes: z.number().nonnegative(),
    /** RSS samples (worker thread, with the machine samples) */
    rssSamples: z.number().int().nonnegative(),
    rssFirstBytes: z.number().nonnegative(),
    rssLastBytes: z.number().nonnegative(),
    rssMaxBytes: z.number().nonnegative(),
  }),
  machine: z.object({
    samples: z.number().int().nonnegative(),
    cpuLoadMeanPercent: z.number().nullable(),
    cpuLoadMaxPercent: z.number().nullable(),
    memUsedMaxBytes: z.number().nullable(),
  }),
});

export type ProfileSummary = z.infer<typeof summarySchema>;
export type StageDistributions = z.infer<typeof stageDistributions>;

/** The in-cycle stage sum subtracted from the total, per row (for "other" and accounting). */
export function unaccountedNs(data: ProfileData): Float64Array {
  const { cycles } = data;
  const other = new Float64Array(cycles.count);
  for (let i = 0; i < cycles.count; i++) {
    let sum = 0;
    for (const stage of cycleStages) sum += cycles.stages[stage][i]!;
    other[i] = cycles.cycleNs[i]! - sum;
  }
  return other;
}

export function summarize(data: ProfileData): ProfileSummary {
  const { cycles, gc, meta } = data;
  const n = cycles.count;
  const other = unaccountedNs(data);
  const stages = {} as Record<string, z.infer<typeof distributionSchema>>;
  for (const stage of stageNames) stages[stage] = distributionOf(cycles.stages[stage], n);
  const positiveOther = new Float64Array(n);
  let unaccounted = 0;
  for (let i = 0; i < n; i++) {
    // A few ns of float rounding is not a stage outrunning its cycle.
    if (other[i]! < -1) unaccounted++;
    positiveOther[i] = Math.max(0, other[i]!);
  }
  stages.other = distributionOf(positiveOther, n);

  let overruns = 0;
  let skippedTicks = 0;
  let deadlineSteps = 0;
  let staleActions = 0;
  let safeActions = 0;
  const lookupPaths: Record<string, number> = {};
  for (const name of lookupPathNames) lookupPaths[name] = 0;
  const effortLevels: number[] = [];
  for (let i = 0; i < n; i++) {
    overruns += cycles.overrun[i]!;
    skippedTicks += cycles.skippedTicks[i]!;
    if (cycles.stepStatus[i] === 5) deadlineSteps++;
    staleActions += cycles.actionStale[i]!;
    safeActions += cycles.safeAction[i]!;
    const path = lookupPathNames[cycles.lookupPath[i]!] ?? `path ${cycles.lookupPath[i]}`;
    lookupPaths[path] = (lookupPaths[path] ?? 0) + 1;
    const level = cycles.effortLevel[i]!;
    while (effortLevels.length <= level) effortLevels.push(0);
    effortLevels[level]!++;
  }

  const byKind: Record<string, number> = {};
  let totalPauseNs = 0;
  let maxPauseNs = 0;
  let forced = 0;
  for (let g = 0; g < gc.count; g++) {
    if (gc.flags[g]! & gcForcedFlag) forced++;
    const kind = gcKindName(gc.kind[g]!);
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    totalPauseNs += gc.durationNs[g]!;
    maxPauseNs = Math.max(maxPauseNs, gc.durationNs[g]!);
  }

  const durationNs = meta.endNs - meta.startNs;
  const heap = data.heap;
  const machine = data.machine;
  let heapUsedMax = 0;
  let rssMax = 0;
  for (let s = 0; s < heap.count; s++) heapUsedMax = Math.max(heapUsedMax, heap.heapUsedBytes[s]!);
  for (let s = 0; s < machine.count; s++) rssMax = Math.max(rssMax, machine.rssBytes[s]!);
  let cpuSum = 0;
  let cpuMax = 0;
  let memUsedMax = 0;
  for (let s = 0; s < machine.count; s++) {
    cpuSum += machine.cpuLoadPercent[s]!;
    cpuMax = Math.max(cpuMax, machine.cpuLoadPercent[s]!);
    memUsedMax = Math.max(memUsedMax, machine.memUsedBytes[s]!);
  }
  const hasMachine = machine.count > 0;

  return {
    schema: summarySchemaId,
    label: meta.label,
    startedAt: meta.startedAt,
    durationS: durationNs / 1e9,
    periodNs: meta.periodNs,
    budgetNs: meta.budgetNs,
    host: data.host,
    cycles: {
      recorded: n,
      dropped: cycles.dropped,
      achievedHz: durationNs > 0 ? (n + cycles.dropped) / (durationNs / 1e9) : 0,
      overruns,
      skippedTicks,
      deadlineSteps,
      staleActions,
      safeActions,
      unaccounted,
    },
    cycleNs: distributionOf(cycles.cycleNs, n),
    latenessNs: distributionOf(cycles.latenessNs, n),
    stages: stages as StageDistributions,
    lookupPaths,
    effortLevels,
    gc: {
      count: gc.count,
      forced,
      byKind,
      totalPauseMs: totalPauseNs / 1e6,
      maxPauseMs: maxPauseNs / 1e6,
      overrunsWithGc: countOverrunsWithGc(data),
    },
    eventLoopDelayNs: {
      mean: data.loopDelay.meanNs,
      p50: data.loopDelay.p50Ns,
      p99: data.loopDelay.p99Ns,
      max: data.loopDelay.maxNs,
    },
    memory: {
      heapSamples: heap.count,
      heapUsedMaxBytes: heapUsedMax,
      rssSamples: machine.count,
      rssFirstBytes: hasMachine ? machine.rssBytes[0]! : 0,
      rssLastBytes: hasMachine ? machine.rssBytes[machine.count - 1]! : 0,
      rssMaxBytes: rssMax,
    },
    machine: {
      samples: machine.count,
      cpuLoadMeanPercent: hasMachine ? cpuSum / machine.count : null,
      cpuLoadMaxPercent: hasMachine ? cpuMax : null,
      memUsedMaxBytes: hasMachine ? memUsedMax : null,
    },
  };
}

/** Overrun cycles with a GC that started between their wake and the end of the cycle. */
function countOverrunsWithGc(data: ProfileData): number {
  const { cycles, gc } = data;
  let count = 0;
  let g = 0;
  // Both tables are in time order: one merge pass.
  for (let i = 0; i < cycles.count; i++) {
    const start = cycles.wokeNs[i]!;
    const end = start + cycles.cycleNs[i]!;
    while (g < gc.count && gc.startNs[g]! < start) g++;
    if (cycles.overrun[i] && g < gc.count && gc.startNs[g]! <= end) count++;
  }
  return count;
}

export class ProfileInputError extends Error {
  override name = 'ProfileInputError';
}

/** Reads and validates `<dir>/summary.json`, with an error that says what is wrong and where. */
export function readSummary(dir: string): ProfileSummary {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new ProfileInputError(`profile directory '${dir}' does not exist`);
  }
  if (!isDir) throw new ProfileInputError(`'${dir}' is not a directory (expected a profile directory)`);
  const path = join(dir, 'summary.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ProfileInputError(`'${dir}' is not a profile directory: it has no summary.json`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ProfileInputError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = summarySchema.safeParse(json);
  if (!parsed.success) {
    throw new ProfileInputError(`${path} does not match ${summarySchemaId}:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
