/**
 * engram's typed HNSW addon (native/hnsw) against hnswlib-node, the published binding to the same
 * hnswlib code: same graph for the same inserts, each reads the other's index files (snapshots
 * written before the addon existed still restore), the typed calls allocate nothing on the JS heap,
 * and bad arguments throw a clear Error instead of crashing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ExperienceStore } from '../../../brain/memory/store.js';
import { HnswBackend, hnswFactory } from '../../../brain/similarity/hnsw.js';
import {
  type HnswBinding,
  type HnswIndexHandle,
  loadHnswBinding,
  loadHnswlibNodeBinding,
  loadTypedBinding,
} from '../../../brain/similarity/hnsw-binding.js';
import { trajectoryVectors } from '../../../brain/similarity/synthetic.js';
import { leastHeapGrowthPer } from '../../heap-growth.js';

const dim = 16;
const n = 2000;
const data = trajectoryVectors(n, dim, 5);

/** `make test` builds the addon first (Makefile, native/hnsw): missing here is a build failure. */
function typedBinding(): HnswBinding {
  const typed = loadTypedBinding();
  if (typed instanceof Error) throw typed;
  return typed;
}

async function both(): Promise<{ typed: HnswBinding; published: HnswBinding }> {
  const published = await loadHnswlibNodeBinding();
  if (published instanceof Error) throw published;
  return { typed: typedBinding(), published };
}

function build(binding: HnswBinding): HnswIndexHandle {
  const index = binding.create(dim);
  index.initIndex(n, 16, 100, 7);
  index.setEf(64);
  for (let i = 0; i < n; i++) index.addPoint(data, i * dim, i);
  return index;
}

