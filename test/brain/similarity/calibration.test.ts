/**
 * Calibration: routes derived from measurements (edges at geometric means, no tensor for single
 * queries, duplicate routes collapsed), profileChoice, a tiny real measurement over all paths, and
 * `engram calibrate` end to end (profile file that parses, one JSON object as the last line).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type CalibrationResult,
  type CellTiming,
  defaultGrid,
  measurePaths,
  profileChoice,
  routesFrom,
} from '../../../brain/similarity/calibration.js';
import { loadProfileFile, profileSchema } from '../../../brain/similarity/profile.js';

const root = new URL('../../..', import.meta.url).pathname;

function cell(n: number, batch: number, linear: number, hnsw: number, tensor: number, hnswRecall = 1): CellTiming {
  const partial = { n, batch, linear, hnsw, tensor, hnswRecall };
  let best: CellTiming['best'] = 'linear';
  if (hnsw < linear && hnswRecall >= 0.95) best = 'hnsw';
  if (tensor < Math.min(linear, hnswRecall >= 0.95 ? hnsw : Number.POSITIVE_INFINITY)) best = 'tensor';
  return { ...partial, best };
}

test('routes follow the best path along N with geometric-mean edges', () => {
  const result: CalibrationResult = {
    grid: defaultGrid,
    tensorDevice: 'test',
    notes: [],
    hnswBuildMs: {},
    cells: [
      // B = 1: linear, then hnsw; tensor fastest at 1e3 but single queries never route to it
      cell(100, 1, 10, 20, 30),
      cell(1000, 1, 100, 15, 12),
      cell(10000, 1, 1000, 16, 500),
      // B = 4: identical shape to B = 1 -> collapsed
      cell(100, 4, 10, 20, 30),
      cell(1000, 4, 100, 15, 200),
      cell(10000, 4, 1000, 16, 500),
      // B = 64: tensor in the middle; HNSW at 1e4 fails recall, so tensor stays best there
      cell(100, 64, 10, 20, 30),
      cell(1000, 64, 900, 800, 100),
      cell(10000, 64, 9000, 50, 700, 0.8),
    ],
  };
  const routes = routesFrom(result);
  assert.equal(routes, [
    { minBatch: 1, bands: [{ path: 'linear', belowN: 316 }, { path: 'hnsw' }] },
    { minBatch: 64, bands: [{ path: 'linear', belowN: 316 }, { path: 'tensor' }] },
  ]);
  const profile = profileSchema.parse({ name: 'derived', routes });
  assert.is(profileChoice(profile, 200, 1), 'linear');
  assert.is(profileChoice(profile, 5000, 1), 'hnsw');
  assert.is(profileChoice(profile, 5000, 63), 'hnsw');
  assert.is(profileChoice(profile, 5000, 64), 'tensor');
  assert.is(profileChoice(profile, 100, 256), 'linear');
});

test('a tiny grid measures every path that initialises and names the fastest', async () => {
  const result = await measurePaths({ ...defaultGrid, sizes: [200], batches: [1, 8], dim: 16, k: 4, cellMs: 5 });
  assert.is(result.cells.length, 2);
  for (const c of result.cells) {
    assert.ok(c.linear! > 0 && c.hnsw! > 0, 'linear and hnsw timed');
    assert.ok(c.hnswRecall! >= 0.95, `recall ${c.hnswRecall}`);
    const times: Record<string, number | undefined> = { linear: c.linear, hnsw: c.hnsw, tensor: c.tensor };
    for (const t of Object.values(times)) if (t !== undefined) assert.ok(times[c.best]! <= t, 'best is the fastest');
  }
  if (result.tensorDevice === undefined) console.log(`tensor path not measured here: ${result.notes.join('; ')}`);
});

test('engram calibrate writes a valid profile and prints one JSON object last', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-calibrate-'));
  try {
    const out = join(dir, 'tiny.yaml');
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'runtime/cli/main.ts',
        'calibrate',
        '--sizes',
        '150,300',
        '--batches',
        '1,8',
        '--dim',
        '8',
        '--cell-ms',
        '5',
        '--out',
        out,
        '--json',
      ],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    assert.is(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    const json = JSON.parse(lines[lines.length - 1]!);
    assert.is(json.profile.name, 'tiny');
    const profile = loadProfileFile(out);
    assert.is(profile.name, 'tiny');
    assert.is(profile.routes[0]!.minBatch, 1);
    assert.is(profile.measurements!.length, 4);
    assert.ok(profile.machine!.cores >= 1);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'calibrate', '--batches', '0'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /--batches expects/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
