/**
 * The controllers `engram sim` can run: the brain (with per-task defaults), or a baseline.
 */
import type { TaskDefinition } from '../../../sim/task.js';
import { RandomController, ZeroController } from './baselines.js';
import type { ControllerHandle } from './learn.js';

export const controllerKinds = ['brain', 'random', 'zero'] as const;
export type ControllerKind = (typeof controllerKinds)[number];

export async function makeControllerHandle(
  kind: ControllerKind,
  task: TaskDefinition,
  seed: number,
  brainOverrides: object,
): Promise<ControllerHandle> {
  if (kind === 'random') {
    return {
      kind,
      controller: new RandomController(task.observationSize, task.actionSize, task.actionLow, task.actionHigh, seed),
      memorySize: () => 0,
      settings: {},
    };
  }
  if (kind === 'zero') {
    return {
      kind,
      controller: new ZeroController(task.observationSize, task.actionSize),
      memorySize: () => 0,
      settings: {},
    };
  }
  const { makeBrainHandle } = await import('./brain-handle.js');
  return makeBrainHandle(task, seed, brainOverrides);
}
