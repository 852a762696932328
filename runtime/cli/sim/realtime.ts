/**
 * `engram sim --realtime`: the task at its control rate through the runtime loop (runtime/loop.ts
 * and loop-runner.ts), with the safety filter and effort ladder, exactly as `engram run` drives a
 * robot, through the in-process sim driver (drivers/sim/inprocess.ts): the physics advances one
 * control step per action that answers a frame. Reports deadline misses, overruns, skipped ticks
 * and the returns of the episodes played.
 *
 * The loop's settings come from configs/<task>.yaml when the repository has one (budget, safety,
 * timing), else from the task itself (rate = 1 / control timestep, half the period as budget).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../bench/lib/report.js';
import { InProcessSimDriver, simChannels } from '../../../drivers/sim/inprocess.js';
import type { TaskDefinition } from '../../../sim/task.js';
import { parseRuntimeConfig, parseRuntimeConfigText, type RuntimeConfig } from '../../config.js';
import type { Clock, CycleObserver, CycleRecord } from '../../contracts.js';
import { Status } from '../../contracts.js';
import { Loop } from '../../loop.js';
import { LoopRunner } from '../../loop-runner.js';
import { loopSettingsFromConfig, safetyFilterFromConfig } from '../../loop-settings.js';
import type { ControllerHandle, Progress, StepTimeSummary, TrainingEpisode } from './learn.js';
import { summarizeStepTimes } from './learn.js';
import { createStepTimeLog, type StepTimeLog } from './lockstep.js';

/** Copies each answered cycle's step time (encode + lookup + activation + plan) into a log. */
class StepTimeObserver implements CycleObserver {
  constructor(readonly log: StepTimeLog) {}
  cycleDone(record: CycleRecord): void {
    if (record.stepStatus !== Status.ok && record.stepStatus !== Status.deadline) return;
    const log = this.log;
    if (log.count >= log.stepNs.length) return;
    log.stepNs[log.count] = record.encodeNs + record.lookupNs + record.activationNs + record.planNs;
    log.count += 1;
  }
  flush(): void {}
}

/** The runtime config for a task: configs/<task>.yaml when present, else derived from the task. */
export function realtimeConfig(task: TaskDefinition, seed: number, brain: object): RuntimeConfig {
  const file = join(repoRoot, 'configs', `${task.name}.yaml`);
  if (existsSync(file)) {
    const fromFile = parseRuntimeConfigText(readFileSync(file, 'utf8'), file);
    return parseRuntimeConfig({
      ...fromFile,
      driver: { kind: 'sim', task: task.name, seed },
      brain,
      metrics: { ...fromFile.metrics, enabled: false },
    });
  }
  const periodMs = task.controlTimestep * 1000;
  const cycleMs = periodMs / 2;
  return parseRuntimeConfig({
    name: task.name,
    rateHz: 1 / task.controlTimestep,
    budget: {
      cycleMs,
      stages: {
        ingest: cycleMs * 0.05,
        encode: cycleMs * 0.1,
        lookup: cycleMs * 0.3,
        plan: cycleMs * 0.5,
        publish: cycleMs * 0.05,
      },
      maintenanceMs: periodMs / 4,
    },
    channels: [{ name: 'observation', size: task.observationSize }],
    action: {
      size: task.actionSize,
      low: new Array(task.actionSize).fill(task.actionLow),
      high: new Array(task.actionSize).fill(task.actionHigh),
      safe: new Array(task.actionSize).fill(0),
    },
    safety: { staleAfterMs: periodMs * 5, overrunPolicy: 'hold' },
    driver: { kind: 'sim', task: task.name, seed },
    brain,
  });
}

export interface RealtimeResult {
  task: string;
  seed: number;
  controller: string;
  configSource: string;
  rateHz: number;
  achievedRateHz: number;
  cycles: number;
  stepsDone: number;
  deadlineMisses: number;
  anytimeCutoffs: number;
  overruns: number;
  skippedTicks: number;
  heldActions: number;
  safeActions: number;
  maintenanceOverruns: number;
  effortLevel: number;
  episodes: TrainingEpisode[];
  stepTime: StepTimeSummary;
  wallSeconds: number;
  memorySize: number;
}

