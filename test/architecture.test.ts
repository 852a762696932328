/**
 * Dependency direction (docs/architecture.md): runtime/ owns the contracts; drivers/ never import
 * brain/ or each other; brain/ imports only runtime/contracts; sim/ knows nothing of the loop.
 * Only the CLI (runtime/cli), test/ and bench/ wire everything together.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(new URL('..', import.meta.url).pathname);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.ts$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Relative imports of a file, resolved to repo-relative paths. */
function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    // Sources import their siblings with the emitted '.js' suffix; compare against the '.ts' file.
    found.push(relative(root, resolve(file, '..', match[1]!)).replace(/\.js$/, '.ts'));
  }
  return found;
}

/** Returns the violated rule for an edge from `from` to `to`, or undefined when allowed. */
function violation(from: string, to: string): string | undefined {
  const area = (path: string) => path.split('/')[0]!;
  const fromArea = area(from);
  const toArea = area(to);
  if (from.startsWith('runtime/cli/')) return undefined; // composition root
  if (fromArea === 'brain' && toArea !== 'brain' && !to.startsWith('runtime/contracts')) {
    return 'brain/ may import only brain/ and runtime/contracts';
  }
  if (fromArea === 'drivers') {
    if (toArea === 'brain') return 'drivers/ must not import brain/';
    if (to.startsWith('drivers/driver')) return undefined;
    const driverOf = (path: string) => path.split('/')[1];
    if (toArea === 'drivers' && driverOf(from) !== driverOf(to)) {
      return 'drivers/ must not import each other';
    }
    if (toArea === 'sim' && !from.startsWith('drivers/sim/')) return 'only drivers/sim may import sim/';
    if (toArea === 'runtime' && !to.startsWith('runtime/contracts') && !to.startsWith('runtime/protocol')) {
      return 'drivers/ may import only the contracts from runtime/';
    }
  }
  if (fromArea === 'sim' && (toArea === 'runtime' || toArea === 'drivers' || toArea === 'brain')) {
    return 'sim/ is world code: no runtime/, drivers/ or brain/';
  }
  // runtime/config.ts composes each part's own config schema (a schema, not an implementation).
  if (from === 'runtime/config.ts' && to.endsWith('/config.ts')) return undefined;
  if (fromArea === 'runtime' && (toArea === 'brain' || toArea === 'drivers' || toArea === 'sim')) {
    return 'runtime/ (outside cli/) must not import implementations';
  }
  return undefined;
}

test('the rule catches a backward edge', () => {
  assert.is(violation('brain/step.ts', 'runtime/loop.ts'), 'brain/ may import only brain/ and runtime/contracts');
  assert.is(violation('drivers/zmq/driver.ts', 'drivers/ros2/driver.ts'), 'drivers/ must not import each other');
  assert.is(violation('brain/step.ts', 'runtime/contracts.ts'), undefined);
});

test('no source file imports against the dependency direction', () => {
  const problems: string[] = [];
  for (const top of ['runtime', 'drivers', 'brain', 'sim']) {
    let files: string[] = [];
    try {
      files = sourceFiles(join(root, top));
    } catch {
      continue;
    }
    for (const file of files) {
      const from = relative(root, file);
      for (const to of localImports(file)) {
        const rule = violation(from, to);
        if (rule) problems.push(`${from} -> ${to}: ${rule}`);
      }
    }
  }
  assert.equal(problems, []);
});

test.run();
