/**
 * The whole-file runtime configuration: YAML validated by one strict zod schema. Unknown keys are
 * errors (no silent defaults for a misspelt key), and every error names the file, the key path and
 * what was expected. Part schemas (brain, drivers) are composed here, never redefined.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { brainConfigSchema } from '../brain/config.js';
import { ros2ConfigSchema } from '../drivers/ros2/config.js';
import { simDriverConfigSchema } from '../drivers/sim/config.js';
import { zmqConfigSchema } from '../drivers/zmq/config.js';

const positive = z.number().positive();
const positiveInt = z.number().int().positive();
const finite = z.number();

export const channelSchema = z.strictObject({
  name: z.string().min(1),
  size: positiveInt,
  /** a frame older than this is stale for this channel (ms); 0 = never stale on this channel */
  maxAgeMs: z.number().min(0).default(0),
});

/** Stage budgets (ms). The loop counts a stage overrun per stage; the cycle budget is the hard one. */
export const stageBudgetSchema = z.strictObject({
  ingest: positive,
  encode: positive,
  lookup: positive,
  plan: positive,
  publish: positive,
});

export const effortConfigSchema = z.strictObject({
  /** rungs on the effort ladder; rung 0 is full effort, each lower rung halves candidates and ef */
  levels: z.number().int().min(1).max(8).default(4),
  /** step down when a cycle used more than this fraction of its budget (or overran) */
  downAbove: z.number().gt(0).max(1).default(0.9),
  /** step back up after `upAfterCycles` consecutive cycles below this fraction */
  upBelow: z.number().gt(0).max(1).default(0.5),
  upAfterCycles: positiveInt.default(200),
});

export const budgetSchema = z.strictObject({
  /** wake to end of publish (ms); must fit in one period */
  cycleMs: positive,
  stages: stageBudgetSchema,
  /** bound on slack-time work after publishing (maintain, observers' flush), ms */
  maintenanceMs: positive.default(1),
  effort: effortConfigSchema.default(effortConfigSchema.parse({})),
});

export const actionConfigSchema = z.strictObject({
  size: positiveInt,
  low: z.array(finite),
  high: z.array(finite),
  /** what the robot does when engram cannot answer (stale input, e-stop, overrun with policy safe) */
  safe: z.array(finite),
  /** largest change per second, per dimension (one number applies to all); 0 = no slew limit */
  maxSlewPerSecond: z.union([z.number().min(0), z.array(z.number().min(0))]).default(0),
});

export const safetyConfigSchema = z.strictObject({
  /** sensor input older than this forces the safe action (ms) */
  staleAfterMs: positive,
  /** on an overrun: hold the last published action (stamped stale) or publish the safe action */
  overrunPolicy: z.enum(['hold', 'safe']),
});

export const timingConfigSchema = z.strictObject({
  /**
   * how the loop waits for its next tick; see docs/runtime.md for the measurements behind it.
   * 'native' (engram's timer addon; the worker when it is not built, said in the log), 'worker'
   * or 'timer'
   */
  strategy: z.enum(['native', 'worker', 'timer']).default('native'),
  /** the loop thread is woken this long before the tick (µs) and waits out the rest */
  wakeLeadUs: z.number().int().min(0).max(5000).default(300),
  /** of which only this last stretch is a busy spin (µs; each clock read in a spin allocates) */
  spinUs: z.number().int().min(0).max(5000).default(50),
  /**
   * SCHED_FIFO priority for the loop's threads (1-99; 0 = normal scheduling): the main and timekeeper
   * threads, or the whole process with the worker waiter (runtime/scheduling.ts). Needs permission;
   * measured in docs/runtime.md.
   */
  realtimePriority: z.number().int().min(0).max(99).default(0),
  /**
   * hold every CPU's wake-up latency at this many µs while running (/dev/cpu_dma_latency, as
   * cyclictest does by default; 0: idle CPUs poll instead of halting). Absent: the machine's power
   * management is left alone. Needs root: when refused, the run goes on and the log says why.
   * runtime/scheduling.ts; measured in docs/runtime.md.
   */
  cpuLatencyUs: z.number().int().min(0).max(2_000_000_000).optional(),
});

export const metricsConfigSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** loopback by default: exposing metrics beyond the host is a deliberate choice */
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(9464),
});

export const logConfigSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** human-readable output; default: when stderr is a terminal */
  pretty: z.boolean().optional(),
  /** at most one summary line per counter per interval (overruns, rejected frames) */
  summaryIntervalMs: positive.default(5000),
  /** live status (terminal) or plain status lines (otherwise) every this many ms; 0 = off */
  statusIntervalMs: z.number().min(0).default(1000),
});