export interface RealtimeOptions {
  task: TaskDefinition;
  /** what the driver resolves: the built-in name or the task module path */
  taskSpec: string;
  config: RuntimeConfig;
  configSource: string;
  steps: number;
  seed: number;
  clock: Clock;
  handle: ControllerHandle;
  onProgress?: (progress: Progress) => void;
}

export async function runRealtime(options: RealtimeOptions): Promise<RealtimeResult> {
  const { task, config, clock, handle } = options;
  const driver = new InProcessSimDriver({
    config: { task: options.taskSpec, seed: options.seed },
    channels: simChannels(task),
    actionSize: task.actionSize,
    clock,
  });
  const episodes = (): TrainingEpisode[] =>
    driver.episodeReturns().map((value, i) => ({ episode: i + 1, step: (i + 1) * task.episodeSteps, return: value }));
  // control steps taken: every published answer steps the physics, except the one per finished episode
  const stepsDone = (): number => driver.counters().actionsPublished - driver.episodeReturns().length;
  const stepLog = createStepTimeLog(options.steps + 16);
  const settings = loopSettingsFromConfig(config);
  const loop = new Loop(clock, driver, handle.controller, safetyFilterFromConfig(config), settings, [
    new StepTimeObserver(stepLog),
  ]);
  const periodNs = 1e9 / config.rateHz;
  const runner = new LoopRunner(loop, clock, {
    strategy: config.timing.strategy,
    wakeLeadNs: config.timing.wakeLeadUs * 1e3,
    spinNs: config.timing.spinUs * 1e3,
    durationNs: options.steps * periodNs,
    onWaiterFallback: (why) =>
      process.stderr.write(`timing.strategy native is not available (${why}): using the worker\n`),
  });
  const started = clock.nowNs();
  let lastSteps = 0;
  let lastNs = started;
  const progress = setInterval(() => {
    if (!options.onProgress) return;
    const now = clock.nowNs();
    const steps = stepsDone();
    const rate = ((steps - lastSteps) * 1e9) / Math.max(1, now - lastNs);
    lastSteps = steps;
    lastNs = now;
    const recent = Math.min(stepLog.count, 500);
    const window = createStepTimeLog(recent);
    window.stepNs.set(stepLog.stepNs.subarray(stepLog.count - recent, stepLog.count));
    window.count = recent;
    const returns = driver.episodeReturns();
    const lastReturn = returns[returns.length - 1];
    options.onProgress({
      phase: 'training',
      step: steps,
      totalSteps: options.steps,
      episode: returns.length + 1,
      episodesDone: returns.length,
      currentReturn: Number.NaN,
      lastEpisodeReturn: lastReturn,
      lastEvaluation: undefined,
      stepsPerSecond: rate,
      recentStepP99Ms: summarizeStepTimes(window).p99Ms,
      memorySize: handle.memorySize(),
    });
  }, 250);
  try {
    await driver.start();
    handle.controller.setExploration(true);
    await runner.run();
  } finally {
    clearInterval(progress);
    loop.publishSafe();
    await driver.stop();
  }
  const c = loop.counters;
  return {
    task: task.name,
    seed: options.seed,
    controller: handle.kind,
    configSource: options.configSource,
    rateHz: config.rateHz,
    achievedRateHz: loop.achievedRateHz(),
    cycles: c.cycles,
    stepsDone: stepsDone(),
    deadlineMisses: c.deadlineMisses,
    anytimeCutoffs: c.anytimeCutoffs,
    overruns: c.overruns,
    skippedTicks: c.skippedTicks,
    heldActions: c.heldActions,
    safeActions: c.safeActions,
    maintenanceOverruns: c.maintenanceOverruns,
    effortLevel: loop.ladder.level,
    episodes: episodes(),
    stepTime: summarizeStepTimes(stepLog),
    wallSeconds: (clock.nowNs() - started) / 1e9,
    memorySize: handle.memorySize(),
  };
}
