/**
 * The task interface: everything engram needs to know about a simulated task, in one small
 * module. The five built-in tasks (sim/tasks/) use exactly this interface, and so does a user's
 * own task loaded with `engram sim --task-module <file>` (docs/tasks.md has a worked example).
 *
 * A task module's default export (or its export named `task`) is a `TaskDefinition`. `bind` runs
 * once after the model is loaded: it looks names up and returns a `TaskInstance` whose methods run
 * every control step. Those methods must not allocate: read state through `physics` (qpos, xmat,
 * geomXpos, ...) and write observations into the array they are given.
 */
import type { Physics } from './mujoco.js';
import type { Rng } from './random.js';

export interface TaskDefinition {
  /** short name used for runs/<name>/ and reports, e.g. 'pendulum_swingup' */
  readonly name: string;
  /** one line for listings */
  readonly description: string;
  /** path to the MJCF file; its folder is copied into MuJoCo's file system, so includes resolve */
  readonly modelFile: string;
  /** physics timestep (s); must equal the model's <option timestep> (checked at load) */
  readonly physicsTimestep: number;
  /** control timestep (s); a whole multiple of the physics timestep */
  readonly controlTimestep: number;
  /** control steps per episode (the suite uses 1000) */
  readonly episodeSteps: number;
  /** length of the observation vector */
  readonly observationSize: number;
  /** names of the observation entries (for reports and the wire protocol), observationSize long */
  readonly observationNames: readonly string[];
  /** number of actuators driven by the action (must equal the model's nu) */
  readonly actionSize: number;
  /** inclusive bounds of every action entry (the actuators' ctrlrange) */
  readonly actionLow: number;
  readonly actionHigh: number;
  /** Look names up in the loaded model once; returns the per-step functions. */
  bind(physics: Physics): TaskInstance;
}

export interface TaskInstance {
  /**
   * Set the episode's initial state from `rng` (qpos, qvel, and model parameters such as a target
   * position). Called after physics.reset(); the environment calls physics.forward() afterwards.
   */
  initializeEpisode(physics: Physics, rng: Rng): void;
  /** Write the observation of the current state into `out` (observationSize long). */
  observe(physics: Physics, out: Float64Array): void;
  /** Reward of the transition that led to the current state; physics.ctrl holds the action applied. */
  reward(physics: Physics): number;
}

/** Checks a value claimed to be a task definition; throws an error naming every problem. */
export function validateTaskDefinition(value: unknown, source: string): TaskDefinition {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null) {
    throw new Error(`${source}: a task module must export a task definition object (default export or 'task')`);
  }
  const task = value as Record<string, unknown>;
  const needString = (key: string) => {
    if (typeof task[key] !== 'string' || task[key] === '') problems.push(`'${key}' must be a non-empty string`);
  };
  const needPositive = (key: string, integer: boolean) => {
    const v = task[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      problems.push(`'${key}' must be a positive ${integer ? 'integer' : 'number'}, got ${String(v)}`);
    }
  };
  needString('name');
  needString('description');
  needString('modelFile');
  needPositive('physicsTimestep', false);
  needPositive('controlTimestep', false);
  needPositive('episodeSteps', true);
  needPositive('observationSize', true);
  needPositive('actionSize', true);
  if (
    typeof task.actionLow !== 'number' ||
    typeof task.actionHigh !== 'number' ||
    !(task.actionLow < task.actionHigh)
  ) {
    problems.push(`'actionLow' and 'actionHigh' must be numbers with actionLow < actionHigh`);
  }
  if (!Array.isArray(task.observationNames) || task.observationNames.length !== task.observationSize) {
    problems.push(`'observationNames' must be an array of observationSize (${String(task.observationSize)}) names`);
  }
  if (typeof task.bind !== 'function') problems.push(`'bind' must be a function (physics) => TaskInstance`);
  if (typeof task.controlTimestep === 'number' && typeof task.physicsTimestep === 'number') {
    const ratio = task.controlTimestep / task.physicsTimestep;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9 || Math.round(ratio) < 1) {
      problems.push(
        `'controlTimestep' (${task.controlTimestep}) must be a whole multiple of 'physicsTimestep' (${task.physicsTimestep})`,
      );
    }
  }
  if (problems.length > 0) throw new Error(`${source}: bad task definition:\n  - ${problems.join('\n  - ')}`);
  return value as TaskDefinition;
}

/** Checks what `bind` returned. */
export function validateTaskInstance(value: unknown, source: string): TaskInstance {
  const instance = value as Record<string, unknown> | null;
  const missing: string[] = [];
  for (const key of ['initializeEpisode', 'observe', 'reward']) {
    if (typeof instance?.[key] !== 'function') missing.push(key);
  }
  if (missing.length > 0) throw new Error(`${source}: bind() must return an object with ${missing.join(', ')}`);
  return value as TaskInstance;
}
