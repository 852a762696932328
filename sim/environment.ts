/**
 * A task running on MuJoCo, stepped one control step at a time, as dm_control's
 * control.Environment does: reset (physics reset, task's initial state, forward), then per step
 * set the controls, advance the physics substeps, observe and reward. An episode is
 * `episodeSteps` control steps; its return is the sum of their rewards (0 to 1000 on the suite).
 *
 * The per-step path allocates nothing: the observation is one preallocated Float64Array.
 */
import { Physics } from './mujoco.js';
import { Rng } from './random.js';
import { type TaskDefinition, type TaskInstance, validateTaskInstance } from './task.js';

export class Environment {
  /** observation of the current state, overwritten by reset() and step() */
  readonly observation: Float64Array;
  /** physics steps per control step */
  readonly substeps: number;
  /** control steps taken in the current episode */
  stepInEpisode = 0;
  /** reward of the last step (0 after reset) */
  lastReward = 0;
  /** sum of rewards in the current episode */
  episodeReturn = 0;
  /** episodes started so far */
  episodes = 0;
  private readonly instance: TaskInstance;
  private readonly rng: Rng;

  private constructor(
    readonly task: TaskDefinition,
    readonly physics: Physics,
    seed: number,
  ) {
    this.observation = new Float64Array(task.observationSize);
    this.substeps = Math.round(task.controlTimestep / task.physicsTimestep);
    this.rng = new Rng(seed);
    this.instance = validateTaskInstance(task.bind(physics), `task '${task.name}'`);
  }

  /** Loads the task's model and checks it against the definition. Call reset() before stepping. */
  static async create(task: TaskDefinition, seed: number): Promise<Environment> {
    const physics = await Physics.load(task.modelFile);
    const where = `task '${task.name}' (${task.modelFile})`;
    if (Math.abs(physics.timestep - task.physicsTimestep) > 1e-12) {
      physics.dispose();
      throw new Error(
        `${where}: physicsTimestep ${task.physicsTimestep} differs from the model's timestep ${physics.timestep}`,
      );
    }
    if (physics.nu !== task.actionSize) {
      physics.dispose();
      throw new Error(`${where}: actionSize ${task.actionSize} differs from the model's ${physics.nu} actuators`);
    }
    return new Environment(task, physics, seed);
  }

  /** true once the episode's last control step has been taken */
  get done(): boolean {
    return this.stepInEpisode >= this.task.episodeSteps;
  }

  /** Starts a new episode from the task's initial-state distribution. */
  reset(): void {
    const { physics } = this;
    physics.reset();
    this.instance.initializeEpisode(physics, this.rng);
    physics.forward();
    this.stepInEpisode = 0;
    this.lastReward = 0;
    this.episodeReturn = 0;
    this.episodes += 1;
    this.instance.observe(physics, this.observation);
    this.checkObservation();
  }

  /**
   * Applies `action` for one control step and returns the reward. The action goes to the actuators
   * unclipped (MuJoCo clamps to ctrlrange; rewards see it as given, as in dm_control). Throws on a
   * wrong length, a non-finite entry, or stepping a finished episode.
   */
  step(action: Float32Array | Float64Array | readonly number[]): number {
    const { physics, task } = this;
    if (this.episodes === 0 || this.done) {
      throw new Error(`task '${task.name}': call reset() before step() (episode finished or not started)`);
    }
    if (action.length !== task.actionSize) {
      throw new Error(`task '${task.name}': action has ${action.length} entries, expected ${task.actionSize}`);
    }
    const ctrl = physics.ctrl;
    for (let i = 0; i < action.length; i++) {
      const value = action[i] as number;
      if (!Number.isFinite(value)) {
        throw new Error(`task '${task.name}': action[${i}] is ${value}; actions must be finite numbers`);
      }
      ctrl[i] = value;
    }
    physics.step(this.substeps);
    const reward = this.instance.reward(physics);
    if (!Number.isFinite(reward)) throw new Error(`task '${task.name}': reward() returned ${reward}`);
    this.instance.observe(physics, this.observation);
    this.checkObservation();
    this.stepInEpisode += 1;
    this.lastReward = reward;
    this.episodeReturn += reward;
    return reward;
  }

  private checkObservation(): void {
    const observation = this.observation;
    for (let i = 0; i < observation.length; i++) {
      if (!Number.isFinite(observation[i] as number)) {
        throw new Error(`task '${this.task.name}': observe() wrote ${observation[i]} at index ${i}`);
      }
    }
  }

  dispose(): void {
    this.physics.dispose();
  }
}
