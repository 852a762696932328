import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { configHash, previousSnapshotPath, type SnapshotError } from '../../../brain/memory/snapshot.js';
import { inspectSnapshot, restoreSnapshot, SnapshotRestoreError } from '../../../brain/memory/snapshot-reader.js';
import { storeSection } from '../../../brain/memory/snapshot-store.js';
import { PeriodicSnapshots, SnapshotWriter } from '../../../brain/memory/snapshot-writer.js';
import { ExperienceStore, type StoreLayout } from '../../../brain/memory/store.js';
import { MockClock } from '../../../runtime/clock.js';
import { CapturingLog, fillStore, storesEqual } from './snapshot-helpers.js';

const layout: StoreLayout = { capacity: 3000, contextDim: 12, actionDim: 3, linksPerExperience: 4 };

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'engram-snapshot-'));
  const path = join(dir, 'snapshot.bin');
  const store = new ExperienceStore(layout);
  fillStore(store, 2500, 400, 7);
  const log = new CapturingLog();
  const clock = new MockClock(0, 1000);
  const writer = new SnapshotWriter({
    path,
    sections: [storeSection(store, { blockBytes: 16 * 1024 })],
    clock,
    log,
    configHash: configHash({ layout }),
  });
  return { dir, path, store, log, clock, writer };
}

const snapshot = suite('snapshot');

snapshot('a saved store restores exactly, free list and all', () => {
  const { dir, path, store, writer } = setup();
  const outcome = writer.saveNow();
  assert.ok(outcome.ok, outcome.ok ? '' : outcome.error.message);
  const restored = new ExperienceStore(layout);
  const result = restoreSnapshot({ path, sections: [storeSection(restored)], log: new CapturingLog() });
  assert.is(result.kind, 'restored');
  assert.equal(storesEqual(store, restored), []);
  assert.is(restored.size(), store.size());
  // The same slots are free (the store keeps its free-list order private: a restored store hands
  // out the lowest free slot first, as a fresh one does).
  const freeBefore: number[] = [];
  for (let slot = 0; slot < layout.capacity; slot++) if (store.alive[slot] === 0) freeBefore.push(slot);
  assert.is(restored.allocate(1), freeBefore[0]);
  rmSync(dir, { recursive: true });
});

snapshot('step() saves in bounded chunks before the deadline, then commits asynchronously', async () => {
  const { dir, path, store, clock, writer } = setup();
  assert.ok(writer.begin());
  let steps = 0;
  while (writer.state() === 'writing') {
    const until = clock.peek() + 5000; // room for a few chunks of 1000 ns each on the mock clock
    writer.step(until);
    // each mock clock read advances 1000 ns: the step's last two reads may pass `until`
    assert.ok(clock.peek() <= until + 2000, 'a step ran past its deadline');
    steps++;
    await new Promise((resolve) => setImmediate(resolve)); // the threadpool completes writes
  }
  assert.ok(steps > 3, `expected several steps, got ${steps}`);
  assert.not.ok(existsSync(path), 'the final file appears only after fsync and rename');
  await writer.settle();
  assert.ok(writer.outcome()?.ok, String((writer.outcome() as { error?: Error }).error));
  const info = inspectSnapshot(path);
  assert.is(info.checksum, 'ok');
  assert.is(info.header.sections[0]?.meta.live, store.size());
  rmSync(dir, { recursive: true });
});

snapshot('the shutdown save drops a periodic save in progress and saves the state as it is now', async () => {
  const { dir, path, store, clock, writer } = setup();
  const periodic = new PeriodicSnapshots(writer, clock, { everyNs: 1 });
  periodic.flush(clock.peek() + 3000); // begins a save: header and counts captured now
  assert.is(writer.state(), 'writing');
  await writer.settle();
  const before = store.size();
  for (let i = 0; i < 50; i++) store.release(lastLive(store));
  assert.is(store.size(), before - 50, 'the memory changed while the periodic save was in progress');
  const outcome = await periodic.saveNow();
  assert.ok(outcome.ok, outcome.ok ? '' : outcome.error.message);
  assert.is(writer.failed, 0, 'dropping the unfinished save is not a failure');
  const info = inspectSnapshot(path);
  assert.is(info.checksum, 'ok');
  assert.is(info.header.sections[0]?.meta.live, store.size(), 'the header counts what the file holds now');
  const restored = new ExperienceStore(layout);
  restoreSnapshot({ path, sections: [storeSection(restored)], log: new CapturingLog() });
  assert.equal(storesEqual(store, restored), []);
  assert.not.ok(existsSync(writer.tempPath), 'no temporary file left behind');
  rmSync(dir, { recursive: true });
});

function lastLive(store: ExperienceStore): number {
  for (let slot = store.capacity - 1; slot >= 0; slot--) if (store.alive[slot] === 1) return slot;
  throw new Error('no live slot');
}

snapshot('the previous good snapshot is kept beside the new one', () => {
  const { dir, path, store, writer } = setup();
  writer.saveNow();
  const firstLive = store.size();
  store.release(store.alive.indexOf(1));
  writer.saveNow();
  const previous = inspectSnapshot(previousSnapshotPath(path));
  const current = inspectSnapshot(path);
  assert.is(previous.header.sections[0]?.meta.live, firstLive);
  assert.is(current.header.sections[0]?.meta.live, firstLive - 1);
  rmSync(dir, { recursive: true });
});

