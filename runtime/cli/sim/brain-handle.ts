/**
 * The brain as `engram sim` runs it: the brain config's defaults, overlaid with the task's tuned
 * defaults (task-defaults.ts), the task's action bounds and the seed, then the user's --brain JSON.
 */
import { brainConfig } from '../../../brain/config.js';
import { createBrain } from '../../../brain/create.js';
import type { TaskDefinition } from '../../../sim/task.js';
import { systemClock } from '../../clock.js';
import { createLogger } from '../../log.js';
import type { ControllerHandle } from './learn.js';
import { runDefaults } from './task-defaults.js';

type Tree = { [key: string]: unknown };

/** Plain-object deep merge: `over` wins; arrays and values replace. */
export function deepMerge(base: Tree, over: Tree): Tree {
  const merged: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = merged[key];
    const bothObjects =
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      typeof current === 'object' &&
      current !== null &&
      !Array.isArray(current);
    merged[key] = bothObjects ? deepMerge(current as Tree, value as Tree) : value;
  }
  return merged;
}

/** The brain config a task runs with (validated; a bad key is an error naming it). */
export function simBrainConfig(task: TaskDefinition, seed: number, overrides: object) {
  const forTask: Tree = {
    seed,
    planner: { actionMin: task.actionLow, actionMax: task.actionHigh },
  };
  const merged = deepMerge(deepMerge(runDefaults(task.name).brain as Tree, forTask), overrides as Tree);
  return brainConfig(merged);
}

export async function makeBrainHandle(
  task: TaskDefinition,
  seed: number,
  overrides: object,
): Promise<ControllerHandle> {
  const config = simBrainConfig(task, seed, overrides);
  // errors only (ENGRAM_LOG_LEVEL overrides): log lines would tear through the live view
  const log = createLogger({ level: process.env.ENGRAM_LOG_LEVEL ?? 'error' });
  const brain = await createBrain(config, {
    observationSize: task.observationSize,
    actionSize: task.actionSize,
    clock: systemClock,
    log,
  });
  return {
    kind: 'brain',
    controller: brain,
    memorySize: () => brain.size(),
    settings: { brain: config },
    dispose: () => brain.dispose(),
  };
}
