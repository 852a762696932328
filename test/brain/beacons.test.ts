/**
 * Beacons (planner.beacons): the best stored experiences, kept apart in context space, lend a
 * value that falls off with distance to states whose looked-up returns are flat, so the planner
 * heads towards the best states from where nothing it remembers scores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Beacons } from '../../brain/beacons.js';
import { periodicBrainSnapshots, restoreBrain } from '../../brain/memory/snapshot-brain.js';
import { ExperienceStore } from '../../brain/memory/store.js';
import { MockClock } from '../../runtime/clock.js';
import { brainBytesPerStep, lcg, recordingLog, setObservation, testBrain } from './helpers.js';

function experience(store: ExperienceStore, x: number, y: number, q: number): number {
  const slot = store.allocate(0);
  store.context[slot * 2] = x;
  store.context[slot * 2 + 1] = y;
  store.returnEstimate[slot] = q;
  return slot;
}

test('the set keeps the best experience per radius, replaces the weakest when full, skips evicted ones', () => {
  const store = new ExperienceStore({ capacity: 32, contextDim: 2, actionDim: 1, linksPerExperience: 0 });
  const beacons = new Beacons(store, 2, 0.5, 1);
  beacons.scale = 10;
  const zero = experience(store, 5, 5, 0);
  beacons.consider(zero);
  assert.is(beacons.count, 0, 'a return of 0 is no beacon');
  const a = experience(store, 0, 0, 4);
  beacons.consider(a);
  const nearA = experience(store, 0.5, 0, 6); // within the radius of a, better: takes its place
  beacons.consider(nearA);
  assert.is(beacons.count, 1);
  assert.is(beacons.slots[0], nearA);
  const worseNear = experience(store, 0, 0.5, 5); // within the radius, worse: ignored
  beacons.consider(worseNear);
  assert.is(beacons.count, 1);
  const far = experience(store, 3, 0, 2);
  beacons.consider(far);
  assert.is(beacons.count, 2);
  const better = experience(store, -3, 0, 3); // full: replaces the weakest (far, 2)
  beacons.consider(better);
  assert.equal(Array.from(beacons.slots).sort(), [nearA, better].sort());
  const weak = experience(store, 0, 3, 1); // full, weaker than every beacon: ignored
  beacons.consider(weak);
  assert.equal(Array.from(beacons.slots).sort(), [nearA, better].sort());

  // value at x: max over beacons of Q - slope * scale * distance (slope 0.5 x scale 10 = 5 per unit)
  const x = new Float32Array([0.5, 1]);
  beacons.measure(x);
  assert.ok(Math.abs(beacons.value - (6 - 5 * 1)) < 1e-5, `value ${beacons.value}`);
  x[0] = -3;
  x[1] = 0.2;
  beacons.measure(x);
  assert.ok(Math.abs(beacons.value - (3 - 5 * 0.2)) < 1e-5, `value ${beacons.value}`);

  // an evicted beacon no longer counts, and its place goes to the next offer
  store.release(nearA);
  x[0] = 0.5;
  x[1] = 1;
  beacons.measure(x);
  assert.ok(Math.abs(beacons.value - (3 - 5 * Math.hypot(3.5, 1))) < 1e-4, `value ${beacons.value}`);
  beacons.consider(weak);
  assert.equal(Array.from(beacons.slots).sort(), [better, weak].sort());
});

/**
 * A point on a line, x' = x + 0.05 a, reward 1 only at x > 0.8. With a short horizon and a short
 * discount, the looked-up returns at x < -0.2 are all about 0: without beacons the planner has no
 * direction there; with them it heads right.
 */
