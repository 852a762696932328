/**
 * One conformance suite, run against every similarity backend factory that initialises on this
 * machine (tfjs-core's habit): exact paths must return the brute-force top-k (ties aside), HNSW
 * recall@10 >= 0.95 on realistic low-dimensional data, slot reuse, batch = repeated singles, and
 * bad input without a crash. Factories that cannot initialise here print why they were skipped.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { brainConfig } from '../../../brain/config.js';
import { ExperienceStore } from '../../../brain/memory/store.js';
import type { BackendFactory, SimilarityBackend } from '../../../brain/similarity/backend.js';
import { defaultFactories } from '../../../brain/similarity/registry.js';
import { trajectoryVectors } from '../../../brain/similarity/synthetic.js';

const config = brainConfig().similarity;
const exactPaths = new Set(['linear', 'tensor']);

/** The reference the linear oracle itself is checked against: all distances, sorted. */
function bruteForce(vectors: Float32Array, live: Uint8Array, dim: number, query: Float32Array, k: number) {
  const all: { slot: number; dist: number }[] = [];
  for (let slot = 0; slot < live.length; slot++) {
    if (!live[slot]) continue;
    let dist = 0;
    for (let j = 0; j < dim; j++) {
      const d = query[j]! - vectors[slot * dim + j]!;
      dist += d * d;
    }
    all.push({ slot, dist });
  }
  all.sort((a, b) => a.dist - b.dist);
  return all.slice(0, k);
}

interface Fixture {
  store: ExperienceStore;
  backend: SimilarityBackend;
  live: Uint8Array;
}

