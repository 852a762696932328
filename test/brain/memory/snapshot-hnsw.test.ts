/**
 * Snapshot format 2: the HNSW index travels in the snapshot (and is not rebuilt), the store's free
 * order and the brain's random streams continue where they were, a version-1 file still restores
 * (the missing sections skipped with a reason), and an index saved with other parameters is
 * skipped and rebuilt. Also the HNSW backend's deferred writes: applied only in slack time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../../brain/brain.js';
import { brainConfig } from '../../../brain/config.js';
import { createBrain } from '../../../brain/create.js';
import {
  brainSnapshotSections,
  normaliserSection,
  periodicBrainSnapshots,
  progressSection,
  restoreBrain,
} from '../../../brain/memory/snapshot-brain.js';
import { storeSection } from '../../../brain/memory/snapshot-store.js';
import { SnapshotWriter } from '../../../brain/memory/snapshot-writer.js';
import { ExperienceStore } from '../../../brain/memory/store.js';
import { HnswBackend, hnswFactory } from '../../../brain/similarity/hnsw.js';
import type { HnswBindingName } from '../../../brain/similarity/hnsw-binding.js';
import { type Profile, profileSchema } from '../../../brain/similarity/profile.js';
import { defaultFactories, SimilarityRegistry } from '../../../brain/similarity/registry.js';
import { systemClock } from '../../../runtime/clock.js';
import { createFrame, LookupPath, type StepTimings } from '../../../runtime/contracts.js';
import { CapturingLog } from './snapshot-helpers.js';

const hnswOnly: Profile = profileSchema.parse({
  name: 'hnsw-only',
  hysteresis: 0,
  routes: [{ minBatch: 1, bands: [{ path: 'hnsw' }] }],
});

async function registryBrain(
  options: { seed?: number; M?: number; capacity?: number; binding?: HnswBindingName } = {},
): Promise<Brain> {
  const config = brainConfig({
    seed: options.seed ?? 1,
    memory: { capacity: options.capacity ?? 1500 },
    similarity: { hnsw: { M: options.M ?? 16 } },
  });
  const log = new CapturingLog();
  const { M, efConstruction, efSearch } = config.similarity.hnsw;
  const factories = options.binding
    ? [
        ...defaultFactories(config.similarity).filter((factory) => factory.name !== 'hnsw'),
        hnswFactory({ M, efConstruction, efSearch, deferWrites: true, binding: options.binding }),
      ]
    : undefined;
  return createBrain(config, {
    observationSize: 3,
    actionSize: 1,
    clock: systemClock,
    log,
    freeMemoryBytes: () => 8 * 2 ** 30,
    index: (source) => SimilarityRegistry.create(source, config.similarity, hnswOnly, log, systemClock, factories),
  });
}

/** Lock-step learning on a pendulum-like world, with generous slack so the index keeps up. */
/** One whole save of `brain` to `path`, now (the periodic writer's shutdown path), asserted to succeed. */
async function saveWhole(brain: Brain, path: string): Promise<void> {
  const periodic = periodicBrainSnapshots(brain, {
    path,
    everyNs: 60e9,
    clock: systemClock,
    log: new CapturingLog(),
    configHash: 'x',
  });
  assert.ok((await periodic.saveNow()).ok);
}

function learn(brain: Brain, steps: number, from: number, slackNs = 3e6): void {
  const frame = createFrame(3);
  const action = new Float32Array(1);
  const times: StepTimings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
  for (let i = from; i < from + steps; i++) {
    const angle = 3 * Math.sin(i * 0.37) + 0.01 * i;
    frame.seq = i;
    frame.episodeStart = i % 200 === 0;
    frame.reward = Math.cos(angle);
    frame.observation[0] = Math.cos(angle);
    frame.observation[1] = Math.sin(angle);
    frame.observation[2] = Math.sin(i * 0.11);
    brain.step(frame, systemClock.nowNs() + 5e6, action, times);
    brain.maintain(systemClock.nowNs() + slackNs);
  }
}

function hnswOf(brain: Brain): { backend: HnswBackend; built: boolean } {
  const found = (brain.index as SimilarityRegistry).hnswForSnapshot();
  assert.ok(found, 'the registry has an HNSW path');
  return found!;
}

/** Every live slot's own vector finds a slot at distance 0, and no search returns a dead slot. */
function indexAgreesWithStore(brain: Brain): string[] {
  const { backend } = hnswOf(brain);
  backend.flush();
  const store = brain.store;
  const dim = store.contextDim;
  const slots = new Int32Array(4);
  const distances = new Float32Array(4);
  const problems: string[] = [];
  for (let slot = 0; slot < store.capacity; slot++) {
    if (store.alive[slot] !== 1) continue;
    const count = backend.search(store.context.subarray(slot * dim, (slot + 1) * dim), 4, slots, distances);
    if (count === 0 || distances[0]! > 1e-9) problems.push(`slot ${slot}: nearest at ${distances[0]}`);
    for (let n = 0; n < count; n++) if (store.alive[slots[n]!] !== 1) problems.push(`dead slot ${slots[n]} found`);
    if (problems.length > 5) break;
  }
  if (backend.size() !== store.size()) problems.push(`index holds ${backend.size()}, store ${store.size()}`);
  return problems;
}

