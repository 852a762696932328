/**
 * A whole learned brain through a snapshot: experiences, normaliser statistics and progress come
 * back exactly, the index is rebuilt, and the restored brain predicts what the original predicted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../../brain/brain.js';
import { configHash } from '../../../brain/memory/snapshot.js';
import { periodicBrainSnapshots, restoreBrain } from '../../../brain/memory/snapshot-brain.js';
import { composeLoop } from '../../../runtime/cli/replay.js';
import { runWorld, testConfig, worldClock } from '../../runtime/replay-fixtures.js';
import { CapturingLog, storesEqual } from './snapshot-helpers.js';

const brainSnapshot = suite('brain snapshot');

brainSnapshot('a learned brain restores exactly and predicts as before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-brain-snapshot-'));
  const path = join(dir, 'memory', 'snapshot.bin');
  const config = testConfig();
  const run = await runWorld({ config, cycles: 500, log: new CapturingLog() });
  const original = run.loop.controller as Brain;
  assert.ok(original.store.size() > 200);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'memory'));
  const snapshots = periodicBrainSnapshots(original, {
    path,
    everyNs: 60e9,
    clock: run.clock,
    log: new CapturingLog(),
    configHash: configHash(config.brain),
  });
  const saved = await snapshots.saveNow();
  assert.ok(saved.ok);

  const fresh = await composeLoop({
    config,
    clock: worldClock(),
    driver: run.world,
    log: new CapturingLog(),
    index: 'linear',
  });
  const restored = fresh.controller as Brain;
  const log = new CapturingLog();
  const outcome = restoreBrain(restored, { path, log, configHash: configHash(config.brain) });
  assert.is(outcome.kind, 'restored');
  assert.equal(storesEqual(original.store, restored.store), []);
  assert.equal(Array.from(restored.normaliser.mean), Array.from(original.normaliser.mean));
  assert.equal(Array.from(restored.normaliser.m2), Array.from(original.normaliser.m2));
  assert.is(restored.normaliser.count, original.normaliser.count);
  assert.is(restored.counters.steps, original.counters.steps);
  assert.is(restored.index.size(), original.store.size(), 'the index holds every restored experience');
  assert.ok(log.lines.some((line) => line.message.includes('index rebuilt')));

  const observation = new Float32Array([Math.cos(1), Math.sin(1), 0.2]);
  const action = new Float32Array([0.5]);
  const before = new Float32Array(3);
  const after = new Float32Array(3);
  const confidenceBefore = original.predictOutcome(observation, action, before);
  const confidenceAfter = restored.predictOutcome(observation, action, after);
  assert.equal(Array.from(after), Array.from(before), 'the restored brain predicts what the original did');
  // neighbours may be summed in another order (the index is rebuilt in slot order): rounding only
  assert.ok(Math.abs(confidenceAfter - confidenceBefore) < 1e-6, `${confidenceAfter} vs ${confidenceBefore}`);

  const other = await composeLoop({
    config: testConfig({ seed: 7 }),
    clock: worldClock(),
    driver: run.world,
    log: new CapturingLog(),
  });
  const mismatchLog = new CapturingLog();
  restoreBrain(other.controller as Brain, { path, log: mismatchLog, configHash: configHash({ different: true }) });
  assert.ok(
    mismatchLog.lines.some((line) => line.level === 'warn' && line.message.includes('different configuration')),
    'a different config hash is logged',
  );
  rmSync(dir, { recursive: true });
});

brainSnapshot.run();