async function lineBrain(beacons: number) {
  const setup = await testBrain(
    {
      seed: 9,
      memory: { capacity: 6000 },
      normaliser: { warmupSteps: 0 },
      planner: { candidates: 32, horizon: 4, discount: 0.5, selection: 'best', beacons, beaconPath: true },
      exploration: { noise: 0, minNoise: 0, noveltyWeight: 0, errorWeight: 0 },
    },
    1,
    1,
  );
  const { brain, frame, action, times } = setup;
  const random = lcg(4);
  const applied = new Float32Array(1);
  const state = new Float64Array(1);
  for (let episode = 0; episode < 60; episode++) {
    state[0] = 2 * random() - 1;
    let reward = 0;
    for (let t = 0; t < 60; t++) {
      setObservation(frame, state, reward, t === 0);
      brain.step(frame, Number.POSITIVE_INFINITY, action, times);
      applied[0] = 2 * random() - 1; // a random walk, so both brains store the same experiences
      brain.recordAppliedAction(applied);
      brain.maintain(Number.POSITIVE_INFINITY);
      state[0] = Math.max(-1, Math.min(1, state[0]! + 0.05 * applied[0]!));
      reward = state[0]! > 0.8 ? 1 : 0;
    }
  }
  brain.setExploration(false);
  const actions: number[] = [];
  for (const start of [-0.9, -0.7, -0.5, -0.3]) {
    state[0] = start;
    setObservation(frame, state, 0, true);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    actions.push(action[0]!);
  }
  return { brain, actions };
}

test('with beacons the planner heads for the best states from where the returns are flat', async () => {
  const plain = await lineBrain(0);
  const guided = await lineBrain(4);
  assert.is(plain.brain.beacons, null);
  const beacons = guided.brain.beacons!;
  assert.ok(beacons.count > 0, 'beacons found');
  for (let b = 0; b < beacons.count; b++) {
    const x = guided.brain.store.context[beacons.slots[b]!]!;
    assert.ok(x > 0.3, `beacon at ${x.toFixed(2)}, the reward is at x > 0.8`);
  }
  for (const a of guided.actions) assert.ok(a > 0.5, `guided actions ${guided.actions.map((v) => v.toFixed(2))}`);
  // without beacons, nothing it remembers there says which way: not every choice is a firm push right
  assert.ok(
    plain.actions.some((a) => a < 0.5),
    `plain actions ${plain.actions.map((v) => v.toFixed(2))}`,
  );
  plain.brain.dispose();
  guided.brain.dispose();
});

test('a restored brain picks its beacons again from the restored experiences', async () => {
  const { brain } = await lineBrain(4);
  const dir = mkdtempSync(join(tmpdir(), 'engram-beacons-'));
  const path = join(dir, 'snapshot.bin');
  const snapshots = periodicBrainSnapshots(brain, {
    path,
    everyNs: 60e9,
    clock: new MockClock(0, 0),
    log: recordingLog(),
    configHash: 'beacons',
  });
  assert.ok((await snapshots.saveNow()).ok);
  const { brain: restored } = await testBrain(
    {
      seed: 9,
      memory: { capacity: 6000 },
      normaliser: { warmupSteps: 0 },
      planner: { candidates: 32, horizon: 4, discount: 0.5, selection: 'best', beacons: 4, beaconPath: true },
    },
    1,
    1,
  );
  assert.is(restored.beacons!.count, 0);
  assert.is(restoreBrain(restored, { path, log: recordingLog() }).kind, 'restored');
  const set = restored.beacons!;
  assert.ok(set.count > 0, 'beacons chosen again');
  assert.is(set.scale, brain.returnScale);
  // the best return in memory is always a beacon (nothing can displace it), in both brains
  const store = restored.store;
  let best = -1;
  for (let slot = 0; slot < store.capacity; slot++) {
    if (store.alive[slot] === 1 && (best < 0 || store.returnEstimate[slot]! > store.returnEstimate[best]!)) best = slot;
  }
  assert.ok(Array.from(set.slots.subarray(0, set.count)).includes(best), 'the best experience is a beacon');
  assert.ok(Array.from(brain.beacons!.slots.subarray(0, brain.beacons!.count)).includes(best));
  rmSync(dir, { recursive: true });
  brain.dispose();
  restored.dispose();
});

test('with beacons on, a step + maintain still allocates under 320 bytes (as allocation.test.ts)', async () => {
  const { perStep } = await brainBytesPerStep({ planner: { beacons: 8, beaconPath: true } }, 8);
  if (perStep === undefined) return;
  assert.ok(perStep < 320, `${perStep.toFixed(0)} bytes per step`);
});

test.run();
