/**
 * `engram run` end to end on an in-process sim task: the config file, the real driver, brain and
 * loop on the system clock, a snapshot saved at exit and restored by the next run, a flight
 * recording written, and the CLI's exit codes for a bad config.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, stringify } from 'yaml';
import { command, runConfig } from '../../runtime/cli/run.js';
import { parseRuntimeConfig } from '../../runtime/config.js';
import { silentLogger } from '../../runtime/log.js';
import { readCpuLatency } from '../../runtime/scheduling.js';

const configsDir = new URL('../../configs/', import.meta.url).pathname;

test('a sim task runs, saves its memory at exit, records, and the next run restores the memory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-run-'));
  try {
    const raw = parse(readFileSync(join(configsDir, 'point_mass_easy.yaml'), 'utf8'));
    raw.snapshot = { path: join(dir, 'memory.snap'), everySeconds: 60 };
    raw.recording = { path: join(dir, 'recording') };
    const config = parseRuntimeConfig(raw);
    const options = { durationMs: 1500, showStatus: false, logger: silentLogger(), handleSignals: false };
    const first = await runConfig(config, options);
    assert.is(first.stopReason, 'duration');
    assert.ok(first.cycles > 30, `${first.cycles} cycles in 1.5 s at 50 Hz`);
    assert.is(first.snapshotRestored, null, 'first boot: nothing to restore');
    assert.ok(first.status.experiences > 10, `${first.status.experiences} experiences learned`);
    assert.ok(readdirSync(dir).includes('memory.snap'), 'snapshot saved at exit');
    assert.ok(first.recording?.startsWith(join(dir, 'recording', 'point_mass_easy-')), String(first.recording));
    assert.ok(readdirSync(first.recording!).length > 0, 'recording segments written');
    const second = await runConfig(config, { ...options, durationMs: 300 });
    assert.is(second.snapshotRestored, join(dir, 'memory.snap'));
    assert.ok(second.status.experiences >= first.status.experiences, 'the memory came back');
    assert.is.not(second.recording, first.recording, 'each run records into its own directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timing.cpuLatencyUs is held while the loop runs and released when it stops', async () => {
  const raw = parse(readFileSync(join(configsDir, 'point_mass_easy.yaml'), 'utf8'));
  raw.timing = { ...raw.timing, cpuLatencyUs: 9 };
  raw.recording = { enabled: false };
  const before = readCpuLatency();
  let during: number | Error | undefined;
  const summary = await runConfig(parseRuntimeConfig(raw), {
    durationMs: 300,
    showStatus: false,
    logger: silentLogger(),
    handleSignals: false,
    observers: [
      {
        cycleDone: () => {
          during ??= readCpuLatency();
        },
        flush: () => {},
      },
    ],
  });
  if (before instanceof Error || summary.cpuLatencyHeldUs === null) {
    console.log(`  skipped the held part: ${before instanceof Error ? before.message : 'not permitted here'}`);
    assert.is(summary.cpuLatencyHeldUs, null);
    return;
  }
  assert.is(summary.cpuLatencyHeldUs, 9);
  assert.is(during, Math.min(before, 9), 'the kernel honoured it during the run');
  assert.is(readCpuLatency(), before, 'released at shutdown');
});

test('engram run: a bad config exits 2 naming the file and key; a missing --config exits 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-run-'));
  const file = join(dir, 'bad.yaml');
  const raw = parse(readFileSync(join(configsDir, 'pendulum_swingup.yaml'), 'utf8'));
  raw.budget.cycleMS = 5;
  writeFileSync(file, stringify(raw));
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    assert.is(await command.run(['--config', file]), 2);
    assert.is(await command.run([]), 2);
  } finally {
    process.stderr.write = original;
    rmSync(dir, { recursive: true, force: true });
  }
  assert.is(written[0], `engram run: invalid config ${file}: budget.cycleMS: unknown key\n`);
  assert.match(written[1]!, /--config <file> is required/);
});

test('engram run refuses to start empty when the snapshot is unusable (onUnusable: fail), and may when told to', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-run-'));
  const snapshot = join(dir, 'snapshot.bin');
  writeFileSync(snapshot, 'not a snapshot at all');
  const raw = parse(readFileSync(join(configsDir, 'pendulum_swingup.yaml'), 'utf8'));
  raw.snapshot = { path: snapshot };
  raw.recording = { enabled: false };
  const file = join(dir, 'run.yaml');
  writeFileSync(file, stringify(raw));
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await command.run(['--config', file, '--duration', '0.2s', '--no-status']);
  } finally {
    process.stderr.write = original;
  }
  assert.is(code, 1);
  const message = written.find((line) => line.startsWith('engram run: cannot start:'));
  assert.ok(message, written.join(''));
  assert.match(message!, /snapshot\.onUnusable is 'fail'/);
  assert.match(message!, /snapshot\.bin: not-a-snapshot/);
  raw.snapshot.onUnusable = 'start-empty';
  const started = await runConfig(parseRuntimeConfig(raw), {
    durationMs: 200,
    showStatus: false,
    logger: silentLogger(),
    handleSignals: false,
  });
  assert.is(started.snapshotRestored, null);
  assert.is(started.restoredExperiences, 0);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