function corruptAndRestore(damage: (path: string) => void, expected: SnapshotError['problem']) {
  const { dir, path, store, writer } = setup();
  writer.saveNow();
  const good = new ExperienceStore(layout);
  for (let i = 0; i < layout.capacity; i++) good.allocate(0);
  // The previous good snapshot holds `store` as saved first; the newest is damaged.
  writer.saveNow();
  damage(path);
  const restored = new ExperienceStore(layout);
  const log = new CapturingLog();
  const result = restoreSnapshot({ path, sections: [storeSection(restored)], log });
  assert.is(result.kind, 'restored');
  if (result.kind !== 'restored') return;
  assert.ok(result.fellBack);
  assert.is(result.problems[0]?.problem, expected);
  assert.ok(result.problems[0]?.message.includes(path), 'the error names the file');
  assert.ok(
    log.lines.some((line) => line.level === 'error' && String(line.details.file) === path),
    'the unusable file is logged',
  );
  assert.equal(storesEqual(store, restored), [], 'nothing learned is lost');
  rmSync(dir, { recursive: true });
}

snapshot('a truncated snapshot is named as truncated and the previous one restores', () => {
  corruptAndRestore((path) => {
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.byteLength * 0.6)));
  }, 'truncated');
});

snapshot('a bit flip in the experiences is a checksum mismatch naming the section', () => {
  corruptAndRestore((path) => {
    const bytes = readFileSync(path);
    const at = Math.floor(bytes.byteLength / 2);
    bytes[at] = bytes[at]! ^ 0x10;
    writeFileSync(path, bytes);
  }, 'checksum-mismatch');
});

snapshot('a bit flip in the header is a corrupt header', () => {
  corruptAndRestore((path) => {
    const fd = openSync(path, 'r+');
    const bytes = readFileSync(path);
    writeSync(fd, Buffer.from([bytes[30]! ^ 0x01]), 0, 1, 30);
    closeSync(fd);
  }, 'corrupt-header');
});

snapshot('a different format version is unsupported', () => {
  corruptAndRestore((path) => {
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([99, 0, 0, 0]), 0, 4, 8);
    closeSync(fd);
  }, 'unsupported-version');
});

snapshot('a file that is not a snapshot is named so', () => {
  corruptAndRestore((path) => writeFileSync(path, 'hello, I am a text file, not a memory'), 'not-a-snapshot');
});

snapshot('a snapshot of another layout is incompatible, with the differing key named', () => {
  const { dir, path, writer } = setup();
  writer.saveNow();
  const other = new ExperienceStore({ ...layout, contextDim: 13 });
  assert.throws(
    () => restoreSnapshot({ path, sections: [storeSection(other)], log: new CapturingLog() }),
    (error: unknown) =>
      error instanceof SnapshotRestoreError &&
      error.problems.every((p) => p.problem === 'incompatible') &&
      error.message.includes('contextDim is 12 in the snapshot, 13 here'),
  );
  assert.is(other.size(), 0, 'an incompatible snapshot touches nothing');
  rmSync(dir, { recursive: true });
});

snapshot('a bigger memory restores a smaller snapshot; a smaller one refuses', () => {
  const { dir, path, store, writer } = setup();
  writer.saveNow();
  const bigger = new ExperienceStore({ ...layout, capacity: 5000 });
  restoreSnapshot({ path, sections: [storeSection(bigger)], log: new CapturingLog() });
  assert.is(bigger.size(), store.size());
  const smaller = new ExperienceStore({ ...layout, capacity: 1000 });
  assert.throws(
    () => restoreSnapshot({ path, sections: [storeSection(smaller)], log: new CapturingLog() }),
    /capacity/,
  );
  rmSync(dir, { recursive: true });
});

snapshot('starting empty is a decision of the policy, never an accident', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-snapshot-'));
  const path = join(dir, 'snapshot.bin');
  const store = new ExperienceStore(layout);
  const sections = [storeSection(store)];
  const first = restoreSnapshot({ path, sections, log: new CapturingLog() });
  assert.equal(first.kind, 'empty');
  assert.throws(
    () =>
      restoreSnapshot({ path, sections, log: new CapturingLog(), policy: { onMissing: 'fail', onUnusable: 'fail' } }),
    /no snapshot at/,
  );
  writeFileSync(path, 'garbage');
  assert.throws(() => restoreSnapshot({ path, sections, log: new CapturingLog() }), /refusing to start empty/);
  const log = new CapturingLog();
  const empty = restoreSnapshot({
    path,
    sections,
    log,
    policy: { onMissing: 'fail', onUnusable: 'start-empty' },
  });
  assert.is(empty.kind, 'empty');
  assert.ok(log.lines.some((line) => line.level === 'warn' && line.message.includes('EMPTY')));
  rmSync(dir, { recursive: true });
});

snapshot('inspect reports counts, dims, config hash and a checksum mismatch without throwing', () => {
  const { dir, path, store, writer } = setup();
  writer.saveNow();
  const info = inspectSnapshot(path);
  const meta = info.header.sections[0]!.meta;
  assert.is(meta.contextDim, 12);
  assert.is(meta.live, store.size());
  assert.is(info.header.configHash, configHash({ layout }));
  assert.is(info.fileBytes, statSync(path).size);
  const bytes = readFileSync(path);
  bytes[bytes.byteLength - 100] = bytes[bytes.byteLength - 100]! ^ 0xff;
  writeFileSync(path, bytes);
  const damaged = inspectSnapshot(path);
  assert.is(damaged.checksum, 'mismatch');
  assert.equal(damaged.damagedSections, ['experiences']);
  rmSync(dir, { recursive: true });
});

snapshot('config hash ignores key order and sees value changes', () => {
  assert.is(configHash({ a: 1, b: { c: 2, d: 3 } }), configHash({ b: { d: 3, c: 2 }, a: 1 }));
  assert.is.not(configHash({ a: 1 }), configHash({ a: 2 }));
});

snapshot.run();