/**
 * Flight recording (docs/persistence.md). On by default when `driver.kind` is `sim` (the section may
 * then be left out); on a robot only when the section is present. `enabled: false` turns it off.
 */
export const recordingConfigSchema = z.strictObject({
  /** default: on for driver.kind sim, otherwise on when this section is present */
  enabled: z.boolean().optional(),
  /** directory under which each run records into a new directory of its own */
  path: z.string().min(1).default('runs/recordings'),
  /** the recorder's ring (bufferCycles): cycles held in memory until slack time flushes them */
  ringCycles: positiveInt.default(4096),
  /** a segment file rotates at this size (MiB) */
  maxSegmentMiB: positive.default(64),
  /** only the newest this many segments of a run are kept (0 = keep all) */
  maxSegments: z.number().int().min(0).default(16),
  /** after a failed write (disk full) recording pauses this long before it tries a new segment */
  retryAfterMs: z.number().min(0).default(5000),
});

/** Memory snapshots (docs/persistence.md). Present = snapshot. */
export const snapshotConfigSchema = z.strictObject({
  /** the snapshot file; the previous good one is kept next to it (`<name>.prev<ext>`) */
  path: z.string().min(1),
  everySeconds: positive.default(60),
  /** load the snapshot at start when the file exists */
  loadOnStart: z.boolean().default(true),
  saveOnExit: z.boolean().default(true),
  /** no snapshot file at all (first boot): start with an empty memory, or refuse to start */
  onMissing: z.enum(['start-empty', 'fail']).default('start-empty'),
  /** snapshot files exist but none is usable: refuse to start, or start empty (logged loudly) */
  onUnusable: z.enum(['fail', 'start-empty']).default('fail'),
});

export const driverConfigSchema = z.discriminatedUnion('kind', [
  simDriverConfigSchema,
  zmqConfigSchema,
  ros2ConfigSchema,
]);

const runtimeConfigObject = z.strictObject({
  name: z.string().min(1),
  rateHz: z.number().positive().max(10_000),
  budget: budgetSchema,
  channels: z.array(channelSchema).min(1),
  action: actionConfigSchema,
  safety: safetyConfigSchema,
  timing: timingConfigSchema.default(timingConfigSchema.parse({})),
  driver: driverConfigSchema,
  brain: brainConfigSchema.default(brainConfigSchema.parse({})),
  metrics: metricsConfigSchema.default(metricsConfigSchema.parse({})),
  log: logConfigSchema.default(logConfigSchema.parse({})),
  recording: recordingConfigSchema.optional(),
  snapshot: snapshotConfigSchema.optional(),
});

/** Rules that span keys: sizes agree, limits are ordered, the budget fits the period. */
export const runtimeConfigSchema = runtimeConfigObject.superRefine((config, ctx) => {
  const periodMs = 1000 / config.rateHz;
  if (config.rateHz > 0 && config.budget.cycleMs > periodMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['budget', 'cycleMs'],
      message: `must fit in one period: at most ${round(periodMs)} ms at ${config.rateHz} Hz, got ${config.budget.cycleMs}`,
    });
  }
  const stages = config.budget.stages;
  const stageSum = stages.ingest + stages.encode + stages.lookup + stages.plan + stages.publish;
  if (stageSum > config.budget.cycleMs + 1e-9) {
    ctx.addIssue({
      code: 'custom',
      path: ['budget', 'stages'],
      message: `stage budgets sum to ${round(stageSum)} ms, more than budget.cycleMs (${config.budget.cycleMs})`,
    });
  }
  const action = config.action;
  for (const key of ['low', 'high', 'safe'] as const) {
    if (action[key].length !== action.size) {
      ctx.addIssue({
        code: 'custom',
        path: ['action', key],
        message: `expected ${action.size} values (action.size), got ${action[key].length}`,
      });
    }
  }
  if (Array.isArray(action.maxSlewPerSecond) && action.maxSlewPerSecond.length !== action.size) {
    ctx.addIssue({
      code: 'custom',
      path: ['action', 'maxSlewPerSecond'],
      message: `expected one number or ${action.size} values (action.size), got ${action.maxSlewPerSecond.length}`,
    });
  }
  for (let i = 0; i < Math.min(action.size, action.low.length, action.high.length, action.safe.length); i++) {
    const low = action.low[i]!;
    const high = action.high[i]!;
    const safe = action.safe[i]!;
    if (low > high) {
      ctx.addIssue({ code: 'custom', path: ['action', 'low', i], message: `must be <= action.high[${i}] (${high})` });
    } else if (safe < low || safe > high) {
      ctx.addIssue({
        code: 'custom',
        path: ['action', 'safe', i],
        message: `must lie within [${low}, ${high}] (action.low/high)`,
      });
    }
  }
  const seen = new Set<string>();
  for (let i = 0; i < config.channels.length; i++) {
    const name = config.channels[i]!.name;
    if (seen.has(name)) {
      ctx.addIssue({ code: 'custom', path: ['channels', i, 'name'], message: `duplicate channel '${name}'` });
    }
    seen.add(name);
  }
  if (config.driver.kind === 'ros2') {
    const inputs = config.driver.inputs;
    for (let i = 0; i < inputs.length; i++) {
      if (!seen.has(inputs[i]!.channel)) {
        ctx.addIssue({
          code: 'custom',
          path: ['driver', 'inputs', i, 'channel'],
          message: `names no channel; expected one of ${[...seen].join(', ')}`,
        });
      }
    }
  }
});

