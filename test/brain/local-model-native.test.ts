/**
 * The kernel addon (native/kernels) against the JavaScript it replaces: local-model.ts's fits and
 * predictions to the bit, on trajectory-like data at the state sizes the brain meets (3 to 64
 * dimensions), every neighbour count from 1 to 16, and near-singular fits (repeated neighbours);
 * the walk kernel against keepNearest's rules; and whole brains, one on each path, taking the same
 * actions step for step. The brain's learning is only unchanged with the addon if every bit is.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalLinearModel } from '../../brain/local-model.js';
import { ExperienceStore } from '../../brain/memory/store.js';
import { createLocalModelKernels, fixedFloat32, fixedFloat64, loadNearestRows } from '../../brain/native-kernels.js';
import { Rng } from '../../brain/rng.js';
import { lcg, recordingLog, setObservation, testBrain } from './helpers.js';

const K = 16;
// not symmetric about zero: the action terms' shift and scale both take part
const ACTION_MIN = -0.3;
const ACTION_MAX = 2.7;

test('make build builds the kernel addon, and a local model uses it by default', () => {
  const store = new ExperienceStore({ capacity: 1, contextDim: 1, actionDim: 1, linksPerExperience: 0 });
  const model = new LocalLinearModel(store, 1, -1, 1, 0.1, 0.99);
  assert.is(model.kernelsUnavailable, null);
  assert.is(model.kernelPath, 'native');
});

/** A store of `capacity` experiences along a smooth random trajectory (neighbours are close, as in the brain). */
function trajectoryStore(rng: Rng, capacity: number, dim: number, actionDim: number): ExperienceStore {
  const store = new ExperienceStore({ capacity, contextDim: dim, actionDim, linksPerExperience: 0 });
  const state = new Float64Array(dim);
  for (let s = 0; s < capacity; s++) {
    const slot = store.allocate(s);
    let reward = 0;
    for (let i = 0; i < dim; i++) {
      const step = 0.05 * (rng.uniform() - 0.5);
      store.context[slot * dim + i] = state[i]!;
      store.outcome[slot * dim + i] = step;
      state[i] = state[i]! + step;
      reward += state[i]! * (i % 3 === 0 ? 1 : -0.5);
    }
    for (let a = 0; a < actionDim; a++) store.action[slot * actionDim + a] = rng.range(ACTION_MIN, ACTION_MAX);
    store.reward[slot] = reward;
    store.returnEstimate[slot] = reward * 3 + rng.uniform();
  }
  return store;
}

function bits(array: Float32Array | Float64Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('hex');
}

/** Neighbours of `query` by exact squared distance (the brain's lookup), nearest first. */
function nearest(
  store: ExperienceStore,
  query: Float32Array,
  k: number,
  slots: Int32Array,
  distances: Float32Array,
): void {
  const dim = store.contextDim;
  const order = Array.from({ length: store.size() }, (_, slot) => {
    let d = 0;
    for (let i = 0; i < dim; i++) d += (store.context[slot * dim + i]! - query[i]!) ** 2;
    return { slot, d };
  }).sort((a, b) => a.d - b.d);
  for (let j = 0; j < k; j++) {
    slots[j] = order[j]!.slot;
    distances[j] = order[j]!.d;
  }
}

