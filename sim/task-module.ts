/**
 * Finding a task: a built-in name, or a task module file (a user's own robot model) loaded by
 * dynamic import. For a .ts file, tsx's ESM loader is registered first, so a user needs no build.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type TaskDefinition, validateTaskDefinition } from './task.js';
import { builtinTaskNames, builtinTasks } from './tasks/index.js';

let typeScriptLoader: Promise<unknown> | undefined;

/** Loads a task module (.ts, .mts, .js, .mjs): its default export or its export named `task`. */
export async function loadTaskModule(path: string): Promise<TaskDefinition> {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new Error(`task module not found: ${absolute}`);
  if (/\.(ts|mts|cts)$/.test(absolute)) {
    typeScriptLoader ??= import('tsx/esm/api').then((tsx) => tsx.register());
    await typeScriptLoader;
  }
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`could not import task module ${absolute}: ${(error as Error).message}`);
  }
  return validateTaskDefinition(loaded.default ?? loaded.task, absolute);
}

/** A built-in task by name (throws listing the names when unknown). */
export function builtinTask(name: string): TaskDefinition {
  const task = builtinTasks[name];
  if (!task) throw new Error(`unknown task '${name}'; built-in tasks: ${builtinTaskNames.join(', ')}`);
  return task;
}

/** A built-in task name, or a path to a task module (anything with a '/' or a .ts/.js suffix). */
export async function resolveTask(nameOrPath: string): Promise<TaskDefinition> {
  if (builtinTasks[nameOrPath]) return builtinTask(nameOrPath);
  if (nameOrPath.includes('/') || /\.(ts|mts|cts|js|mjs|cjs)$/.test(nameOrPath)) return loadTaskModule(nameOrPath);
  return builtinTask(nameOrPath);
}