/**
 * The recording section as the run uses it: undefined when not recording. A sim driver records by
 * default (with the section's defaults); `enabled: false` turns recording off.
 */
export function recordingOf(config: RuntimeConfig): RecordingConfig | undefined {
  const section = config.recording;
  const enabled = section?.enabled ?? (section !== undefined || config.driver.kind === 'sim');
  if (!enabled) return undefined;
  return section ?? recordingConfigSchema.parse({});
}

export type RuntimeConfig = z.infer<typeof runtimeConfigSchema>;
export type ChannelConfig = z.infer<typeof channelSchema>;
export type ActionConfig = z.infer<typeof actionConfigSchema>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type EffortConfig = z.infer<typeof effortConfigSchema>;
export type DriverConfig = z.infer<typeof driverConfigSchema>;
export type RecordingConfig = z.infer<typeof recordingConfigSchema>;
export type SnapshotConfig = z.infer<typeof snapshotConfigSchema>;

/** A config that failed to load: the message names the file, the key path and what was expected. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length === 1 ? problems[0] : `\n  ${problems.join('\n  ')}`}`);
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** `budget.stages.plan`, `action.low[1]`, or `(top level)`. */
export function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** One line per zod issue: `key.path: what was expected`. */
export function describeIssues(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${keyPath([...issue.path, key])}: unknown key`);
      continue;
    }
    if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
      lines.push(`${keyPath(issue.path)}: expected one of sim, zmq, ros2`);
      continue;
    }
    // zod says "Invalid input: expected number, received undefined" for a missing key.
    const message = issue.message.replace(/^Invalid (input|option): /, '');
    const missing = /^expected (.+), received undefined$/.exec(message);
    lines.push(`${keyPath(issue.path)}: ${missing ? `missing (expected ${missing[1]})` : message}`);
  }
  return lines;
}

/** Validate an already-parsed object (tests, and callers that build configs in code). */
export function parseRuntimeConfig(value: unknown, file = '(inline config)'): RuntimeConfig {
  const result = runtimeConfigSchema.safeParse(value);
  if (!result.success) throw new ConfigError(file, describeIssues(result.error));
  return result.data;
}

/** Parse YAML text and validate it; YAML syntax errors name the line. */
export function parseRuntimeConfigText(text: string, file = '(inline config)'): RuntimeConfig {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) {
    const problems: string[] = [];
    for (const error of document.errors) {
      const line = error.linePos?.[0]?.line;
      const what = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      problems.push(`${line === undefined ? '' : `line ${line}: `}YAML ${what}`);
    }
    throw new ConfigError(file, problems);
  }
  return parseRuntimeConfig(document.toJS(), file);
}

export function loadRuntimeConfig(file: string): RuntimeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read: ${(error as Error).message}`]);
  }
  return parseRuntimeConfigText(text, file);
}

/** Observation size: the channels concatenated in config order. */
export function observationSize(config: RuntimeConfig): number {
  let size = 0;
  for (const channel of config.channels) size += channel.size;
  return size;
}

/**
 * The staleness limit the safety filter applies (ns): the safety section's, tightened by any
 * channel's own maxAgeMs (frames carry one receive stamp, so the tightest channel limit applies).
 */
export function staleAfterNs(config: RuntimeConfig): number {
  let ms = config.safety.staleAfterMs;
  for (const channel of config.channels) if (channel.maxAgeMs > 0 && channel.maxAgeMs < ms) ms = channel.maxAgeMs;
  return ms * 1e6;
}
