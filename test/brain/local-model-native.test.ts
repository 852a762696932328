/**
 * The kernel addon (native/kernels) against local-model.ts's own JavaScript: the same fits and
 * predictions to the bit, on trajectory-like data at the state sizes the brain meets (3 to 64
 * dimensions), every neighbour count from 1 to 16, and near-singular fits (repeated neighbours).
 * The brain's learning is only unchanged with the addon if every bit is.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalLinearModel } from '../../brain/local-model.js';
import { ExperienceStore } from '../../brain/memory/store.js';
import { createLocalModelKernels, fixedFloat32, fixedFloat64 } from '../../brain/native-kernels.js';
import { Rng } from '../../brain/rng.js';

const K = 16;
const ACTION_MIN = -1;
const ACTION_MAX = 1;

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
    const native = new LocalLinearModel(store, K, ACTION_MIN, ACTION_MAX, 0.1, 0.99, false, 'native');
    const javascript = new LocalLinearModel(store, K, ACTION_MIN, ACTION_MAX, 0.1, 0.99, false, 'javascript');
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

test('the comparison can fail: one neighbour more differs', () => {
  const rng = new Rng(11);
  const store = trajectoryStore(rng, 100, 16, 4);
  const native = new LocalLinearModel(store, K, ACTION_MIN, ACTION_MAX, 0.1, 0.99, false, 'native');
  const javascript = new LocalLinearModel(store, K, ACTION_MIN, ACTION_MAX, 0.1, 0.99, false, 'javascript');
  const query = store.context.slice(16 * 50, 16 * 51);
  const slots = new Int32Array(K);
  const distances = new Float32Array(K);
  nearest(store, query, K, slots, distances);
  native.fit(query, slots, distances, 8);
  javascript.fit(query, slots, distances, 9);
  const actions = new Float32Array([0.5, -0.5, 0.25, 0]);
  native.predictAtCentre(actions, 0);
  javascript.predictAtCentre(actions, 0);
  assert.is.not(bits(native.delta), bits(javascript.delta));
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

test.run();
