import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ActiveSet } from '../../../brain/activation.js';
import { brainConfig } from '../../../brain/config.js';
import { bytesPerExperience, hardCap, hnswBytesEstimate } from '../../../brain/create.js';
import { LinearIndex, SinglePathIndex } from '../../../brain/linear-index.js';
import { Evictor } from '../../../brain/memory/eviction.js';
import { ExperienceStore, NO_SLOT, type VectorSource } from '../../../brain/memory/store.js';
import { Rng } from '../../../brain/rng.js';
import { hnswFactory } from '../../../brain/similarity/hnsw.js';
import { lcg, recordingLog, setObservation, testBrain } from '../helpers.js';

const eviction = suite('eviction and caps');

async function hnswIndex(source: VectorSource) {
  const backend = await hnswFactory({ M: 16, efConstruction: 100, efSearch: 32, seed: 1 }).create(source);
  if (backend instanceof Error) throw backend;
  return new SinglePathIndex(backend);
}

for (const [path, capacity] of [
  ['linear', 200],
  ['hnsw', 1000],
] as const) {
  eviction(`storing 5x capacity never exceeds the cap, and memory keeps turning over (${path})`, async () => {
    const { brain, frame, action, times } = await testBrain(
      { memory: { capacity, evictionsPerCycle: 2 }, planner: { candidates: 4, horizon: 2 } },
      3,
      1,
      { index: path === 'linear' ? 'linear' : hnswIndex },
    );
    const random = lcg(3);
    let maxSize = 0;
    for (let t = 0; t < capacity * 5; t++) {
      setObservation(frame, [random(), random(), random()], random(), t % 50 === 0);
      brain.step(frame, Number.POSITIVE_INFINITY, action, times);
      brain.maintain(Number.POSITIVE_INFINITY);
      maxSize = Math.max(maxSize, brain.size(), brain.store.size(), brain.index.size());
    }
    assert.is(maxSize, capacity);
    assert.is(brain.size(), capacity);
    assert.ok(brain.counters.stored > capacity * 4, `stored ${brain.counters.stored}`);
    assert.is(brain.counters.evictions, brain.counters.stored - capacity);
    assert.is(brain.counters.storeRefused, 0);
    assert.is(brain.index.size(), brain.store.size());
    // every live experience is findable by its own context: the index and the store agree after reuse
    const slots = new Int32Array(1);
    const distances = new Float32Array(1);
    let found = 0;
    for (let s = 0; s < brain.store.capacity; s++) {
      const query = brain.store.context.subarray(s * 3, s * 3 + 3);
      if (brain.index.search(query, 1, slots, distances) === 1 && distances[0]! < 1e-9) found++;
    }
    assert.ok(found >= capacity * 0.95, `found ${found} of ${capacity}`);
  });
}

eviction('the byte cap lowers the count cap and sizes the store', async () => {
  const { brain } = await testBrain({ memory: { capacity: 1_000_000, maxMiB: 1 } }, 16, 4);
  assert.ok(brain.hardCap < 1_000_000);
  assert.is(brain.store.capacity, brain.hardCap);
  assert.ok(brain.hardCap > 1000, `cap ${brain.hardCap}`);
});

eviction('deep exploration counts its per-slot intrinsic return against the byte cap', async () => {
  const plain = brainConfig({});
  const deep = brainConfig({ exploration: { intrinsicWeight: 1 } });
  assert.is(bytesPerExperience(deep, 16, 4) - bytesPerExperience(plain, 16, 4), 4);
  const small = { memory: { capacity: 1_000_000, maxMiB: 1 }, exploration: { intrinsicWeight: 1 } };
  const { brain } = await testBrain(small, 16, 4);
  const config = brainConfig(small);
  assert.is(brain.hardCap, hardCap(config, bytesPerExperience(config, 16, 4, hnswBytesEstimate(config, 16))));
  assert.is(brain.intrinsicValue.length, brain.hardCap, 'the intrinsic array is sized to the cap');
});

eviction('the lowest-utility experience of the sample goes', () => {
  const store = new ExperienceStore({ capacity: 4, contextDim: 1, actionDim: 1, linksPerExperience: 0 });
  const index = new LinearIndex(store);
  const active = new ActiveSet(store, 4, 0.8, 0.5, 0.01);
  for (let i = 0; i < 4; i++) {
    const slot = store.allocate(100);
    index.upsert(slot, new Float32Array([i]));
    store.accessCount[slot] = 10;
    store.returnEstimate[slot] = 5;
  }
  store.accessCount[2] = 0;
  store.returnEstimate[2] = 0;
  store.lastAccess[2] = 0;
  // a large sample (8 draws over 4 slots) sees every slot with near certainty
  const evictor = new Evictor(store, index, active, new Rng(1), 64);
  const victim = evictor.evictOne(100, 10, NO_SLOT);
  assert.is(victim, 2);
  assert.is(store.alive[2], 0);
  assert.is(index.size(), 3);
});

eviction('low free memory shrinks the effective cap once per check, logged once', async () => {
  let free = 8 * 2 ** 30;
  const log = recordingLog();
  const { brain, frame, action, times, clock } = await testBrain(
    { memory: { capacity: 100, minFreeSystemMiB: 512, pressureCheckMs: 1000, evictionsPerCycle: 4 } },
    2,
    1,
    { freeMemoryBytes: () => free, log },
  );
  const random = lcg(9);
  const run = (steps: number) => {
    for (let t = 0; t < steps; t++) {
      setObservation(frame, [random(), random()], 0, false);
      brain.step(frame, Number.POSITIVE_INFINITY, action, times);
      brain.maintain(Number.POSITIVE_INFINITY);
      clock.advance(10e6); // 10 ms per cycle
      assert.ok(brain.size() <= brain.hardCap);
    }
  };
  run(150);
  assert.is(brain.effectiveCap, 100);
  free = 100 * 2 ** 20;
  run(300); // 3 s under pressure: three shrinks
  assert.ok(brain.effectiveCap < 100 * 0.9 ** 2, `cap ${brain.effectiveCap}`);
  assert.ok(brain.size() <= brain.effectiveCap);
  const warnings = log.lines.filter((line) => line.level === 'warn');
  assert.is(warnings.length, 1);
  assert.match(warnings[0]!.message, /low free system memory/);
});

eviction.run();
