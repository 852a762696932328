/**
 * Online learning on a simulated task, in lock-step with the physics: whole training episodes with
 * exploration on, and after every `evalEvery` training steps (at the next episode boundary, so no
 * transition spans a training and an evaluation episode) `evalEpisodes` evaluation episodes with
 * exploration off and without learning (maintain is not called, so nothing is stored), on a
 * separately seeded environment. The random and zero-action baselines are
 * evaluated on the same evaluation seeds. Scores are returns on the suite's 0-1000 scale.
 */
import { distribution } from '../../../bench/lib/stats.js';
import { Environment } from '../../../sim/environment.js';
import type { TaskDefinition } from '../../../sim/task.js';
import type { Clock, Controller } from '../../contracts.js';
import { RandomController, ZeroController } from './baselines.js';
import { createStepTimeLog, LockstepSession, type StepStatusCounts, type StepTimeLog } from './lockstep.js';

/** A controller under test, with what the live view and the report want to know about it. */
export interface ControllerHandle {
  readonly controller: Controller;
  /** 'brain', 'random' or 'zero' */
  readonly kind: string;
  /** experiences held in memory now (0 for controllers without memory) */
  memorySize(): number;
  /** settings worth recording in the report (e.g. the brain config) */
  readonly settings: object;
  dispose?(): void;
}

export interface LearnOptions {
  task: TaskDefinition;
  /** training steps (rounded up to whole episodes) */
  steps: number;
  seed: number;
  evalEvery: number;
  evalEpisodes: number;
  clock: Clock;
  stepBudgetNs: number;
  maintainBudgetNs: number;
  /** control steps each decision is held for (default 1) */
  actionRepeat?: number;
  handle: ControllerHandle;
  /** called often (throttled by the caller) with the progress so far */
  onProgress?: (progress: Progress) => void;
}

export interface EvaluationPoint {
  /** training steps done when this evaluation ran */
  step: number;
  meanReturn: number;
  returns: number[];
}

export interface TrainingEpisode {
  episode: number;
  /** training steps done when the episode ended */
  step: number;
  return: number;
}

export interface BaselineResult {
  meanReturn: number;
  returns: number[];
}

export interface Progress {
  readonly phase: 'training' | 'evaluating';
  readonly step: number;
  readonly totalSteps: number;
  /** the training episode under way (1-based) */
  readonly episode: number;
  /** training episodes finished */
  readonly episodesDone: number;
  readonly currentReturn: number;
  readonly lastEpisodeReturn: number | undefined;
  readonly lastEvaluation: EvaluationPoint | undefined;
  readonly stepsPerSecond: number;
  /** p99 of controller.step over the most recent steps (ms) */
  readonly recentStepP99Ms: number;
  readonly memorySize: number;
}

export interface StepTimeSummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  count: number;
}

export interface LearnResult {
  task: string;
  seed: number;
  controller: string;
  settings: object;
  steps: number;
  evalEvery: number;
  evalEpisodes: number;
  controlTimestepS: number;
  /** control steps per episode (the most a 0-1 reward can sum to) */
  episodeSteps: number;
  actionRepeat: number;
  stepBudgetMs: number;
  evaluations: EvaluationPoint[];
  trainingEpisodes: TrainingEpisode[];
  /** mean evaluation return at the end of training (the score) */
  finalScore: number;
  /** controller.step over training steps */
  stepTime: StepTimeSummary;
  /** controller.step over evaluation steps */
  evalStepTime: StepTimeSummary;
  statuses: StepStatusCounts;
  /** environment (physics control) steps per second of wall time, evaluations included */
  stepsPerSecond: number;
  wallSeconds: number;
  memorySize: number;
}

export function summarizeStepTimes(log: StepTimeLog): StepTimeSummary {
  if (log.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0, count: 0 };
  const d = distribution(log.stepNs, log.count);
  return { p50Ms: d.p50 / 1e6, p99Ms: d.p99 / 1e6, maxMs: d.max / 1e6, count: d.count };
}

/** Seed of the evaluation environment: apart from the training seed, the same for every policy. */
export function evaluationSeed(seed: number): number {
  return seed * 7919 + 104_729;
}

/** Runs `episodes` whole episodes with exploration off; returns their returns. */
export function evaluate(
  session: LockstepSession,
  episodes: number,
  stepLog?: StepTimeLog,
  onStep?: () => void,
): number[] {
  session.controller.setExploration(false);
  const returns: number[] = [];
  for (let e = 0; e < episodes; e++) returns.push(session.runEpisode(stepLog, onStep));
  session.controller.setExploration(true);
  return returns;
}

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);

/** Evaluates the random and zero-action policies on the evaluation seeds. */
export async function evaluateBaselines(
  task: TaskDefinition,
  seed: number,
  episodes: number,
  clock: Clock,
): Promise<{ random: BaselineResult; zero: BaselineResult }> {
  const options = { clock, stepBudgetNs: 1e9, maintainBudgetNs: 0 };
  const run = async (controller: Controller): Promise<BaselineResult> => {
    const env = await Environment.create(task, evaluationSeed(seed));
    const returns = evaluate(new LockstepSession(env, controller, options), episodes);
    env.dispose();
    return { meanReturn: mean(returns), returns };
  };
  return {
    random: await run(
      new RandomController(task.observationSize, task.actionSize, task.actionLow, task.actionHigh, seed + 1),
    ),
    zero: await run(new ZeroController(task.observationSize, task.actionSize)),
  };
}

