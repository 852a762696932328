/**
 * `engram sim --realtime`: the task at its control rate through the runtime loop (runtime/loop.ts
 * and loop-runner.ts), with the safety filter and effort ladder, exactly as `engram run` drives a
 * robot. Each cycle publishes one action; the physics advances one control step per published
 * action. Reports deadline misses, overruns, skipped ticks and the returns of the episodes played.
 *
 * The loop's settings come from configs/<task>.yaml when the repository has one (budget, safety,
 * timing), else from the task itself (rate = 1 / control timestep, half the period as budget).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../bench/lib/report.js';
import type { Environment } from '../../../sim/environment.js';
import type { TaskDefinition } from '../../../sim/task.js';
import { parseRuntimeConfig, parseRuntimeConfigText, type RuntimeConfig } from '../../config.js';
import type {
  Action,
  Clock,
  CycleObserver,
  CycleRecord,
  Driver,
  DriverCounters,
  Frame,
  StatusCode,
} from '../../contracts.js';
import { Status } from '../../contracts.js';
import { Loop } from '../../loop.js';
import { LoopRunner } from '../../loop-runner.js';
import { loopSettingsFromConfig, safetyFilterFromConfig } from '../../loop-settings.js';
import type { ControllerHandle, Progress, StepTimeSummary, TrainingEpisode } from './learn.js';
import { summarizeStepTimes } from './learn.js';
import { createStepTimeLog, type StepTimeLog } from './lockstep.js';

/**
 * The environment as a Driver: poll hands out the newest observation once; publish applies the
 * action for one control step. After an episode's last step the final frame is handed out, and
 * the action answering it starts the next episode instead (its first frame has episodeStart).
 */
export class EnvironmentDriver implements Driver {
  readonly name: string;
  readonly episodes: TrainingEpisode[] = [];
  stepsDone = 0;
  private frameReady = false;
  private episodeStart = true;
  private seq = -1;
  private readonly stats: DriverCounters = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, reconnects: 0 };

  constructor(
    readonly env: Environment,
    private readonly clock: Clock,
  ) {
    this.name = `sim:${env.task.name}`;
  }

  async start(): Promise<void> {
    this.env.reset();
    this.episodeStart = true;
    this.frameReady = true;
  }

  poll(into: Frame): StatusCode {
    if (!this.frameReady) return Status.noInput;
    const observation = this.env.observation;
    const target = into.observation;
    for (let i = 0; i < observation.length; i++) target[i] = observation[i] as number;
    const now = this.clock.nowNs();
    this.seq += 1;
    into.seq = this.seq;
    into.sourceStampNs = now;
    into.receivedNs = now;
    into.reward = this.env.lastReward;
    into.episodeStart = this.episodeStart;
    into.estop = false;
    this.frameReady = false;
    this.episodeStart = false;
    this.stats.framesReceived += 1;
    return Status.ok;
  }

  publish(action: Action): void {
    this.stats.actionsPublished += 1;
    const env = this.env;
    if (env.done) {
      this.episodes.push({ episode: this.episodes.length + 1, step: this.stepsDone, return: env.episodeReturn });
      env.reset();
      this.episodeStart = true;
    } else {
      env.step(action.values);
      this.stepsDone += 1;
    }
    this.frameReady = true;
  }

  counters(): DriverCounters {
    return this.stats;
  }

  async stop(): Promise<void> {}
}

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
  env: Environment;
  config: RuntimeConfig;
  configSource: string;
  steps: number;
  seed: number;
  clock: Clock;
  handle: ControllerHandle;
  onProgress?: (progress: Progress) => void;
}

export async function runRealtime(options: RealtimeOptions): Promise<RealtimeResult> {
  const { env, config, clock, handle } = options;
  const driver = new EnvironmentDriver(env, clock);
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
  });
  const started = clock.nowNs();
  let lastSteps = 0;
  let lastNs = started;
  const progress = setInterval(() => {
    if (!options.onProgress) return;
    const now = clock.nowNs();
    const rate = ((driver.stepsDone - lastSteps) * 1e9) / Math.max(1, now - lastNs);
    lastSteps = driver.stepsDone;
    lastNs = now;
    const recent = Math.min(stepLog.count, 500);
    const window = createStepTimeLog(recent);
    window.stepNs.set(stepLog.stepNs.subarray(stepLog.count - recent, stepLog.count));
    window.count = recent;
    options.onProgress({
      phase: 'training',
      step: driver.stepsDone,
      totalSteps: options.steps,
      episode: driver.episodes.length + 1,
      episodesDone: driver.episodes.length,
      currentReturn: env.episodeReturn,
      lastEpisodeReturn: driver.episodes[driver.episodes.length - 1]?.return,
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
    task: env.task.name,
    seed: options.seed,
    controller: handle.kind,
    configSource: options.configSource,
    rateHz: config.rateHz,
    achievedRateHz: loop.achievedRateHz(),
    cycles: c.cycles,
    stepsDone: driver.stepsDone,
    deadlineMisses: c.deadlineMisses,
    anytimeCutoffs: c.anytimeCutoffs,
    overruns: c.overruns,
    skippedTicks: c.skippedTicks,
    heldActions: c.heldActions,
    safeActions: c.safeActions,
    maintenanceOverruns: c.maintenanceOverruns,
    effortLevel: loop.ladder.level,
    episodes: driver.episodes,
    stepTime: summarizeStepTimes(stepLog),
    wallSeconds: (clock.nowNs() - started) / 1e9,
    memorySize: handle.memorySize(),
  };
}
