/** The built-in tasks, by name. Each is an ordinary task module, the same interface a user writes. */
import type { TaskDefinition } from '../task.js';
import { task as cartpoleBalance } from './cartpole_balance.js';
import { task as cartpoleSwingup } from './cartpole_swingup.js';
import { task as pendulumSwingup } from './pendulum_swingup.js';
import { task as pointMassEasy } from './point_mass_easy.js';
import { task as reacherEasy } from './reacher_easy.js';

export const builtinTasks: Readonly<Record<string, TaskDefinition>> = {
  pendulum_swingup: pendulumSwingup,
  cartpole_swingup: cartpoleSwingup,
  cartpole_balance: cartpoleBalance,
  point_mass_easy: pointMassEasy,
  reacher_easy: reacherEasy,
};

export const builtinTaskNames: readonly string[] = Object.keys(builtinTasks);