/** Trains and evaluates; returns everything the report needs. */
export async function learn(options: LearnOptions): Promise<LearnResult> {
  const { task, clock, handle } = options;
  const sessionOptions = {
    clock,
    stepBudgetNs: options.stepBudgetNs,
    maintainBudgetNs: options.maintainBudgetNs,
    actionRepeat: options.actionRepeat ?? 1,
  };
  const trainEnv = await Environment.create(task, options.seed);
  const evalEnv = await Environment.create(task, evaluationSeed(options.seed));
  const training = new LockstepSession(trainEnv, handle.controller, sessionOptions);
  // evaluation episodes: exploration off and nothing stored (no maintain), as in the suite's protocol
  const evaluation = new LockstepSession(evalEnv, handle.controller, { ...sessionOptions, learn: false });
  const episodes = Math.max(1, Math.ceil(options.steps / task.episodeSteps));
  const totalSteps = episodes * task.episodeSteps;
  const trainLog = createStepTimeLog(totalSteps + episodes);
  const evalLog = createStepTimeLog(
    (Math.floor(totalSteps / options.evalEvery) + 2) * options.evalEpisodes * (task.episodeSteps + 1),
  );
  const evaluations: EvaluationPoint[] = [];
  const trainingEpisodes: TrainingEpisode[] = [];
  const recent = new Float64Array(2000);
  const started = clock.nowNs();
  let stepsDone = 0;
  let episode = 0;
  let nextEvaluationAt = 0;
  let lastReport = started;
  let stepsAtLastReport = 0;
  // environment steps of training and evaluation (with action repeat, more than frames shown)
  let environmentSteps = 0;
  let rate = 0;
  let phase: Progress['phase'] = 'training';

  const recentP99 = (log: StepTimeLog): number => {
    const n = Math.min(log.count, recent.length);
    if (n === 0) return 0;
    for (let i = 0; i < n; i++) recent[i] = log.stepNs[log.count - n + i] as number;
    const sorted = recent.subarray(0, n).sort();
    return (sorted[Math.min(n - 1, Math.floor(0.99 * n))] as number) / 1e6;
  };
  const report = (): void => {
    if (!options.onProgress) return;
    const now = clock.nowNs();
    // steps per second over windows of at least a second, so one slow step does not swing it
    if (now - lastReport >= 1e9 || rate === 0) {
      if (now > lastReport) rate = ((environmentSteps - stepsAtLastReport) * 1e9) / (now - lastReport);
      lastReport = now;
      stepsAtLastReport = environmentSteps;
    }
    options.onProgress({
      phase,
      step: stepsDone,
      totalSteps,
      episode,
      episodesDone: trainingEpisodes.length,
      currentReturn: phase === 'training' ? trainEnv.episodeReturn : evalEnv.episodeReturn,
      lastEpisodeReturn: trainingEpisodes[trainingEpisodes.length - 1]?.return,
      lastEvaluation: evaluations[evaluations.length - 1],
      stepsPerSecond: rate,
      recentStepP99Ms: recentP99(phase === 'training' ? trainLog : evalLog),
      memorySize: handle.memorySize(),
    });
  };
  // progress every 250 steps: cheap enough, frequent enough for a live view
  let untilReport = 250;
  const onStep = (): void => {
    environmentSteps += 1;
    untilReport -= 1;
    if (untilReport > 0) return;
    untilReport = 250;
    report();
  };
  const runEvaluation = (): void => {
    phase = 'evaluating';
    const returns = evaluate(evaluation, options.evalEpisodes, evalLog, onStep);
    evaluations.push({ step: stepsDone, meanReturn: mean(returns), returns });
    phase = 'training';
    report();
  };

  runEvaluation();
  nextEvaluationAt = options.evalEvery;
  for (episode = 1; episode <= episodes; episode++) {
    const episodeReturn = training.runEpisode(trainLog, () => {
      stepsDone += 1;
      onStep();
    });
    trainingEpisodes.push({ episode, step: stepsDone, return: episodeReturn });
    report();
    if (stepsDone >= nextEvaluationAt || episode === episodes) {
      runEvaluation();
      while (nextEvaluationAt <= stepsDone) nextEvaluationAt += options.evalEvery;
    }
  }
  episode = episodes;
  const wallSeconds = (clock.nowNs() - started) / 1e9;
  const last = evaluations[evaluations.length - 1] as EvaluationPoint;
  const statuses: StepStatusCounts = {
    ok: training.statuses.ok + evaluation.statuses.ok,
    deadline: training.statuses.deadline + evaluation.statuses.deadline,
    rejected: training.statuses.rejected + evaluation.statuses.rejected,
  };
  const result: LearnResult = {
    task: task.name,
    seed: options.seed,
    controller: handle.kind,
    settings: handle.settings,
    steps: totalSteps,
    evalEvery: options.evalEvery,
    evalEpisodes: options.evalEpisodes,
    controlTimestepS: task.controlTimestep,
    episodeSteps: task.episodeSteps,
    actionRepeat: options.actionRepeat ?? 1,
    stepBudgetMs: options.stepBudgetNs / 1e6,
    evaluations,
    trainingEpisodes,
    finalScore: last.meanReturn,
    stepTime: summarizeStepTimes(trainLog),
    evalStepTime: summarizeStepTimes(evalLog),
    statuses,
    stepsPerSecond: environmentSteps / Math.max(1e-9, wallSeconds),
    wallSeconds,
    memorySize: handle.memorySize(),
  };
  trainEnv.dispose();
  evalEnv.dispose();
  return result;
}