test('the typed addon is built and is what the HNSW path uses by default', async () => {
  const loaded = await loadHnswBinding();
  assert.ok(!(loaded instanceof Error), String(loaded));
  assert.is((loaded as { binding: HnswBinding }).binding.name, 'typed');
  const store = new ExperienceStore({ capacity: 64, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const backend = await hnswFactory({ M: 16, efConstruction: 100, efSearch: 32 }).create(store);
  assert.ok(backend instanceof HnswBackend);
  assert.is((backend as HnswBackend).bindingName, 'typed');
  assert.is((backend as HnswBackend).bindingNote, undefined);
  const fallback = await hnswFactory({ M: 16, efConstruction: 100, efSearch: 32, binding: 'hnswlib-node' }).create(
    store,
  );
  assert.is((fallback as HnswBackend).bindingName, 'hnswlib-node');
});

test('same inserts and seed give the same graph: identical results and identical index files', async () => {
  const { typed, published } = await both();
  const a = build(typed);
  const b = build(published);
  const k = 10;
  const labelsA = new Int32Array(k);
  const labelsB = new Int32Array(k);
  const distA = new Float32Array(k);
  const distB = new Float32Array(k);
  for (let q = 0; q < n; q += 37) {
    assert.is(a.searchKnn(data, q * dim, k, labelsA, distA, 0), k);
    assert.is(b.searchKnn(data, q * dim, k, labelsB, distB, 0), k);
    assert.equal(Array.from(labelsA), Array.from(labelsB), `query ${q}`);
    assert.equal(Array.from(distA), Array.from(distB), `query ${q}`);
    assert.is(labelsA[0], q, 'a stored vector finds itself first');
    for (let i = 1; i < k; i++) assert.ok(distA[i]! >= distA[i - 1]!, 'nearest first');
  }
  const dir = mkdtempSync(join(tmpdir(), 'engram-hnsw-binding-'));
  try {
    a.writeIndexSync(join(dir, 'typed.bin'));
    await b.writeIndex(join(dir, 'published.bin'));
    assert.ok(readFileSync(join(dir, 'typed.bin')).equals(readFileSync(join(dir, 'published.bin'))));
    // each reads the other's file (snapshots written with hnswlib-node restore with the addon)
    const fromPublished = typed.create(dim);
    fromPublished.readIndexSync(join(dir, 'published.bin'));
    fromPublished.setEf(64);
    assert.is(fromPublished.getMaxElements(), n);
    assert.is(fromPublished.getIdsList().length, n);
    fromPublished.searchKnn(data, 5 * dim, k, labelsA, distA, 0);
    b.searchKnn(data, 5 * dim, k, labelsB, distB, 0);
    assert.equal(Array.from(labelsA), Array.from(labelsB));
    const point = new Float32Array(dim + 3);
    fromPublished.getPoint(123, point, 3);
    assert.equal(Array.from(point.subarray(3)), Array.from(data.subarray(123 * dim, 124 * dim)));
    const wrongDim = typed.create(dim + 1);
    assert.throws(() => wrongDim.readIndexSync(join(dir, 'typed.bin')), /16 dimensions, this index has 17/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readIndexAtSync reads an index stored inside another file, and refuses a wrong region clearly', () => {
  const typed = typedBinding();
  const original = build(typed);
  original.markDelete(77);
  const dir = mkdtempSync(join(tmpdir(), 'engram-hnsw-region-'));
  try {
    original.writeIndexSync(join(dir, 'index.bin'));
    const index = readFileSync(join(dir, 'index.bin'));
    const before = Buffer.alloc(1234, 0xab);
    const after = Buffer.alloc(321, 0xcd);
    const container = join(dir, 'container.bin');
    writeFileSync(container, Buffer.concat([before, index, after]));
    const loaded = typed.create(dim);
    loaded.readIndexAtSync!(container, before.length, index.length);
    loaded.setEf(64);
    assert.is(loaded.getIdsList().length, n);
    const k = 10;
    const labelsA = new Int32Array(k);
    const labelsB = new Int32Array(k);
    const distA = new Float32Array(k);
    const distB = new Float32Array(k);
    for (let q = 0; q < n; q += 101) {
      original.searchKnn(data, q * dim, k, labelsA, distA, 0);
      loaded.searchKnn(data, q * dim, k, labelsB, distB, 0);
      assert.equal(Array.from(labelsB), Array.from(labelsA), `query ${q}`);
      assert.equal(Array.from(distB), Array.from(distA), `query ${q}`);
    }
    assert.not.ok(Array.from(labelsB).includes(77));
    assert.throws(() => loaded.unmarkDelete(5000), /not found/i);
    loaded.unmarkDelete(77); // the deleted mark came back with the file
    // the same bytes written back: nothing was lost or changed in the reading
    loaded.writeIndexSync(join(dir, 'again.bin'));
    const again = readFileSync(join(dir, 'again.bin'));
    loaded.markDelete(77);
    loaded.writeIndexSync(join(dir, 'again.bin'));
    assert.ok(readFileSync(join(dir, 'again.bin')).equals(index), 'byte-identical after a round trip');
    assert.not.ok(again.equals(index), 'the unmarked element shows in the file');

    const fresh = typed.create(dim);
    assert.throws(() => fresh.readIndexAtSync!(container, before.length, index.length - 8), /corrupted/);
    assert.throws(() => fresh.readIndexAtSync!(container, before.length + 4, index.length), /corrupted/);
    assert.throws(() => fresh.readIndexAtSync!(container, before.length, index.length + 1000), /past the end/);
    assert.throws(() => fresh.readIndexAtSync!(container, -1, 10), /offset must be a non-negative integer/);
    assert.throws(() => fresh.readIndexAtSync!(join(dir, 'missing.bin'), 0, 10), /cannot open/);
    assert.throws(
      () => typed.create(dim + 1).readIndexAtSync!(container, before.length, index.length),
      /16 dimensions, this index has 17/,
    );
    assert.throws(() => fresh.getIdsList(), /not initialised/, 'a refused read leaves no half-read index');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('markDelete hides a label, unmarkDelete and an update in place bring it back', () => {
  const index = build(typedBinding());
  const labels = new Int32Array(5);
  const dist = new Float32Array(5);
  index.markDelete(42);
  index.searchKnn(data, 42 * dim, 5, labels, dist, 0);
  assert.not.ok(Array.from(labels).includes(42));
  index.unmarkDelete(42);
  index.searchKnn(data, 42 * dim, 5, labels, dist, 0);
  assert.is(labels[0], 42);
  const moved = data.slice(900 * dim, 901 * dim);
  moved[0]! += 1e-3;
  index.addPoint(moved, 0, 42); // label 42 now sits next to 900
  index.searchKnn(data, 900 * dim, 2, labels, dist, 0);
  assert.equal(Array.from(labels.subarray(0, 2)).sort(), [42, 900]);
  assert.throws(() => index.markDelete(n + 5), /markDelete: .*not found/i);
});

test('typed search and insert allocate nothing on the JS heap', () => {
  const index = typedBinding().create(dim);
  index.initIndex(n + 30_000, 16, 64, 7);
  for (let i = 0; i < n; i++) index.addPoint(data, i * dim, i);
  const labels = new Int32Array(16);
  const dist = new Float32Array(16);
  let q = 0;
  const searches = (count: number) => {
    for (let i = 0; i < count; i++) {
      index.searchKnn(data, q * dim, 16, labels, dist, 0);
      q = (q + 1) % n;
    }
  };
  let next = n;
  const inserts = (count: number) => {
    for (let i = 0; i < count; i++) index.addPoint(data, (next % n) * dim, next++);
  };
  // warm until the loops are optimised (their compiled code counts as heap in the first windows)
  searches(40_000);
  inserts(5000);
  const perSearch = leastHeapGrowthPer(searches, 20_000);
  const perInsert = leastHeapGrowthPer(inserts, 5000);
  if (perSearch === undefined || perInsert === undefined) return;
  // hnswlib-node: ~600 B per search at 16 dimensions (boxed query elements, a result object). The
  // typed calls measure under 0.1 B in most runs; once under make test 23.6 B per insert (heap
  // growth also counts what a late compile of the calling loop leaves), so the limit sits between.
  assert.ok(perSearch < 64, `${perSearch.toFixed(2)} B per search`);
  assert.ok(perInsert < 64, `${perInsert.toFixed(2)} B per insert`);
});

test('bad arguments throw a clear Error and leave the index usable', () => {
  const typed = typedBinding();
  assert.throws(() => typed.create(0), /dim must be an integer/);
  const fresh = typed.create(dim);
  assert.throws(() => fresh.searchKnn(data, 0, 1, new Int32Array(1), new Float32Array(1), 0), /not initialised/);
  const index = build(typed);
  const labels = new Int32Array(4);
  const dist = new Float32Array(4);
  assert.throws(() => index.addPoint(data, n * dim - 3, 1), /offset .* exceeds its length/);
  assert.throws(() => index.addPoint(new Float64Array(dim) as unknown as Float32Array, 0, 1), /Float32Array/);
  assert.throws(() => index.addPoint(data, 0, -1), /label must be a non-negative integer/);
  assert.throws(() => index.searchKnn(data, 0, 5, labels, dist, 0), /exceeds the output arrays/);
  assert.throws(() => index.searchKnn(data, 0, 2, new Float32Array(4) as unknown as Int32Array, dist, 0), /Int32Array/);
  assert.throws(() => index.addPoint(data, 0, n + 1), /exceeds the specified limit/);
  assert.is(index.searchKnn(data, 7 * dim, 4, labels, dist, 0), 4);
  assert.is(labels[0], 7);
});

test('labels index a table in the addon: sparse labels work, one past its limit is refused', () => {
  const index = typedBinding().create(dim);
  index.initIndex(8, 16, 100, 7);
  const labels = [0, 5000, 70_000, 123];
  for (const [i, label] of labels.entries()) index.addPoint(data, i * dim, label);
  assert.equal(
    index.getIdsList().sort((a, b) => a - b),
    [0, 123, 5000, 70_000],
  );
  const found = new Int32Array(1);
  const dist = new Float32Array(1);
  for (const [i, label] of labels.entries()) {
    index.searchKnn(data, i * dim, 1, found, dist, 0);
    assert.is(found[0], label);
  }
  index.markDelete(70_000);
  assert.throws(() => index.markDelete(69_999), /markDelete: Label not found/);
  assert.throws(() => index.markDelete(1 << 28), /markDelete: Label not found/);
  index.addPoint(data, 2 * dim, 70_000); // a deleted label comes back where it was
  assert.throws(() => index.addPoint(data, 4 * dim, 2 ** 28), /label 268435456 is above engram's limit of 268435455/);
  // refused before an element was taken: the index (8 elements) still has room for 4 more
  for (let i = 4; i < 8; i++) index.addPoint(data, i * dim, (1 << 20) + i);
  assert.throws(() => index.addPoint(data, 8 * dim, 9), /exceeds the specified limit/);
  assert.is(index.getIdsList().length, 8);
  index.searchKnn(data, 7 * dim, 1, found, dist, 0);
  assert.is(found[0], (1 << 20) + 7);
});

test('while writeIndex runs, searches work and writes are refused', async () => {
  const index = build(typedBinding());
  const dir = mkdtempSync(join(tmpdir(), 'engram-hnsw-binding-'));
  try {
    const writing = index.writeIndex(join(dir, 'index.bin'));
    const labels = new Int32Array(3);
    const dist = new Float32Array(3);
    assert.is(index.searchKnn(data, 11 * dim, 3, labels, dist, 0), 3);
    assert.throws(() => index.addPoint(data, 0, 0), /being written/);
    assert.throws(() => index.markDelete(0), /being written/);
    await writing;
    index.markDelete(0);
    const reread = typedBinding().create(dim);
    reread.readIndexSync(join(dir, 'index.bin'));
    assert.is(reread.getIdsList().length, n);
    let rejected: unknown;
    await index.writeIndex(join(dir, 'missing-dir', 'index.bin')).catch((error: unknown) => {
      rejected = error;
    });
    assert.match(String(rejected), /writeIndex .*missing-dir.*: the file was not created/);
    assert.throws(() => index.writeIndexSync(join(dir, 'missing-dir', 'sync.bin')), /missing-dir.*not created/);
    index.addPoint(data, 0, 0); // usable again after a failed write
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The same moves (markDelete, then addPoint of the same label with a new vector: evict + slot reuse)
 * applied to copies of one graph; the index files, which hold every vector and link list, compared.
 */
function uniformVectors(count: number, vectorDim: number, seed: number): Float32Array {
  const out = new Float32Array(count * vectorDim);
  let state = seed;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 32;
  }
  return out;
}

function moveAll(index: HnswIndexHandle, moves: Float32Array, moveDim: number, count: number, labels: number): void {
  let state = 12345;
  for (let m = 0; m < count; m++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const label = state % labels;
    index.markDelete(label);
    index.addPoint(moves, m * moveDim, label);
  }
}

test("engram's move gives hnswlib's graph: the same index file as updatePoint after thousands of moves", async () => {
  const { typed, published } = await both();
  const dir = mkdtempSync(join(tmpdir(), 'engram-hnsw-move-'));
  try {
    // trajectories (low intrinsic dimension: few links per element) and uniform noise (many: the
    // link cap binds)
    for (const [kind, moveDim] of [
      ['trajectory', 16],
      ['trajectory', 64],
      ['uniform', 32],
    ] as const) {
      const count = 1500;
      const initial =
        kind === 'trajectory' ? trajectoryVectors(count, moveDim, 21) : uniformVectors(count, moveDim, 21);
      const moves =
        kind === 'trajectory' ? trajectoryVectors(4 * count, moveDim, 22) : uniformVectors(4 * count, moveDim, 22);
      const files: Record<string, string> = {};
      const variants: [string, HnswBinding, 'engram' | 'hnswlib' | undefined][] = [
        ['engram', typed, undefined],
        ['typed-updatePoint', typed, 'hnswlib'],
        ['hnswlib-node', published, undefined],
      ];
      for (const [name, binding, method] of variants) {
        const index = binding.create(moveDim);
        index.initIndex(count, 12, 64, 3);
        if (method !== undefined) index.setMoveMethod?.(method);
        for (let i = 0; i < count; i++) index.addPoint(initial, i * moveDim, i);
        if (name === 'engram') {
          files.before = join(dir, `before-${kind}-${moveDim}.bin`);
          index.writeIndexSync(files.before);
        }
        moveAll(index, moves, moveDim, 4 * count, count);
        files[name] = join(dir, `${name}-${kind}-${moveDim}.bin`);
        await index.writeIndex(files[name]!);
      }
      const engram = readFileSync(files.engram!);
      assert.not.ok(engram.equals(readFileSync(files.before!)), 'the moves changed the graph');
      const what = `${kind} d ${moveDim}`;
      assert.ok(engram.equals(readFileSync(files['typed-updatePoint']!)), `${what}: as updatePoint in the addon`);
      assert.ok(engram.equals(readFileSync(files['hnswlib-node']!)), `${what}: as hnswlib-node's updatePoint`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("setMoveMethod takes engram or hnswlib only; hnswlib-node cannot be asked for engram's move", async () => {
  const index = build(typedBinding());
  assert.throws(() => index.setMoveMethod?.('fast' as 'engram'), /setMoveMethod: expected "engram" or "hnswlib"/);
  index.setMoveMethod?.('hnswlib');
  index.setMoveMethod?.('engram');
  const store = new ExperienceStore({ capacity: 64, contextDim: dim, actionDim: 1, linksPerExperience: 0 });
  const options = { M: 16, efConstruction: 100, efSearch: 32, binding: 'hnswlib-node' } as const;
  const refused = await hnswFactory({ ...options, moveMethod: 'engram' }).create(store);
  assert.instance(refused, Error);
  assert.match((refused as Error).message, /hnswlib-node binding moves a slot only with hnswlib's updatePoint/);
  assert.instance(await hnswFactory({ ...options, moveMethod: 'hnswlib' }).create(store), HnswBackend);
});

test.run();