const snapshotHnsw = suite('snapshot: HNSW index, free list, random streams');

snapshotHnsw('the HNSW index saved while learning goes on restores without a rebuild', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-snapshot-hnsw-'));
  const path = join(dir, 'snapshot.bin');
  const original = await registryBrain({ capacity: 1200 });
  learn(original, 1500, 0); // past the cap: evictions and slot reuse
  assert.ok(hnswOf(original).built, 'the HNSW path is built');
  const log = new CapturingLog();
  const periodic = periodicBrainSnapshots(original, {
    path,
    everyNs: 1,
    clock: systemClock,
    log,
    configHash: 'test',
  });
  // The save runs over many cycles while the brain keeps learning (and evicting) between chunks.
  let step = 1500;
  for (let i = 0; i < 2000 && periodic.writer.saved === 0; i++) {
    periodic.flush(systemClock.nowNs() + 2e5); // small windows: the save takes many cycles
    learn(original, 1, step++);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await periodic.writer.settle();
  assert.is(periodic.writer.saved, 1, `saved: ${JSON.stringify(periodic.writer.outcome())}`);
  assert.ok(step > 1502, 'learning went on during the save');

  const restored = await registryBrain({ capacity: 1200 });
  const restoreLog = new CapturingLog();
  const outcome = restoreBrain(restored, { path, log: restoreLog });
  assert.is(outcome.kind, 'restored');
  const line = restoreLog.lines.find((l) => l.message.includes('similarity index restored from the snapshot'));
  assert.ok(line, restoreLog.lines.map((l) => l.message).join('\n'));
  const repaired = (line!.details as { repaired: number }).repaired;
  assert.ok(repaired < restored.store.size() / 4, `repaired ${repaired} of ${restored.store.size()}: not a rebuild`);
  assert.ok(hnswOf(restored).built, 'the registry took the restored index as built');
  assert.is(hnswOf(restored).backend.pending(), 0, 'nothing queued for a rebuild');
  assert.equal(indexAgreesWithStore(restored), []);
  rmSync(dir, { recursive: true });
});

snapshotHnsw('free-slot order and random streams continue exactly after a restore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-snapshot-state-'));
  const path = join(dir, 'snapshot.bin');
  const original = await registryBrain();
  learn(original, 600, 0);
  assert.is(original.evict(50), 50); // free slots on top of the stack in eviction order, not lowest first
  await saveWhole(original, path);
  const restored = await registryBrain();
  assert.is(restoreBrain(restored, { path, log: new CapturingLog() }).kind, 'restored');

  assert.equal(indexAgreesWithStore(restored), []);
  assert.equal(Array.from(restored.store.exportFreeList()), Array.from(original.store.exportFreeList()));
  for (let i = 0; i < 5; i++) assert.is(restored.store.allocate(0), original.store.allocate(0), `allocation ${i}`);
  const a = original.randomStreams();
  const b = restored.randomStreams();
  for (let s = 0; s < a.length; s++) {
    for (let i = 0; i < 8; i++) assert.is(b[s]!.uniform(), a[s]!.uniform(), `stream ${s} draw ${i}`);
    assert.is(b[s]!.normal(), a[s]!.normal());
    assert.is(b[s]!.normal(), a[s]!.normal(), 'the spare normal too');
  }
  assert.is(restored.returnScale, original.returnScale);
  rmSync(dir, { recursive: true });
});

snapshotHnsw(
  'the typed addon reads the index inside the snapshot file; hnswlib-node gets a copy; both restore the same index',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-snapshot-region-'));
    const path = join(dir, 'snapshot.bin');
    const original = await registryBrain();
    learn(original, 600, 0);
    await saveWhole(original, path);
    const query = new Float32Array([0.3, -0.9, 0.2]);
    const results = (brain: Brain) => {
      const slots = new Int32Array(8);
      const distances = new Float32Array(8);
      const count = hnswOf(brain).backend.search(query, 8, slots, distances);
      return [Array.from(slots.subarray(0, count)), Array.from(distances.subarray(0, count))];
    };
    for (const binding of ['typed', 'hnswlib-node'] as const) {
      const restored = await registryBrain({ binding });
      const backend = hnswOf(restored).backend;
      assert.is(backend.bindingName, binding);
      const regions: unknown[] = [];
      const importIndex = backend.importIndex.bind(backend);
      backend.importIndex = (file, bits, region) => {
        regions.push(region);
        return importIndex(file, bits, region);
      };
      assert.is(restoreBrain(restored, { path, log: new CapturingLog() }).kind, 'restored');
      assert.is(regions.length, 1, `${binding}: the index was imported`);
      if (binding === 'typed') {
        const region = regions[0] as { offset: number; length: number };
        assert.ok(region.offset > 0 && region.length > 0, 'read in place from the snapshot file');
      } else {
        assert.is(regions[0], undefined, 'hnswlib-node reads a whole (copied) file');
      }
      assert.equal(indexAgreesWithStore(restored), []);
      assert.equal(results(restored), results(original), `${binding}: the same neighbours`);
    }
    rmSync(dir, { recursive: true });
  },
);

