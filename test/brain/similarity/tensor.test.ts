/**
 * Tensor-path residency: between an upsert and the slack-time upload the device copy is stale, yet
 * every search stays exact (stale columns are answered on the CPU), also past the stale-list limit;
 * maintain() uploads after a short delay (at once under pressure) within its deadline, and the
 * backend reports itself synced afterwards.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ExperienceStore } from '../../../brain/memory/store.js';
import { LinearBackend } from '../../../brain/similarity/linear.js';
import { trajectoryVectors } from '../../../brain/similarity/synthetic.js';
import { type TensorBackend, tensorFactories } from '../../../brain/similarity/tensor.js';
import { MockClock } from '../../../runtime/clock.js';

const dim = 16;
const wasm = tensorFactories().find((f) => f.name === 'tensor-wasm')!;

function sameResults(a: LinearBackend, b: TensorBackend, queries: Float32Array, batch: number, label: string) {
  const k = 10;
  const slotsA = new Int32Array(batch * k);
  const distA = new Float32Array(batch * k);
  const countsA = new Int32Array(batch);
  const slotsB = new Int32Array(batch * k);
  const distB = new Float32Array(batch * k);
  const countsB = new Int32Array(batch);
  a.searchBatch(queries, batch, k, slotsA, distA, countsA);
  b.searchBatch(queries, batch, k, slotsB, distB, countsB);
  assert.equal(Array.from(countsB), Array.from(countsA), `${label}: counts`);
  for (let i = 0; i < batch * k; i++) {
    assert.ok(Math.abs(distA[i]! - distB[i]!) <= 1e-6 * Math.max(1, distA[i]!), `${label}: distance ${i}`);
  }
}

test('searches stay exact while the device copy is stale, and maintain syncs it', async () => {
  const capacity = 12_000;
  const store = new ExperienceStore({ capacity, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const created = await wasm.create(store);
  if (created instanceof Error) {
    console.log(`skipped: tensor-wasm unavailable here (${created.message})`);
    return;
  }
  const tensor = created as TensorBackend;
  const linear = new LinearBackend(store);
  const data = trajectoryVectors(capacity, dim, 21);
  const insert = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const slot = store.allocate(i);
      store.context.set(data.subarray(i * dim, (i + 1) * dim), slot * dim);
      const view = store.context.subarray(slot * dim, (slot + 1) * dim);
      linear.upsert(slot, view);
      tensor.upsert(slot, view);
    }
  };
  const queries = trajectoryVectors(32, dim, 77);
  insert(0, 3000);
  tensor.flush();
  assert.ok(tensor.isSynced());
  sameResults(linear, tensor, queries, 32, 'synced');
  const uploadsBefore = tensor.uploads;
  // a few changes, not uploaded yet
  insert(3000, 3050);
  for (let slot = 0; slot < 40; slot += 2) {
    linear.remove(slot);
    tensor.remove(slot);
    store.release(slot);
  }
  assert.not.ok(tensor.isSynced());
  assert.is(tensor.uploads, uploadsBefore, 'nothing uploads outside maintain');
  sameResults(linear, tensor, queries, 32, 'stale columns');
  // more changes than the stale list holds: whole stale blocks answered on the CPU
  insert(3050, 8000);
  sameResults(linear, tensor, queries, 32, 'stale overflow');
  // under pressure (stale list overflowed) an open deadline uploads at once; an expired one does not
  const clock = new MockClock(1_000_000);
  tensor.maintain(0, clock);
  assert.not.ok(tensor.isSynced());
  tensor.maintain(Number.POSITIVE_INFINITY, clock);
  assert.ok(tensor.isSynced());
  // a few stale columns wait uploadDelayNs (the CPU covers them), then go up
  insert(8000, 8010);
  const afterPressure = tensor.uploads;
  tensor.maintain(Number.POSITIVE_INFINITY, clock);
  assert.is(tensor.uploads, afterPressure, 'uploaded before the delay');
  sameResults(linear, tensor, queries, 32, 'waiting for upload');
  clock.advance(tensor.uploadDelayNs);
  tensor.maintain(Number.POSITIVE_INFINITY, clock);
  assert.ok(tensor.isSynced());
  assert.ok(tensor.uploads > afterPressure);
  assert.ok(tensor.uploads > uploadsBefore);
  sameResults(linear, tensor, queries, 32, 'after maintain');
  sameResults(linear, tensor, queries, 1, 'single query');
  tensor.dispose();
});

test.run();