test('native fit and predict give the JavaScript results bit for bit', () => {
  const rng = new Rng(7);
  let compared = 0;
  for (const [dim, actionDim] of [
    [3, 1],
    [16, 4],
    [64, 4],
  ] as const) {
    const store = trajectoryStore(rng, 400, dim, actionDim);
    // the quadratic value kernel at 16 dims: the value fit reads every array the native fit wrote
    const quadratic = dim === 16;
    const native = new LocalLinearModel(store, K, ACTION_MIN, ACTION_MAX, 0.1, 0.99, quadratic, 'native');
    const javascript = new LocalLinearModel(store, K, ACTION_MIN, ACTION_MAX, 0.1, 0.99, quadratic, 'javascript');
    assert.is(native.kernelPath, 'native');
    assert.is(javascript.kernelPath, 'javascript');
    const query = new Float32Array(dim);
    const moved = new Float32Array(dim);
    const actions = new Float32Array(3 * actionDim);
    const slots = new Int32Array(K);
    const distances = new Float32Array(K);
    for (let trial = 0; trial < 60; trial++) {
      const from = rng.below(store.size());
      for (let i = 0; i < dim; i++) query[i] = store.context[from * dim + i]! + 0.01 * (rng.uniform() - 0.5);
      nearest(store, query, K, slots, distances);
      const count = 1 + (trial % K);
      if (trial % 7 === 3) {
        // near-singular: the same experience several times over
        for (let j = 1; j < count; j++) {
          slots[j] = slots[0]!;
          distances[j] = distances[0]!;
        }
      }
      for (const model of [native, javascript]) {
        model.bandwidth = 0.02 + trial * 1e-3;
        model.fit(query, slots, distances, count);
      }
      for (let i = 0; i < dim; i++) moved[i] = query[i]! + 0.02 * (rng.uniform() - 0.5);
      for (let a = 0; a < actions.length; a++) actions[a] = rng.range(ACTION_MIN, ACTION_MAX);
      for (let offset = 0; offset < actions.length; offset += actionDim) {
        native.predictAtCentre(actions, offset);
        javascript.predictAtCentre(actions, offset);
        assert.is(bits(native.delta), bits(javascript.delta), `delta at the centre, dim ${dim}, k ${count}`);
        assert.is(Object.is(native.reward, javascript.reward), true, `reward at the centre, dim ${dim}, k ${count}`);
        native.predict(moved, actions, offset);
        javascript.predict(moved, actions, offset);
        assert.is(bits(native.delta), bits(javascript.delta), `delta, dim ${dim}, k ${count}`);
        assert.is(Object.is(native.reward, javascript.reward), true, `reward, dim ${dim}, k ${count}`);
        compared++;
      }
      // the value fit and rollouts read what the fit wrote: equal only if every array is
      native.evaluateValue(moved);
      javascript.evaluateValue(moved);
      assert.is(Object.is(native.lastValue, javascript.lastValue), true, `value, dim ${dim}, k ${count}`);
      native.rollout(actions, 3, 0.99);
      javascript.rollout(actions, 3, 0.99);
      assert.is(Object.is(native.rolloutScore, javascript.rolloutScore), true, `rollout, dim ${dim}, k ${count}`);
    }
  }
  assert.is(compared, 3 * 60 * 3);
});

