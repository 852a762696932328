/**
 * Where engram's own MJCF models live (sim/models/). Resolved from this file so that it works both
 * from source (sim/) and from the compiled build (dist/sim/, where tsc copies no XML).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [join(here, 'models'), join(here, '..', '..', 'sim', 'models')];

/** Absolute path of a built-in model file, e.g. builtinModel('pendulum.xml'). */
export function builtinModel(file: string): string {
  for (const folder of candidates) {
    const path = join(folder, file);
    if (existsSync(path)) return path;
  }
  throw new Error(`built-in model ${file} not found in ${candidates.join(' or ')}`);
}
