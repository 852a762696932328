/** `engram inspect` as a user runs it: what a snapshot holds, and damage named with exit status 1. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { storeSection } from '../../../brain/memory/snapshot-store.js';
import { SnapshotWriter } from '../../../brain/memory/snapshot-writer.js';
import { ExperienceStore } from '../../../brain/memory/store.js';
import { MockClock } from '../../../runtime/clock.js';
import { CapturingLog, fillStore } from './snapshot-helpers.js';

const main = new URL('../../../runtime/cli/main.ts', import.meta.url).pathname;
const inspect = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', main, 'inspect', ...args], { encoding: 'utf8' });
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

const cli = suite('engram inspect');

cli('prints counts, dims, created, config hash and checksum status; exit 1 when damaged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-inspect-'));
  const path = join(dir, 'snapshot.bin');
  const store = new ExperienceStore({ capacity: 800, contextDim: 5, actionDim: 2, linksPerExperience: 3 });
  fillStore(store, 700, 50, 4);
  const writer = new SnapshotWriter({
    path,
    sections: [storeSection(store)],
    clock: new MockClock(),
    log: new CapturingLog(),
    configHash: 'cafe0123',
  });
  assert.ok(writer.saveNow().ok);

  const sound = inspect(path, '--json');
  assert.is(sound.status, 0, sound.stderr);
  const info = lastJson(sound.stdout);
  assert.is(info.ok, true);
  assert.is(info.checksum, 'ok');
  assert.is(info.configHash, 'cafe0123');
  assert.ok(typeof info.created === 'string' && info.created.length > 10);
  const experiences = info.sections.find((s: { name: string }) => s.name === 'experiences');
  assert.is(experiences.live, 650);
  assert.is(experiences.contextDim, 5);
  assert.is(experiences.capacity, 800);
  assert.match(sound.stdout, /checksum\s+ok/);

  const bytes = readFileSync(path);
  bytes[bytes.byteLength - 200] = bytes[bytes.byteLength - 200]! ^ 0x20;
  writeFileSync(path, bytes);
  const damaged = inspect(path, '--json');
  assert.is(damaged.status, 1);
  assert.is(lastJson(damaged.stdout).checksum, 'mismatch');
  assert.equal(lastJson(damaged.stdout).damagedSections, ['experiences']);

  writeFileSync(path, bytes.subarray(0, 100));
  const truncated = inspect(path, '--json');
  assert.is(truncated.status, 1);
  assert.is(lastJson(truncated.stdout).problem, 'truncated');
  assert.match(truncated.stderr, /snapshot\.bin: truncated/);

  const usage = inspect();
  assert.is(usage.status, 2);
  rmSync(dir, { recursive: true });
});

cli.run();