test('the addon refuses arrays too short and slots outside the store', () => {
  const dim = 4;
  const arrays = {
    stateFeatures: fixedFloat64(K * dim),
    actionFeatures: fixedFloat64(K),
    nextFeatures: fixedFloat64(K * dim),
    alpha: fixedFloat64(K * (dim + 1)),
    beta: fixedFloat64(K),
    gram: fixedFloat64(K * K),
    kernelWeights: fixedFloat64(K),
    centre: fixedFloat64(dim),
    dots: fixedFloat64(K),
    results: fixedFloat64(5),
    delta: fixedFloat32(dim),
  };
  const shape = { dim, actionDim: 1, maxK: K, actionMid: 0, inverseActionScale: 1, ridge: 0.1, discount: 0.99 };
  assert.throws(
    () => createLocalModelKernels(shape, { ...arrays, alpha: fixedFloat64(K * dim) }),
    /alpha has 64 elements, needs 80/,
  );
  const kernels = createLocalModelKernels(shape, arrays);
  if (kernels instanceof Error) throw kernels;
  const store = new ExperienceStore({ capacity: 10, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const fit = (slot: number, k: number) =>
    kernels.fit(store.context, store.outcome, store.action, store.reward, store.returnEstimate, Int32Array.of(slot), k);
  assert.throws(() => fit(10, 1), /slot 10 is outside the store's arrays/);
  assert.throws(() => fit(-1, 1), /slot -1 is outside the store's arrays/);
  assert.throws(() => fit(0, 2), /k 2 must be 1\.\.16 and at most slots' length/);
  fit(9, 1);
  assert.throws(() => kernels.predict(new Float32Array(2), new Float32Array(1), 0, 1), /x has 2 elements, needs 4/);
  assert.throws(() => kernels.predict(null, new Float32Array(1), 1, 1), /offset \+ actionDim must fit/);
  assert.throws(
    () => kernels.predict(null, new Float64Array(1) as unknown as Float32Array, 0, 1),
    /actions must be a Float32Array/,
  );
});

/** keepNearest's rules (plan.ts), written plainly: each row in order into a sorted set, stored as float. */
function nearestReference(
  rows: Float32Array,
  count: number,
  dim: number,
  x: Float32Array,
  rowSlots: Int32Array,
  capacity: number,
): { slots: number[]; distances: number[] } {
  const slots: number[] = [];
  const distances: number[] = [];
  for (let c = 0; c < count; c++) {
    let d = 0;
    for (let i = 0; i < dim; i++) {
      const e = rows[c * dim + i]! - x[i]!;
      d += e * e;
    }
    if (d >= (slots.length === capacity ? distances[capacity - 1]! : Number.POSITIVE_INFINITY)) continue;
    let at = slots.length < capacity ? slots.length : capacity - 1;
    while (at > 0 && distances[at - 1]! > d) at--;
    if (slots.length === capacity) {
      slots.pop();
      distances.pop();
    }
    slots.splice(at, 0, rowSlots[c]!);
    distances.splice(at, 0, Math.fround(d));
  }
  return { slots, distances };
}

test('the walk kernel keeps the nearest rows in keepNearest order: ties, a full set, infinities', () => {
  const nearestRows = loadNearestRows();
  if (nearestRows === null) throw new Error('make build builds native/kernels');
  const random = lcg(5);
  for (const dim of [1, 3, 16, 64]) {
    for (const count of [0, 1, 3, 4, 5, 17, 90]) {
      for (const capacity of [1, 8, 16]) {
        for (const values of ['coarse', 'fine', 'infinite'] as const) {
          const rows = new Float32Array(count * dim);
          // coarse: many rows at equal distances (the tie order); fine: sums that round, in order;
          // infinite: some rows infinitely far, which walkFirst turns away even before the set is full
          const value = () => (values === 'coarse' ? Math.round(random() * 4) / 4 : random() * 2 - 1);
          for (let q = 0; q < rows.length; q++) rows[q] = value();
          if (values === 'infinite') for (let c = 0; c < count; c += 3) rows[c * dim] = Number.POSITIVE_INFINITY;
          const x = new Float32Array(dim).map(value);
          const rowSlots = Int32Array.from({ length: count }, (_, c) => 1000 + c);
          const outSlots = new Int32Array(capacity);
          const outDistances = new Float32Array(capacity);
          const kept = nearestRows(rows, count, dim, x, rowSlots, outSlots, outDistances);
          const expected = nearestReference(rows, count, dim, x, rowSlots, capacity);
          const where = `dim ${dim}, count ${count}, capacity ${capacity}, ${values}`;
          assert.is(kept, expected.slots.length, where);
          assert.equal(Array.from(outSlots.subarray(0, kept)), expected.slots, where);
          assert.equal(Array.from(outDistances.subarray(0, kept)), expected.distances, where);
        }
      }
    }
  }
  assert.throws(
    () =>
      nearestRows(
        new Float32Array(7),
        2,
        4,
        new Float32Array(4),
        new Int32Array(2),
        new Int32Array(1),
        new Float32Array(1),
      ),
    /rows must hold count x dim floats/,
  );
});

test('a brain on the kernel addon takes the same actions as one on JavaScript, step for step', async () => {
  for (const [stateDim, actionDim] of [
    [16, 4],
    [64, 2],
  ] as const) {
    const partial = {
      seed: 3,
      memory: { capacity: 300 },
      planner: { candidates: 16, horizon: 3, actionMin: ACTION_MIN, actionMax: ACTION_MAX },
      normaliser: { warmupSteps: 50 },
    };
    const log = recordingLog();
    const native = await testBrain(partial, stateDim, actionDim, { kernels: 'native', log });
    const javascript = await testBrain(partial, stateDim, actionDim, { kernels: 'javascript', log });
    assert.is(native.brain.local.kernelPath, 'native');
    assert.is(javascript.brain.local.kernelPath, 'javascript');
    assert.equal(log.lines, [], 'nothing to warn about: the addon is built, and JavaScript was asked for');
    const random = lcg(9);
    const state = new Float64Array(stateDim);
    for (let step = 0; step < 800; step++) {
      const start = step % 200 === 0;
      if (start) state.fill(0);
      const reward = state[0]! - 0.1 * Math.abs(state[1]!);
      for (const run of [native, javascript]) {
        setObservation(run.frame, state, reward, start);
        run.brain.step(run.frame, Number.POSITIVE_INFINITY, run.action, run.times);
      }
      assert.is(bits(native.action), bits(javascript.action), `${stateDim}+${actionDim}, step ${step}`);
      for (const run of [native, javascript]) run.brain.maintain(Number.POSITIVE_INFINITY);
      for (let i = 0; i < stateDim; i++) {
        state[i] = 0.95 * state[i]! + 0.1 * native.action[i % actionDim]! + 0.02 * (random() - 0.5);
      }
    }
    assert.ok(native.brain.size() >= 299, 'memory filled and evicting');
  }
});

test.run();
