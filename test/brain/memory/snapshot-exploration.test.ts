/**
 * Deep exploration's state (exploration.intrinsicWeight > 0) through a snapshot: the intrinsic
 * returns and the visit counts come back exactly; a snapshot without them restores the rest and
 * says that they start from zero.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../../brain/brain.js';
import { configHash } from '../../../brain/memory/snapshot.js';
import {
  brainSnapshotSections,
  EXPLORATION_SECTION,
  periodicBrainSnapshots,
  restoreBrain,
} from '../../../brain/memory/snapshot-brain.js';
import { MockClock } from '../../../runtime/clock.js';
import { setObservation, testBrain } from '../helpers.js';

type TestBrain = Awaited<ReturnType<typeof testBrain>>;

import { CapturingLog, storesEqual } from './snapshot-helpers.js';

const exploration = suite('exploration snapshot');

const deep = {
  seed: 3,
  memory: { capacity: 50_000 },
  normaliser: { warmupSteps: 0 },
  planner: { candidates: 8, horizon: 4, sweepUsedSlots: true },
  exploration: { intrinsicWeight: 5, noveltyRadius: 0.5 },
};

/** Steps `brain` along a wandering 2-D path (episodes of 100) with exploration on. */
function wander({ brain, frame, action, times }: TestBrain, steps: number): void {
  const state = new Float64Array(2);
  for (let t = 0; t < steps; t++) {
    state[0] = 3 * Math.sin(0.011 * t) + Math.cos(0.3 * t);
    state[1] = 2 * Math.cos(0.007 * t) + Math.sin(0.3 * t);
    setObservation(frame, state, 0, t % 100 === 0);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    brain.maintain(Number.POSITIVE_INFINITY);
  }
}

async function save(brain: Brain, path: string, config: object): Promise<void> {
  const snapshots = periodicBrainSnapshots(brain, {
    path,
    everyNs: 60e9,
    clock: new MockClock(0, 0),
    log: new CapturingLog(),
    configHash: configHash(config),
  });
  assert.ok((await snapshots.saveNow()).ok);
}

exploration('intrinsic returns and visit counts restore exactly (section streamed in chunks)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-exploration-snapshot-'));
  mkdirSync(join(dir, 'memory'));
  const path = join(dir, 'memory', 'snapshot.bin');
  const original = await testBrain(deep, 2, 1);
  wander(original, 3000);
  const visited = original.brain.visitCounts.reduce((sum, count) => sum + count, 0);
  assert.ok(visited > 1000, `visits counted while exploring: ${visited}`);
  assert.ok(original.brain.intrinsicValue.some((value) => value > 0));
  await save(original.brain, path, deep);

  const fresh = await testBrain(deep, 2, 1);
  // junk that a restore must overwrite, in slots beyond the saved experiences too
  fresh.brain.intrinsicValue.fill(9);
  fresh.brain.visitCounts.fill(7);
  const log = new CapturingLog();
  assert.is(restoreBrain(fresh.brain, { path, log }).kind, 'restored');
  assert.equal(storesEqual(original.brain.store, fresh.brain.store), []);
  assert.equal(fresh.brain.intrinsicValue, original.brain.intrinsicValue);
  assert.equal(fresh.brain.visitCounts, original.brain.visitCounts);
  assert.not.ok(
    log.lines.some((line) => line.message.includes('not restored')),
    'nothing was skipped',
  );
  rmSync(dir, { recursive: true });
});

exploration('a snapshot without the section restores, and the log says exploration starts over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-exploration-snapshot-'));
  mkdirSync(join(dir, 'memory'));
  const path = join(dir, 'memory', 'snapshot.bin');
  const plainConfig = { ...deep, exploration: {} };
  const plain = await testBrain(plainConfig, 2, 1);
  assert.not.ok(
    brainSnapshotSections(plain.brain).some((section) => section.name === EXPLORATION_SECTION),
    'a brain without deep exploration has no such section',
  );
  wander(plain, 500);
  await save(plain.brain, path, plainConfig);

  const deepBrain = await testBrain(deep, 2, 1);
  deepBrain.brain.intrinsicValue.fill(9);
  deepBrain.brain.visitCounts.fill(7);
  const log = new CapturingLog();
  assert.is(restoreBrain(deepBrain.brain, { path, log }).kind, 'restored');
  assert.equal(storesEqual(plain.brain.store, deepBrain.brain.store), []);
  assert.ok(deepBrain.brain.intrinsicValue.every((value) => value === 0));
  assert.ok(deepBrain.brain.visitCounts.every((count) => count === 0));
  const warning = log.lines.find((line) => line.level === 'warn' && line.message.includes('start from zero'));
  assert.ok(warning, 'the skipped section is named in the log');
  rmSync(dir, { recursive: true });
});

exploration.run();
