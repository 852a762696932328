/**
 * The registry: routes by N with hysteresis from the profile, switches only at cycle boundaries,
 * builds a new path in slack time within the deadline while the old one serves, keeps every
 * backend consistent, logs each switch once, and counts bad input instead of crashing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { brainConfig } from '../../../brain/config.js';
import { ExperienceStore } from '../../../brain/memory/store.js';
import type { BackendFactory } from '../../../brain/similarity/backend.js';
import { hnswFactory } from '../../../brain/similarity/hnsw.js';
import { linearFactory } from '../../../brain/similarity/linear.js';
import { type Profile, profileSchema } from '../../../brain/similarity/profile.js';
import { indexBytesPerExperience, SimilarityRegistry } from '../../../brain/similarity/registry.js';
import { trajectoryVectors } from '../../../brain/similarity/synthetic.js';
import { tensorFactories } from '../../../brain/similarity/tensor.js';
import { MockClock } from '../../../runtime/clock.js';
import type { EventLog } from '../../../runtime/contracts.js';

const dim = 16;
const config = brainConfig().similarity;
const factories: BackendFactory[] = [linearFactory, hnswFactory({ M: 16, efConstruction: 100, efSearch: 64 })];

class RecordingLog implements EventLog {
  readonly lines: { level: string; message: string; details: object }[] = [];
  info(details: object, message: string) {
    this.lines.push({ level: 'info', message, details });
  }
  warn(details: object, message: string) {
    this.lines.push({ level: 'warn', message, details });
  }
  error(details: object, message: string) {
    this.lines.push({ level: 'error', message, details });
  }
  count(message: string) {
    return this.lines.filter((l) => l.message === message).length;
  }
}

function profile(edge: number, hysteresis = 0.2): Profile {
  return profileSchema.parse({
    name: 'test',
    hysteresis,
    routes: [{ minBatch: 1, bands: [{ path: 'linear', belowN: edge }, { path: 'hnsw' }] }],
  });
}

async function setup(edge: number, capacity = 2000) {
  const store = new ExperienceStore({ capacity, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const log = new RecordingLog();
  const clock = new MockClock();
  const registry = await SimilarityRegistry.create(store, config, profile(edge), log, clock, factories);
  const data = trajectoryVectors(capacity, dim, 3);
  let next = 0;
  const add = (count: number) => {
    for (let i = 0; i < count; i++, next++) {
      const slot = store.allocate(next);
      store.context.set(data.subarray(next * dim, (next + 1) * dim), slot * dim);
      registry.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
    }
  };
  return { store, log, clock, registry, add };
}

test('small memory scans; crossing the edge builds HNSW in slack time, switching only at a boundary', async () => {
  const { registry, add, log } = await setup(500);
  assert.is(registry.activePath(), 'linear');
  add(550); // above the edge but inside the hysteresis band (500 * 1.2 = 600)
  registry.maintain(Number.POSITIVE_INFINITY);
  registry.atCycleBoundary();
  assert.is(registry.activePath(), 'linear', 'inside the hysteresis band');
  add(100); // 650 > 600
  assert.is(registry.activePath(), 'linear', 'no switch outside a cycle boundary');
  registry.maintain(Number.POSITIVE_INFINITY);
  assert.is(registry.activePath(), 'linear', 'maintain builds but does not switch');
  registry.atCycleBoundary();
  assert.is(registry.activePath(), 'hnsw');
  assert.is(log.count('similarity path switched'), 1);
  const line = log.lines.find((l) => l.message === 'similarity path switched')!;
  assert.match(String((line.details as { reason: string }).reason), /profile 'test'/);
  // and it serves the same memory as the oracle
  const hnsw = registry.backendFor('hnsw')!;
  const linear = registry.backendFor('linear')!;
  assert.is(hnsw.size(), linear.size());
  registry.atCycleBoundary();
  assert.is(log.count('similarity path switched'), 1, 'logged once');
});

test('hysteresis: a memory hovering around the edge does not flap', async () => {
  const { registry, add, store } = await setup(500);
  add(700);
  registry.maintain(Number.POSITIVE_INFINITY);
  registry.atCycleBoundary();
  assert.is(registry.activePath(), 'hnsw');
  const switchesBefore = registry.counters.switches;
  // shrink to just below the edge and oscillate around it: 460..540, never below 400
  const removeSome = (count: number) => {
    for (let slot = 0, removed = 0; removed < count && slot < store.capacity; slot++) {
      if (store.alive[slot]) {
        registry.remove(slot);
        store.release(slot);
        removed++;
      }
    }
  };
  removeSome(160);
  for (let round = 0; round < 20; round++) {
    registry.atCycleBoundary();
    add(80);
    registry.maintain(Number.POSITIVE_INFINITY);
    registry.atCycleBoundary();
    removeSome(80);
  }
  assert.is(registry.counters.switches, switchesBefore, 'no switch while inside the hysteresis band');
  assert.is(registry.activePath(), 'hnsw');
});

test('shrinking well below the edge switches back to the scan', async () => {
  const { registry, add, store } = await setup(500);
  add(700);
  registry.maintain(Number.POSITIVE_INFINITY);
  registry.atCycleBoundary();
  assert.is(registry.activePath(), 'hnsw');
  for (let slot = 0; slot < 400; slot++) {
    registry.remove(slot);
    store.release(slot);
  }
  registry.atCycleBoundary(); // 300 < 400
  assert.is(registry.activePath(), 'linear');
});

test('maintain returns by its deadline and the old path serves meanwhile', async () => {
  const { registry, add, clock, store } = await setup(500);
  add(1000);
  registry.atCycleBoundary();
  clock.autoAdvanceNs = 1000; // every clock read costs 1 µs of mock time
  let rounds = 0;
  const oldVector = new Float32Array(dim);
  while (registry.availablePaths().find((p) => p.path === 'hnsw')!.built === false) {
    const until = clock.peek() + 50_000; // 50 µs of slack: ~50 inserts
    registry.maintain(until);
    assert.ok(clock.peek() <= until + 2000, 'maintain overran its deadline');
    registry.atCycleBoundary();
    const built = registry.availablePaths().find((p) => p.path === 'hnsw')!.built;
    if (!built) assert.is(registry.activePath(), 'linear', 'switched before the build finished');
    rounds++;
    // inserts and removals while building must reach the new index too
    if (rounds === 3) {
      oldVector.set(store.context.subarray(dim, 2 * dim));
      registry.remove(1);
      store.release(1);
      add(5);
    }
    assert.ok(rounds < 500, 'build never finished');
  }
  assert.ok(rounds > 5, `built in ${rounds} rounds: the deadline did not bound the work`);
  assert.is(registry.activePath(), 'hnsw');
  assert.is(registry.backendFor('hnsw')!.size(), registry.size());
  // slot 1 was removed and reused while building: the new index holds its new vector, not the old
  const slots = new Int32Array(1);
  const dists = new Float32Array(1);
  registry.search(store.context.slice(dim, 2 * dim), 1, slots, dists);
  assert.is(slots[0], 1);
  assert.ok(dists[0]! < 1e-9);
  registry.search(oldVector, 1, slots, dists);
  assert.ok(slots[0] !== 1 || dists[0]! > 1e-9, 'the old vector of slot 1 is still indexed');
});

test('bad input is counted and refused; the registry keeps working', async () => {
  const { registry, add } = await setup(500);
  add(50);
  const slots = new Int32Array(4);
  const dists = new Float32Array(4);
  assert.is(registry.search(new Float32Array(dim - 1), 4, slots, dists), 0);
  const nan = new Float32Array(dim);
  nan[3] = Number.NaN;
  assert.is(registry.search(nan, 4, slots, dists), 0);
  assert.is(registry.counters.rejectedQueries, 2);
  registry.upsert(10, nan);
  registry.upsert(5000, new Float32Array(dim));
  registry.upsert(11, new Float32Array(3));
  const inf = new Float32Array(dim);
  inf[0] = Number.POSITIVE_INFINITY;
  registry.upsert(12, inf);
  assert.is(registry.counters.rejectedUpserts, 4);
  assert.is(registry.size(), 50);
  const counts = new Int32Array(3);
  registry.searchBatch(new Float32Array(dim * 2), 3, 4, new Int32Array(12), new Float32Array(12), counts);
  assert.equal(Array.from(counts), [0, 0, 0]);
  assert.is(registry.search(new Float32Array(dim), 4, slots, dists), 4);
});

test('an unavailable factory is skipped with one line naming why; linear still serves', async () => {
  const broken: BackendFactory = {
    name: 'hnsw',
    priority: 50,
    async create() {
      return new Error('no addon on this machine (test)');
    },
  };
  const store = new ExperienceStore({ capacity: 100, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const log = new RecordingLog();
  const registry = await SimilarityRegistry.create(store, config, profile(10), log, new MockClock(), [
    linearFactory,
    broken,
  ]);
  const skipped = log.lines.filter((l) => l.message === 'similarity backend unavailable, skipped');
  assert.is(skipped.length, 1);
  assert.match(JSON.stringify(skipped[0]!.details), /no addon on this machine/);
  for (let i = 0; i < 50; i++) {
    const slot = store.allocate(i);
    store.context[slot * dim] = i;
    registry.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
  }
  registry.atCycleBoundary();
  assert.is(registry.activePath(), 'linear');
  assert.is(log.count('similarity path in the profile is unavailable here; falling back'), 1);
  const slots = new Int32Array(1);
  const dists = new Float32Array(1);
  const query = new Float32Array(dim);
  query[0] = 20.2;
  registry.search(query, 1, slots, dists);
  assert.is(store.context[slots[0]! * dim], 20);
});

test('batch routes: a large batch can take another path than single queries', async () => {
  const store = new ExperienceStore({ capacity: 400, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const routed = profileSchema.parse({
    name: 'batchy',
    hysteresis: 0.1,
    routes: [
      { minBatch: 1, bands: [{ path: 'linear', belowN: 100 }, { path: 'hnsw' }] },
      { minBatch: 16, bands: [{ path: 'linear' }] },
    ],
  });
  const registry = await SimilarityRegistry.create(
    store,
    config,
    routed,
    new RecordingLog(),
    new MockClock(),
    factories,
  );
  const data = trajectoryVectors(300, dim, 4);
  for (let i = 0; i < 300; i++) {
    const slot = store.allocate(i);
    store.context.set(data.subarray(i * dim, (i + 1) * dim), slot * dim);
    registry.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
  }
  registry.maintain(Number.POSITIVE_INFINITY);
  registry.atCycleBoundary();
  assert.is(registry.pathFor(1), 'hnsw');
  assert.is(registry.pathFor(15), 'hnsw');
  assert.is(registry.pathFor(16), 'linear');
  assert.is(registry.pathFor(256), 'linear');
  const counts = new Int32Array(16);
  registry.searchBatch(data.subarray(0, 16 * dim), 16, 4, new Int32Array(64), new Float32Array(64), counts);
  assert.is(registry.lastPathCode(), 1);
  assert.is(counts[0], 4);
});

test('batches route to the tensor path once it is built and synced; answers stay exact', async () => {
  const wasm = tensorFactories().find((f) => f.name === 'tensor-wasm')!;
  const store = new ExperienceStore({ capacity: 3000, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const routed = profileSchema.parse({
    name: 'tensor-batches',
    hysteresis: 0.1,
    routes: [
      { minBatch: 1, bands: [{ path: 'linear' }] },
      { minBatch: 32, bands: [{ path: 'linear', belowN: 1000 }, { path: 'tensor' }] },
    ],
  });
  const log = new RecordingLog();
  const clock = new MockClock();
  const registry = await SimilarityRegistry.create(store, config, routed, log, clock, [linearFactory, wasm]);
  if (!registry.backendFor('tensor')) {
    console.log('skipped: tensor-wasm unavailable here');
    return;
  }
  const data = trajectoryVectors(2000, dim, 6);
  for (let i = 0; i < 2000; i++) {
    const slot = store.allocate(i);
    store.context.set(data.subarray(i * dim, (i + 1) * dim), slot * dim);
    registry.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
  }
  registry.atCycleBoundary();
  assert.is(registry.pathFor(64), 'linear', 'not built yet');
  registry.maintain(Number.POSITIVE_INFINITY); // builds the host mirror; blocks now stale
  registry.atCycleBoundary();
  assert.is(registry.pathFor(64), 'linear', 'built but not uploaded: not synced, no switch');
  clock.advance(1e9); // past the upload delay
  registry.maintain(Number.POSITIVE_INFINITY);
  registry.atCycleBoundary();
  assert.is(registry.pathFor(64), 'tensor');
  assert.is(registry.pathFor(8), 'linear');
  // a change after the switch: served exactly before the next upload
  const moved = 5;
  store.context.fill(4, moved * dim, (moved + 1) * dim);
  registry.upsert(moved, store.context.subarray(moved * dim, (moved + 1) * dim));
  const batch = 40;
  const queries = trajectoryVectors(batch, dim, 60);
  queries.fill(4, 0, dim);
  const k = 6;
  const slots = new Int32Array(batch * k);
  const dists = new Float32Array(batch * k);
  const counts = new Int32Array(batch);
  registry.searchBatch(queries, batch, k, slots, dists, counts);
  assert.is(registry.lastPathCode(), 3);
  assert.is(slots[0], moved);
  const linear = registry.backendFor('linear')!;
  const oneSlots = new Int32Array(k);
  const oneDists = new Float32Array(k);
  for (let q = 0; q < batch; q++) {
    linear.search(queries.subarray(q * dim, (q + 1) * dim), k, oneSlots, oneDists);
    for (let i = 0; i < k; i++) assert.ok(Math.abs(dists[q * k + i]! - oneDists[i]!) < 1e-6, `q${q} rank ${i}`);
  }
  registry.dispose();
});

test('paths the profile never routes to are not created', async () => {
  let created = 0;
  const countingTensor: BackendFactory = {
    name: 'tensor-counting',
    path: 'tensor',
    priority: 99,
    async create() {
      created++;
      return new Error('not expected to be asked');
    },
  };
  const store = new ExperienceStore({ capacity: 10, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const registry = await SimilarityRegistry.create(store, config, profile(500), new RecordingLog(), new MockClock(), [
    ...factories,
    countingTensor,
  ]);
  assert.is(created, 0);
  assert.is(registry.backendFor('tensor'), undefined);
  assert.ok(registry.backendFor('hnsw'));
});

test('index bytes per experience count only the paths the profile uses', () => {
  const only = (bands: object[]) => profileSchema.parse({ name: 'p', routes: [{ minBatch: 1, bands }] });
  const scan = indexBytesPerExperience(only([{ path: 'linear' }]), config, 64);
  const hnsw = indexBytesPerExperience(only([{ path: 'linear', belowN: 10 }, { path: 'hnsw' }]), config, 64);
  const withTensor = indexBytesPerExperience(
    profileSchema.parse({
      name: 'p',
      routes: [
        { minBatch: 1, bands: [{ path: 'linear', belowN: 10 }, { path: 'hnsw' }] },
        { minBatch: 8, bands: [{ path: 'tensor' }] },
      ],
    }),
    config,
    64,
  );
  assert.is(scan, 2);
  assert.ok(hnsw > 64 * 4 + 2 * config.hnsw.M * 4, `hnsw estimate ${hnsw}`);
  assert.is(withTensor - hnsw, 2 * 65 * 4 + 2);
});

test.run();
