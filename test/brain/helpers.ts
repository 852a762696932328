/** Shared helpers for brain tests: a quiet log, a brain on a mock clock, a frame driver. */
import { brainConfig } from '../../brain/config.js';
import { type CreateBrainOptions, createBrain } from '../../brain/create.js';
import { MockClock } from '../../runtime/clock.js';
import {
  type Clock,
  createFrame,
  type EventLog,
  type Frame,
  LookupPath,
  type StepTimings,
} from '../../runtime/contracts.js';
import { leastHeapGrowthPer } from '../heap-growth.js';

export interface RecordingLog extends EventLog {
  lines: { level: string; message: string; details: object }[];
}

export function recordingLog(): RecordingLog {
  const lines: RecordingLog['lines'] = [];
  return {
    lines,
    info: (details, message) => lines.push({ level: 'info', message, details }),
    warn: (details, message) => lines.push({ level: 'warn', message, details }),
    error: (details, message) => lines.push({ level: 'error', message, details }),
  };
}

export function timings(): StepTimings {
  return { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
}

export async function testBrain<C extends Clock = MockClock>(
  partial: object,
  observationSize: number,
  actionSize: number,
  extra: {
    freeMemoryBytes?: () => number;
    log?: EventLog;
    index?: CreateBrainOptions['index'];
    kernels?: CreateBrainOptions['kernels'];
    /** default: a MockClock that stands still */
    clock?: C;
  } = {},
) {
  // C is MockClock unless the caller passed its own clock
  const clock = (extra.clock ?? new MockClock(0, 0)) as C;
  const log = extra.log ?? recordingLog();
  const brain = await createBrain(brainConfig(partial), {
    observationSize,
    actionSize,
    clock,
    log,
    freeMemoryBytes: extra.freeMemoryBytes ?? (() => 8 * 2 ** 30),
    index: extra.index ?? 'linear',
    ...(extra.kernels ? { kernels: extra.kernels } : {}),
  });
  return { brain, clock, frame: createFrame(observationSize), action: new Float32Array(actionSize), times: timings() };
}

/** Deterministic pseudo-random numbers for test data (not the brain's own RNG). */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

export function setObservation(frame: Frame, values: ArrayLike<number>, reward: number, episodeStart: boolean): void {
  for (let i = 0; i < frame.observation.length; i++) frame.observation[i] = values[i]!;
  frame.reward = reward;
  frame.episodeStart = episodeStart;
}

/**
 * JS heap bytes per brain step + maintain (32 candidates x horizon 16 unless `partial` says
 * otherwise), on a smooth `stateDim`-dimensional signal with 2 actions: filled past a capacity of
 * 400 (evicting), the JIT warmed long (code still waiting for TurboFan boxes every double, and on a
 * busy machine its compiles finish later), then the least of five 1000-step windows.
 */
export async function brainBytesPerStep<C extends Clock = MockClock>(
  partial: { [key: string]: unknown },
  stateDim: number,
  extra: Parameters<typeof testBrain<C>>[3] = {},
): Promise<{ perStep: number | undefined; size: number }> {
  const { brain, frame, action, times } = await testBrain<C>(
    {
      seed: 3,
      memory: { capacity: 400 },
      normaliser: { warmupSteps: 50 },
      ...partial,
      planner: { candidates: 32, horizon: 16, ...(partial.planner as object | undefined) },
    },
    stateDim,
    2,
    extra,
  );
  const state = new Float64Array(stateDim);
  let t = 0;
  let reward = 0;
  const steps = (count: number) => {
    for (let s = 0; s < count; s++) {
      setObservation(frame, state, reward, t % 200 === 0);
      brain.step(frame, Number.POSITIVE_INFINITY, action, times);
      brain.maintain(Number.POSITIVE_INFINITY);
      t++;
      for (let i = 0; i < stateDim; i++) state[i] = Math.sin(0.05 * t * (i + 1)) + 0.2 * action[i & 1]!;
      reward = state[0]! > 0.8 ? 1 : 0;
    }
  };
  steps(3000);
  const perStep = leastHeapGrowthPer(steps, 1000, 5);
  const size = brain.size();
  brain.dispose();
  return { perStep, size };
}
