/**
 * Fault: the disk fills up while recording or snapshotting. Real ENOSPC from a small tmpfs
 * (mounted here; needs root, as in CI). What the user must see: an error naming the file, the
 * recording paused (and resumed once there is room), the loop running every cycle regardless,
 * and the last good snapshot intact and restorable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../brain/brain.js';
import { brainSnapshotSections } from '../../brain/memory/snapshot-brain.js';
import { restoreSnapshot } from '../../brain/memory/snapshot-reader.js';
import { storeSection } from '../../brain/memory/snapshot-store.js';
import { PeriodicSnapshots, SnapshotWriter } from '../../brain/memory/snapshot-writer.js';
import { ExperienceStore } from '../../brain/memory/store.js';
import { composeLoop } from '../../runtime/cli/replay.js';
import { FlightRecorder } from '../../runtime/recorder.js';
import { readRecording } from '../../runtime/recorder-reader.js';
import { replayRecording } from '../../runtime/replay.js';
import { CapturingLog, fillStore, storesEqual } from '../brain/memory/snapshot-helpers.js';
import { runWorld, testConfig, worldClock } from '../runtime/replay-fixtures.js';

interface SmallDisk {
  dir: string;
  resize(bytes: number): void;
  release(): void;
}

/** A tmpfs of `bytes`, or undefined (with the reason printed) where mounting is not allowed. */
function smallDisk(bytes: number): SmallDisk | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'engram-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true });
    console.log(`  SKIPPED: cannot mount a small tmpfs here (${mounted.stderr.trim() || 'mount failed'}); run as root`);
    return undefined;
  }
  return {
    dir,
    resize(size) {
      const result = spawnSync('mount', ['-o', `remount,size=${size}`, dir], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`remount failed: ${result.stderr}`);
    },
    release() {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const faults = suite('disk full');

faults('recording: ENOSPC is logged, recording pauses, the loop runs on, and recording resumes with room', async () => {
  const disk = smallDisk(64 * 1024);
  if (!disk) return;
  try {
    const config = testConfig();
    const clock = worldClock();
    const log = new CapturingLog();
    const recorder = new FlightRecorder({
      directory: join(disk.dir, 'rec'),
      observationSize: 3,
      actionSize: 1,
      clock,
      log,
      retryAfterMs: 100,
      meta: { config: JSON.stringify(config) },
    });
    let pausedAt = -1;
    const cycles = 2500;
    const run = await runWorld({
      config,
      clock,
      cycles,
      log: new CapturingLog(),
      observers: [recorder],
      yieldEvery: 1, // the recorder's file operations complete off the loop thread
      onCycle(index) {
        if (pausedAt < 0 && recorder.isPaused()) pausedAt = index;
        if (index === 1500) disk.resize(4 * 1024 * 1024); // someone frees space
      },
    });
    await recorder.close();
    assert.is(run.loop.counters.cycles, cycles, 'the loop ran every cycle');
    assert.ok(pausedAt > 0 && pausedAt < 1500, `recording paused when the disk filled (at ${pausedAt})`);
    const paused = log.lines.find((line) => line.level === 'error');
    assert.ok(paused, 'the full disk is logged as an error');
    assert.is(paused!.details.code, 'ENOSPC');
    assert.match(String(paused!.details.file), /segment-\d+\.engrec$/);
    // Each pause is logged once, not each failed retry: errors and resumptions alternate (a retry
    // may fit a little in the space the truncated segment gave back, then fill the disk again).
    const transitions = log.lines
      .filter((line) => line.level === 'error' || line.message.includes('resumed'))
      .map((line) => (line.level === 'error' ? 'paused' : 'resumed'));
    for (let i = 1; i < transitions.length; i++) {
      assert.is.not(transitions[i], transitions[i - 1], `logged per retry: ${transitions.join(', ')}`);
    }
    assert.ok(
      log.lines.some((line) => line.message.includes('resumed')),
      'recording resumed after space was freed',
    );
    assert.ok(recorder.counters.droppedPaused > 0);
    assert.is(
      recorder.counters.recorded + recorder.counters.droppedPaused + recorder.counters.droppedBufferFull,
      cycles,
      'every cycle is either recorded or counted as dropped',
    );

    // What was recorded is intact: it reads back, has one gap, and replays bit for bit up to it.
    const recording = readRecording(join(disk.dir, 'rec'));
    assert.is(recording.cycles.length, recorder.counters.recorded);
    assert.ok(
      recording.warnings.some((warning) => /missing/.test(warning)),
      recording.warnings.join('\n'),
    );
    const report = await replayRecording(recording, (parts) =>
      composeLoop({ config, ...parts, log: new CapturingLog(), index: 'linear' }),
    );
    assert.is(report.divergence, undefined, JSON.stringify(report.divergence));
    assert.ok(report.matchedCycles > 100);
    assert.ok(report.warnings.some((warning) => /stopped at a gap/.test(warning)));
  } finally {
    disk.release();
  }
});

faults('snapshot: a save that fills the disk fails cleanly; the last good snapshot stays and restores', async () => {
  const layout = { capacity: 4000, contextDim: 16, actionDim: 4, linksPerExperience: 4 };
  const store = new ExperienceStore(layout);
  fillStore(store, 3000, 100, 5);
  const bytesPerSnapshot = layout.capacity * 237 + 1024;
  const disk = smallDisk(Math.floor(bytesPerSnapshot * 1.6));
  if (!disk) return;
  try {
    const path = join(disk.dir, 'snapshot.bin');
    const log = new CapturingLog();
    const clock = worldClock();
    const writer = new SnapshotWriter({ path, sections: [storeSection(store)], clock, log, configHash: 'test' });
    assert.ok(writer.saveNow().ok, 'the first snapshot fits');
    const saved = new ExperienceStore(layout);
    restoreSnapshot({ path, sections: [storeSection(saved)], log: new CapturingLog() });
    fillStore(store, 500, 0, 6); // learn more, then try to save again: the temporary file cannot fit
    assert.ok(writer.begin());
    while (writer.state() === 'writing') {
      writer.step(clock.peek() + 1e6);
      await new Promise((resolve) => setImmediate(resolve)); // the threadpool completes writes
    }
    const outcome = writer.outcome()!;
    assert.not.ok(outcome.ok, 'the second save must fail on a disk this small');
    assert.is((outcome as { error: NodeJS.ErrnoException }).error.code, 'ENOSPC');
    const logged = log.lines.find((line) => line.level === 'error');
    assert.is(logged?.details.code, 'ENOSPC');
    assert.match(String(logged?.details.file), /snapshot\.bin\.tmp$/);
    assert.not.ok(existsSync(`${path}.tmp`), 'the partial temporary file is removed, freeing the space');
    const restored = new ExperienceStore(layout);
    const result = restoreSnapshot({ path, sections: [storeSection(restored)], log: new CapturingLog() });
    assert.is(result.kind, 'restored');
    assert.equal(storesEqual(saved, restored), [], 'the last good snapshot is intact');
  } finally {
    disk.release();
  }
});

faults('snapshot in slack time on the real loop: a full disk never stops the loop', async () => {
  const config = testConfig({ capacity: 4000 });
  const layout = {
    capacity: 4000,
    contextDim: 3,
    actionDim: 1,
    linksPerExperience: config.brain.memory.linksPerExperience,
  };
  const snapshotBytes = storeSection(new ExperienceStore(layout)).beginSave().byteLength + 4096;
  // room for one snapshot and most of a second: the first save fits, the second cannot
  const disk = smallDisk(Math.floor(snapshotBytes * 1.6));
  if (!disk) return;
  try {
    const clock = worldClock();
    const log = new CapturingLog();
    let periodic: PeriodicSnapshots | undefined;
    const path = join(disk.dir, 'snapshot.bin');
    const run = await runWorld({
      config,
      clock,
      cycles: 1200,
      log: new CapturingLog(),
      yieldEvery: 1,
      onCycle(index, { loop }) {
        if (index === 0) {
          const writer = new SnapshotWriter({
            path,
            sections: brainSnapshotSections(loop.controller as Brain),
            clock,
            log,
            configHash: 'test',
          });
          periodic = new PeriodicSnapshots(writer, clock, { everyNs: 4e9 });
        }
        periodic!.flush(clock.peek() + 2e6);
      },
    });
    assert.is(run.loop.counters.cycles, 1200);
    const writer = periodic!.writer;
    assert.ok(writer.saved >= 1, 'at least one save fitted');
    assert.ok(writer.failed >= 1, `a later save hit the full disk (saved ${writer.saved})`);
    assert.ok(log.lines.some((line) => line.level === 'error' && line.details.code === 'ENOSPC'));
    const brain = run.loop.controller as Brain;
    const fresh = await composeLoop({
      config,
      clock: worldClock(),
      driver: run.world,
      log: new CapturingLog(),
      index: 'linear',
    });
    const outcome = restoreSnapshot({ path, sections: brainSnapshotSections(fresh.controller as Brain), log });
    assert.is(outcome.kind, 'restored', 'the last good snapshot restores');
    assert.ok((fresh.controller as Brain).store.size() > 0);
    assert.ok((fresh.controller as Brain).store.size() <= brain.store.size());
    assert.ok(readdirSync(disk.dir).every((name) => !name.endsWith('.tmp')));
  } finally {
    disk.release();
  }
});

faults.run();
