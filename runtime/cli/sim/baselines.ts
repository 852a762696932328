/**
 * The two reference policies every learning report shows beside the brain: a uniformly random
 * action and the zero action. Both are Controllers, so they run through exactly the same
 * lock-step path as the brain.
 */

import { Rng } from '../../../sim/random.js';
import type { Controller, Effort, Frame, StatusCode, StepTimings } from '../../contracts.js';
import { Status } from '../../contracts.js';

/** Uniform in [low, high] per action entry, from its own seeded stream. */
export class RandomController implements Controller {
  private readonly rng: Rng;
  constructor(
    readonly observationSize: number,
    readonly actionSize: number,
    private readonly low: number,
    private readonly high: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }
  step(_frame: Frame, _deadlineNs: number, actionOut: Float32Array, _timings: StepTimings): StatusCode {
    for (let i = 0; i < this.actionSize; i++) actionOut[i] = this.rng.uniform(this.low, this.high);
    return Status.ok;
  }
  maintain(_untilNs: number): void {}
  setEffort(_effort: Effort): void {}
  setExploration(_enabled: boolean): void {}
}

/** Always the zero action (for most suite tasks: do nothing). */
export class ZeroController implements Controller {
  constructor(
    readonly observationSize: number,
    readonly actionSize: number,
  ) {}
  step(_frame: Frame, _deadlineNs: number, actionOut: Float32Array, _timings: StepTimings): StatusCode {
    actionOut.fill(0);
    return Status.ok;
  }
  maintain(_untilNs: number): void {}
  setEffort(_effort: Effort): void {}
  setExploration(_enabled: boolean): void {}
}