snapshotHnsw('a version-1 snapshot restores; the new sections are skipped with their reasons', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-snapshot-v1-'));
  const path = join(dir, 'snapshot.bin');
  const original = await registryBrain();
  learn(original, 400, 0);
  // Version 1 wrote exactly these three sections, byte for byte as version 2 writes them.
  const writer = new SnapshotWriter({
    path,
    sections: [
      storeSection(original.store),
      normaliserSection(original.normaliser),
      progressSection(original.counters),
    ],
    clock: systemClock,
    log: new CapturingLog(),
    configHash: 'v1',
  });
  assert.ok(writer.saveNow().ok);
  const bytes = readFileSync(path);
  bytes.writeUInt32LE(1, 8);
  writeFileSync(path, bytes);

  const restored = await registryBrain();
  const log = new CapturingLog();
  const outcome = restoreBrain(restored, { path, log });
  assert.is(outcome.kind, 'restored');
  if (outcome.kind === 'restored') assert.is(outcome.info.header.formatVersion, 1);
  const skipped = log.lines.filter((l) => l.message.startsWith('snapshot section not restored'));
  assert.equal(skipped.map((l) => (l.details as { section: string }).section).sort(), [
    'brain-state',
    'free-list',
    'hnsw',
  ]);
  assert.ok(skipped.every((l) => String((l.details as { reason: string }).reason).includes('format version 1')));
  assert.ok(log.lines.some((l) => l.message.includes('index rebuilt')));
  assert.is(restored.store.size(), original.store.size());
  // The registry rebuilds HNSW in slack time.
  for (let i = 0; i < 50 && !hnswOf(restored).built; i++) restored.index.maintain(systemClock.nowNs() + 5e6);
  restored.index.maintain(systemClock.nowNs() + 1e9);
  assert.ok(hnswOf(restored).built);
  assert.equal(indexAgreesWithStore(restored), []);

  bytes.writeUInt32LE(3, 8);
  writeFileSync(path, bytes);
  const refusal = new CapturingLog();
  assert.throws(
    () => restoreBrain(restored, { path, log: refusal }),
    /format version 3; this engram reads versions 1 and 2/,
  );
  rmSync(dir, { recursive: true });
});

snapshotHnsw('an index saved with other HNSW parameters is skipped, named, and rebuilt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-snapshot-params-'));
  const path = join(dir, 'snapshot.bin');
  const original = await registryBrain();
  learn(original, 400, 0);
  await saveWhole(original, path);
  const other = await registryBrain({ M: 8 });
  const log = new CapturingLog();
  assert.is(restoreBrain(other, { path, log }).kind, 'restored');
  const line = log.lines.find((l) => (l.details as { section?: string }).section === 'hnsw');
  assert.ok(line, 'the skipped index is logged');
  assert.match(String((line!.details as { reason: string }).reason), /M is 16 in the snapshot, 8 here/);
  assert.is(other.store.size(), original.store.size(), 'the experiences restore anyway');
  assert.not.ok(hnswOf(other).built, 'the index is rebuilt in slack time, not taken from the file');
  rmSync(dir, { recursive: true });
});

snapshotHnsw('deferred HNSW writes are applied only in slack time; removes at once', async () => {
  const store = new ExperienceStore({ capacity: 64, contextDim: 4, actionDim: 1, linksPerExperience: 0 });
  const created = await hnswFactory({ M: 8, efConstruction: 50, efSearch: 32, deferWrites: true }).create(store);
  assert.ok(created instanceof HnswBackend);
  const backend = created as HnswBackend;
  for (let i = 0; i < 20; i++) {
    const slot = store.allocate(i);
    store.context.set([i, 0, 0, 0], slot * 4);
    backend.upsert(slot, store.context.subarray(slot * 4, slot * 4 + 4));
  }
  const slots = new Int32Array(3);
  const distances = new Float32Array(3);
  assert.is(backend.search(new Float32Array([5, 0, 0, 0]), 3, slots, distances), 0, 'nothing applied yet');
  assert.is(backend.maintain(systemClock.nowNs() - 1, systemClock), 0, 'no window, no work');
  assert.is(backend.pending(), 20);
  backend.maintain(systemClock.nowNs() + 1e9, systemClock);
  assert.ok(backend.isSynced());
  assert.is(backend.search(new Float32Array([5, 0, 0, 0]), 1, slots, distances), 1);
  assert.is(slots[0], 5);
  backend.remove(5);
  backend.search(new Float32Array([5, 0, 0, 0]), 1, slots, distances);
  assert.is.not(slots[0], 5, 'a removed slot is never found, even before any slack time');
});

snapshotHnsw(
  'brainSnapshotSections: the HNSW section is last (its bitmap follows every experience block)',
  async () => {
    const brain = await registryBrain();
    const names = brainSnapshotSections(brain).map((s) => s.name);
    assert.equal(names, ['experiences', 'normaliser', 'progress', 'free-list', 'brain-state', 'hnsw']);
  },
);

snapshotHnsw.run();