async function fixture(factory: BackendFactory, n: number, dim: number, capacity = n): Promise<Fixture | string> {
  const store = new ExperienceStore({ capacity, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const created = await factory.create(store);
  if (created instanceof Error) return created.message;
  const data = trajectoryVectors(n, dim, 11);
  const live = new Uint8Array(capacity);
  for (let i = 0; i < n; i++) {
    const slot = store.allocate(i);
    store.context.set(data.subarray(i * dim, (i + 1) * dim), slot * dim);
    created.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
    live[slot] = 1;
  }
  settle(created);
  return { store, backend: created, live };
}

/** Applies the writes a backend defers to slack time (the tensor upload, HNSW's queued inserts and updates). */
function settle(backend: SimilarityBackend): void {
  (backend as { flush?: () => void }).flush?.();
}

// One suite, tests in order: tfjs has one global engine, so backends must not initialise concurrently.
const factories = defaultFactories(config);
for (const factory of factories) {
  const path = factory.path ?? factory.name;
  const exact = exactPaths.has(path);
  const probe = await factory.create(
    new ExperienceStore({ capacity: 4, contextDim: 4, actionDim: 1, linksPerExperience: 0 }),
  );
  if (probe instanceof Error) {
    console.log(`skipped ${factory.name}: ${probe.message}`);
    // (no uvu test.skip: test/run.ts counts uvu's skipped tests as negative failures)
    continue;
  }
  probe.dispose();

  for (const dim of [16, 64]) {
    test(`${factory.name}: ${exact ? 'exact top-10 vs brute force' : 'recall@10 >= 0.95'} at d = ${dim}, N = 3000`, async () => {
      const made = await fixture(factory, 3000, dim);
      if (typeof made === 'string') throw new Error(made);
      const { store, backend, live } = made;
      assert.is(backend.size(), 3000);
      const queries = trajectoryVectors(100, dim, 99);
      const k = 10;
      const slots = new Int32Array(k);
      const dists = new Float32Array(k);
      let hits = 0;
      for (let q = 0; q < 100; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim);
        const count = backend.search(query, k, slots, dists);
        assert.is(count, k);
        const reference = bruteForce(store.context, live, dim, query, k);
        for (let i = 1; i < k; i++) assert.ok(dists[i - 1]! <= dists[i]!, 'nearest first');
        if (exact) {
          for (let i = 0; i < k; i++) {
            const want = reference[i]!.dist;
            assert.ok(Math.abs(dists[i]! - want) <= 1e-4 * Math.max(1, want), `distance ${i}: ${dists[i]} vs ${want}`);
            // ties aside, the slot is the reference's
            const tied = reference.some(
              (r) => r.slot === slots[i] && Math.abs(r.dist - dists[i]!) <= 1e-4 * Math.max(1, want),
            );
            assert.ok(tied, `slot ${slots[i]} at rank ${i} is not among the reference's equals`);
          }
        }
        for (const r of reference) if (slots.includes(r.slot)) hits++;
      }
      const recall = hits / (100 * k);
      if (exact) assert.ok(recall >= 0.999, `exact recall ${recall}`);
      else assert.ok(recall >= 0.95, `recall@10 ${recall.toFixed(3)} < 0.95`);
      backend.dispose();
    });
  }

  test(`${factory.name}: batch search equals repeated single searches`, async () => {
    const dim = 16;
    const made = await fixture(factory, 1500, dim);
    if (typeof made === 'string') throw new Error(made);
    const { backend } = made;
    const batch = 37;
    const k = 8;
    const queries = trajectoryVectors(batch, dim, 5);
    const slots = new Int32Array(batch * k);
    const dists = new Float32Array(batch * k);
    const counts = new Int32Array(batch);
    backend.searchBatch(queries, batch, k, slots, dists, counts);
    const oneSlots = new Int32Array(k);
    const oneDists = new Float32Array(k);
    for (let q = 0; q < batch; q++) {
      const count = backend.search(queries.subarray(q * dim, (q + 1) * dim), k, oneSlots, oneDists);
      assert.is(counts[q], count);
      for (let i = 0; i < count; i++) {
        assert.ok(Math.abs(dists[q * k + i]! - oneDists[i]!) <= 1e-4 * Math.max(1, oneDists[i]!), `q${q} rank ${i}`);
        if (dists[q * k + i] !== oneDists[i]) continue; // a float tie may order differently
        assert.is(slots[q * k + i], oneSlots[i], `q${q} rank ${i}`);
      }
    }
    backend.dispose();
  });

  test(`${factory.name}: remove hides a slot; reusing the slot serves the new vector without a rebuild`, async () => {
    const dim = 16;
    const made = await fixture(factory, 800, dim);
    if (typeof made === 'string') throw new Error(made);
    const { store, backend } = made;
    const slots = new Int32Array(5);
    const dists = new Float32Array(5);
    const target = 123;
    const original = store.context.slice(target * dim, (target + 1) * dim);
    assert.is(backend.search(original, 1, slots, dists), 1);
    assert.is(slots[0], target);
    backend.remove(target);
    backend.remove(target); // twice is harmless
    assert.is(backend.size(), 799);
    const count = backend.search(original, 5, slots, dists);
    assert.is(count, 5);
    assert.not.ok(Array.from(slots).includes(target), 'removed slot still returned');
    // reuse the slot for a far-away vector
    const fresh = new Float32Array(dim).fill(5);
    store.context.set(fresh, target * dim);
    backend.upsert(target, store.context.subarray(target * dim, (target + 1) * dim));
    settle(backend);
    assert.is(backend.size(), 800);
    assert.is(backend.search(fresh, 1, slots, dists), 1);
    assert.is(slots[0], target);
    assert.ok(dists[0]! < 1e-6);
    // the old vector's place now answers with someone else
    backend.search(original, 1, slots, dists);
    assert.is.not(slots[0], target);
    // overwrite a live slot in place
    const other = new Float32Array(dim).fill(-5);
    store.context.set(other, 7 * dim);
    backend.upsert(7, store.context.subarray(7 * dim, 8 * dim));
    settle(backend);
    assert.is(backend.size(), 800);
    backend.search(other, 1, slots, dists);
    assert.is(slots[0], 7);
    backend.dispose();
  });

  test(`${factory.name}: bad input: short query, k <= 0, empty index; no crash`, async () => {
    const dim = 16;
    const store = new ExperienceStore({ capacity: 64, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
    const backend = (await factory.create(store)) as SimilarityBackend;
    const slots = new Int32Array(4);
    const dists = new Float32Array(4);
    assert.is(backend.search(new Float32Array(dim), 4, slots, dists), 0, 'empty index');
    const v = new Float32Array(dim).fill(1);
    store.context.set(v, 0);
    backend.upsert(0, store.context.subarray(0, dim));
    settle(backend);
    assert.is(backend.search(new Float32Array(dim - 1), 4, slots, dists), 0, 'short query');
    assert.is(backend.search(v, 0, slots, dists), 0, 'k = 0');
    assert.is(backend.search(v, 4, slots, dists), 1, 'k larger than the memory');
    const counts = new Int32Array(2).fill(9);
    backend.searchBatch(new Float32Array(dim), 2, 4, new Int32Array(8), new Float32Array(8), counts);
    assert.equal(Array.from(counts), [0, 0], 'batch shorter than batch * dim');
    backend.dispose();
  });
}

test.run();
