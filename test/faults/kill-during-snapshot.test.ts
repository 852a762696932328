/**
 * Fault: the process is killed (SIGKILL, no chance to clean up) while it writes a snapshot.
 * What the user must see at the next start: the previous good snapshot restored whole, or the new
 * one if the kill came after its atomic rename; never a corrupt or empty memory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { configHash } from '../../brain/memory/snapshot.js';
import { restoreSnapshot } from '../../brain/memory/snapshot-reader.js';
import { storeSection } from '../../brain/memory/snapshot-store.js';
import { SnapshotWriter } from '../../brain/memory/snapshot-writer.js';
import { ExperienceStore } from '../../brain/memory/store.js';
import { MockClock } from '../../runtime/clock.js';
import { CapturingLog, fillStore, storesEqual } from '../brain/memory/snapshot-helpers.js';

const capacity = 20_000;
const layout = { capacity, contextDim: 16, actionDim: 4, linksPerExperience: 4 };
const child = new URL('./snapshot-writer-child.ts', import.meta.url).pathname;

function storeFor(seed: number): ExperienceStore {
  const store = new ExperienceStore(layout);
  fillStore(store, Math.floor(capacity * 0.9), Math.floor(capacity * 0.1), seed);
  return store;
}

/** Starts the child writer; resolves once it has begun writing, with a promise for its exit. */
function startWriter(path: string, seed: number, pauseMs: number) {
  const process_ = spawn(
    process.execPath,
    ['--import', 'tsx', child, path, String(seed), String(capacity), String(pauseMs)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    process_.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const begun = new Promise<void>((resolve, reject) => {
    process_.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('begun')) resolve();
    });
    process_.on('exit', () => reject(new Error(`writer exited before beginning: ${output}`)));
  });
  return { process: process_ as ChildProcess, begun, exited, output: () => output };
}

const faults = suite('kill -9 during a snapshot write');

faults('killed mid-write: the next start restores the previous good snapshot, nothing lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-kill-'));
  const path = join(dir, 'snapshot.bin');
  const good = storeFor(1);
  const saved = new SnapshotWriter({
    path,
    sections: [storeSection(good)],
    clock: new MockClock(),
    log: new CapturingLog(),
    configHash: configHash(layout),
  }).saveNow();
  assert.ok(saved.ok);

  const writer = startWriter(path, 2, 5);
  await writer.begun;
  await new Promise((resolve) => setTimeout(resolve, 100));
  writer.process.kill('SIGKILL');
  const exit = await writer.exited;
  assert.is(exit.signal, 'SIGKILL');
  assert.not.match(writer.output(), /saved/, 'the kill came after the write finished: the test proves nothing');
  assert.ok(existsSync(`${path}.tmp`), 'the half-written temporary file is left behind');

  const restored = new ExperienceStore(layout);
  const log = new CapturingLog();
  const outcome = restoreSnapshot({ path, sections: [storeSection(restored)], log });
  assert.is(outcome.kind, 'restored');
  assert.equal(storesEqual(good, restored), [], 'the restored memory is the previous good one, whole');
  rmSync(dir, { recursive: true });
});

faults('killed at random moments of repeated saves: every start restores a whole snapshot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-kill-'));
  const path = join(dir, 'snapshot.bin');
  new SnapshotWriter({
    path,
    sections: [storeSection(storeFor(10))],
    clock: new MockClock(),
    log: new CapturingLog(),
    configHash: configHash(layout),
  }).saveNow();
  let lastGoodSeed = 10;
  // deterministic spread of kill moments: early, mid-write, around the commit, after completion
  const delaysMs = [0, 30, 120, 260, 400, 900];
  for (let i = 0; i < delaysMs.length; i++) {
    const seed = 11 + i;
    const writer = startWriter(path, seed, 1);
    await writer.begun;
    await new Promise((resolve) => setTimeout(resolve, delaysMs[i]));
    writer.process.kill('SIGKILL');
    await writer.exited;
    const completed = writer.output().includes('saved');
    const restored = new ExperienceStore(layout);
    const outcome = restoreSnapshot({ path, sections: [storeSection(restored)], log: new CapturingLog() });
    assert.is(outcome.kind, 'restored', `start after kill ${i} found no usable snapshot`);
    const isNew = storesEqual(storeFor(seed), restored).length === 0;
    const isOld = !isNew && storesEqual(storeFor(lastGoodSeed), restored).length === 0;
    assert.ok(isNew || isOld, `kill ${i} (${delaysMs[i]} ms): the restored memory is neither the old nor the new one`);
    if (completed) assert.ok(isNew, `kill ${i}: the save had completed, yet the old memory came back`);
    if (isNew) lastGoodSeed = seed;
  }
  rmSync(dir, { recursive: true });
});

faults.run();
