/**
 * Lock-step episodes: the controller and the physics take turns, one control step each, as fast as
 * the controller allows. Each step the controller gets the frame (observation, the reward that led
 * to it, episodeStart) and a deadline one budget away; then its slack-time `maintain`; then the
 * physics advances with its action (held for `actionRepeat` steps). After the last step the final frame is shown too, so the
 * controller learns from the episode's last transition (its action is discarded).
 *
 * The per-step path allocates nothing: frame, action and timing buffers are created once here.
 */

import type { Environment } from '../../../sim/environment.js';
import type { Clock, Controller, Frame, StepTimings } from '../../contracts.js';
import { createFrame, LookupPath, Status } from '../../contracts.js';

export interface StepTimeLog {
  /** controller.step durations (ns), one per step, in order */
  readonly stepNs: Float64Array;
  count: number;
}

export function createStepTimeLog(capacity: number): StepTimeLog {
  return { stepNs: new Float64Array(capacity), count: 0 };
}

export interface LockstepOptions {
  clock: Clock;
  /** the deadline handed to controller.step: this long after the step begins (ns) */
  stepBudgetNs: number;
  /** slack handed to controller.maintain after each step (ns) */
  maintainBudgetNs: number;
  /**
   * Control steps each decision is held for (1 = decide every step). The controller sees every
   * `actionRepeat`-th frame with the summed reward of the steps in between, as the suite's
   * benchmark agents do with "action repeat"; the episode and its return are unchanged.
   */
  actionRepeat?: number;
  /**
   * false for evaluation: controller.maintain is not called, so the controller stores nothing
   * from these episodes (the brain stores experiences in maintain), as the suite's protocol keeps
   * evaluation episodes out of training. Default true.
   */
  learn?: boolean;
}

/** Counted step outcomes (not per-step logs). */
export interface StepStatusCounts {
  ok: number;
  deadline: number;
  rejected: number;
}

export class LockstepSession {
  readonly frame: Frame;
  readonly action: Float32Array;
  readonly timings: StepTimings;
  readonly statuses: StepStatusCounts = { ok: 0, deadline: 0, rejected: 0 };
  /** frames shown to the controller so far */
  framesShown = 0;
  private readonly actionRepeat: number;
  private readonly learn: boolean;

  constructor(
    readonly env: Environment,
    readonly controller: Controller,
    private readonly options: LockstepOptions,
  ) {
    const task = env.task;
    if (controller.observationSize !== task.observationSize || controller.actionSize !== task.actionSize) {
      throw new Error(
        `controller sizes (observation ${controller.observationSize}, action ${controller.actionSize}) differ from task '${task.name}' (${task.observationSize}, ${task.actionSize})`,
      );
    }
    const repeat = options.actionRepeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1)
      throw new Error(`actionRepeat must be a positive integer, got ${repeat}`);
    this.actionRepeat = repeat;
    this.learn = options.learn ?? true;
    this.frame = createFrame(task.observationSize);
    this.action = new Float32Array(task.actionSize);
    this.timings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
  }

  /**
   * Runs one whole episode; returns its return. `stepLog` (when given) receives each step's
   * duration; `onStep` (when given) is called after each environment step.
   */
  runEpisode(stepLog?: StepTimeLog, onStep?: () => void): number {
    const { env } = this;
    env.reset();
    this.show(true, 0, stepLog);
    while (!env.done) {
      let reward = 0;
      for (let r = 0; r < this.actionRepeat && !env.done; r++) {
        reward += env.step(this.action);
        if (onStep) onStep();
      }
      this.show(false, reward, stepLog);
    }
    return env.episodeReturn;
  }

  /** Hands the current observation to the controller and gives it its slack time. */
  private show(episodeStart: boolean, reward: number, stepLog: StepTimeLog | undefined): void {
    const { frame, controller, options } = this;
    const observation = this.env.observation;
    const target = frame.observation;
    for (let i = 0; i < observation.length; i++) target[i] = observation[i] as number;
    const start = options.clock.nowNs();
    frame.seq += 1;
    frame.sourceStampNs = start;
    frame.receivedNs = start;
    frame.reward = reward;
    frame.episodeStart = episodeStart;
    const status = controller.step(frame, start + options.stepBudgetNs, this.action, this.timings);
    const end = options.clock.nowNs();
    if (status === Status.ok) this.statuses.ok += 1;
    else if (status === Status.deadline) this.statuses.deadline += 1;
    else this.statuses.rejected += 1;
    if (stepLog && stepLog.count < stepLog.stepNs.length) {
      stepLog.stepNs[stepLog.count] = end - start;
      stepLog.count += 1;
    }
    if (this.learn) controller.maintain(end + options.maintainBudgetNs);
    this.framesShown += 1;
  }
}
