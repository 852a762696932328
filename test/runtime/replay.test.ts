import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../brain/brain.js';
import { configHash } from '../../brain/memory/snapshot.js';
import { brainSnapshotSections, periodicBrainSnapshots } from '../../brain/memory/snapshot-brain.js';
import { type PeriodicSnapshots, SnapshotWriter } from '../../brain/memory/snapshot-writer.js';
import type { SimilarityRegistry } from '../../brain/similarity/registry.js';
import { composeLoop } from '../../runtime/cli/replay.js';
import { MockClock } from '../../runtime/clock.js';
import { type CycleObserver, LookupPath, Status } from '../../runtime/contracts.js';
import { FlightRecorder } from '../../runtime/recorder.js';
import { readRecording } from '../../runtime/recorder-reader.js';
import { replayRecording } from '../../runtime/replay.js';
import { CapturingLog } from '../brain/memory/snapshot-helpers.js';
import { type RecordedRun, runWorld, type TestConfigOverrides, testConfig, worldClock } from './replay-fixtures.js';

const replay = suite('replay');

async function record(
  dir: string,
  cycles: number,
  snapshot?: string,
  index: 'linear' | 'registry' = 'linear',
  slackNs?: (index: number) => number,
  more: {
    config?: TestConfigOverrides;
    observers?: CycleObserver[];
    onCycle?: (i: number, run: RecordedRun) => void;
  } = {},
) {
  const config = testConfig(more.config);
  // the profile for this machine class: the registry builds HNSW from N = 87 and serves it from 173
  config.brain.similarity.profile = 'ci-2core';
  const clock = worldClock();
  const recorder = new FlightRecorder({
    directory: join(dir, 'rec'),
    observationSize: 3,
    actionSize: 1,
    clock,
    log: new CapturingLog(),
    meta: { config: JSON.stringify(config), snapshot: snapshot ?? '' },
  });
  const run = await runWorld({
    config,
    clock,
    cycles,
    log: new CapturingLog(),
    observers: [recorder, ...(more.observers ?? [])],
    index,
    ...(slackNs ? { slackNs } : {}),
    ...(more.onCycle ? { onCycle: more.onCycle, yieldEvery: 1 } : {}),
    ...(snapshot ? { snapshot } : {}),
  });
  await recorder.close();
  return { config, run, recording: readRecording(join(dir, 'rec')) };
}

replay('a recorded run of the real loop and brain replays bit for bit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
  const { config, run, recording } = await record(dir, 400);
  assert.is(recording.cycles.length, 400);
  assert.ok(run.loop.counters.noInputCycles > 10, 'the run had cycles without input');
  assert.ok(run.loop.counters.rejectedFrames > 5, 'the run had rejected (NaN) frames');
  assert.ok(run.loop.counters.skippedTicks > 0, 'the run skipped ticks after late wakes');
  const report = await replayRecording(recording, (parts) =>
    composeLoop({ config, ...parts, log: new CapturingLog(), index: 'linear' }),
  );
  assert.is(report.divergence, undefined, JSON.stringify(report.divergence));
  assert.is(report.matchedCycles, 400);
  rmSync(dir, { recursive: true });
});

replay(
  'with the registry (HNSW built in slack time, then serving) the replay repeats the recorded slack work and matches bit for bit',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
    // Slack that varies as it does on a robot: after most cycles barely any (the index's work waits,
    // the brain's fixed work still runs), after every fourth one plenty. The replay's own slack is
    // the same every cycle, so only the recorded counts can make its index do what the run's did.
    const { config, recording } = await record(dir, 700, undefined, 'registry', (i) => (i % 4 === 0 ? 2e6 : 1));
    const paths = new Set(recording.cycles.map((c) => c.record.lookupPath));
    assert.ok(paths.has(LookupPath.linear) && paths.has(LookupPath.hnsw), 'the run switched from the scan to HNSW');
    const work = recording.cycles.map((c) => c.record.priorSlackWork);
    assert.ok(
      work.some((units) => units > 1),
      'slack work was recorded (index inserts, deferred HNSW writes)',
    );
    const replayOf = (contents: typeof recording) =>
      replayRecording(contents, (parts) => composeLoop({ config, ...parts, log: new CapturingLog() }));
    const report = await replayOf(recording);
    assert.is(report.divergence, undefined, JSON.stringify(report.divergence));
    assert.is(report.matchedCycles, 700);
    // Without the counts (a recording from before they were kept), the replay's slack work follows
    // its own simulated clock: the HNSW build and writes land at other cycles and the actions differ.
    for (const cycle of recording.cycles) cycle.record.priorSlackWork = Number.NaN;
    const unscripted = await replayOf(recording);
    assert.ok(unscripted.divergence, 'a replay that ignores the recorded slack work diverges');
    rmSync(dir, { recursive: true });
  },
);

replay(
  'periodic snapshots while learning on HNSW: the replay holds the index writes back where the exports did, and matches bit for bit',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
    // Memory full from cycle ~300 on, so every store evicts and removes a slot from HNSW; a
    // snapshot every 2 s of the run's clock exports the index from hnswlib's worker thread, which
    // ends at a moment set by real time (the run yields to the event loop every cycle).
    let snapshots: PeriodicSnapshots | undefined;
    const forward: CycleObserver = {
      cycleDone: (record, frame, action) => snapshots?.cycleDone(record, frame, action),
      flush: (untilNs) => snapshots?.flush(untilNs),
    };
    const { config, run, recording } = await record(dir, 900, undefined, 'registry', (i) => (i % 4 === 0 ? 2e6 : 1), {
      config: { capacity: 300 },
      observers: [forward],
      onCycle: (i, started) => {
        if (i !== 0) return;
        snapshots = periodicBrainSnapshots(started.loop.controller as Brain, {
          path: join(dir, 'snapshot.bin'),
          everyNs: 2e9,
          clock: started.clock,
          log: new CapturingLog(),
          configHash: 'test',
        });
      },
    });
    const brain = run.loop.controller as Brain;
    const hnsw = (brain.index as SimilarityRegistry).hnswForSnapshot()!.backend;
    assert.ok(hnsw.counters.deferredRemoves > 0, 'removes arrived while an export was writing');
    const held = recording.cycles.filter((c) => c.record.priorSlackWritesHeld === 1).length;
    assert.ok(held > 0, `slacks with the writes held were recorded (${held})`);
    let replayed: Brain | undefined;
    const replayOf = (contents: typeof recording) =>
      replayRecording(contents, (parts) =>
        composeLoop({
          config,
          ...parts,
          log: new CapturingLog(),
          wrap: (inner) => {
            replayed = inner as Brain;
            return parts.wrap(inner);
          },
        }),
      );
    const hnswOf = (of: Brain) => (of.index as SimilarityRegistry).hnswForSnapshot()!.backend.counters;
    const original = { ...hnswOf(brain) };
    const report = await replayOf(recording);
    assert.is(report.divergence, undefined, JSON.stringify(report.divergence));
    assert.is(report.matchedCycles, 900);
    // The replay's index went through the same operations: the same removes held back and queued,
    // the same writes applied (the final save above applied the rest of the original's queue).
    assert.is(hnswOf(replayed!).deferredRemoves, original.deferredRemoves);
    assert.is(hnswOf(replayed!).maxQueue, original.maxQueue);
    // Without the held flags (a recording from before they were kept) the replay applies those
    // removes at once: its index takes another sequence of operations (on this small, nearly exact
    // index the actions happen to agree; on a large one they need not).
    for (const cycle of recording.cycles) cycle.record.priorSlackWritesHeld = Number.NaN;
    await replayOf(recording);
    assert.is(hnswOf(replayed!).deferredRemoves, 0, 'without the flags no remove was held back');
    rmSync(dir, { recursive: true });
  },
);

replay(
  'steps cut off at their deadline stop at the recorded candidate in the replay, and match bit for bit',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
    // A host that slows down now and then: on every tenth cycle each clock read costs 0.25-1.2 ms, so
    // the planner passes its deadline after a number of candidates that depends on that cycle's
    // speed and on the effort rung the ladder is on (it steps back up after 3 calm cycles).
    const slowdowns = [250_000, 500_000, 700_000, 900_000, 1_200_000];
    const { config, run, recording } = await record(dir, 500, undefined, 'linear', undefined, {
      config: { effortUpAfterCycles: 3 },
      onCycle: (i, started) => {
        started.clock.autoAdvanceNs = i % 10 === 9 ? slowdowns[Math.floor(i / 10) % slowdowns.length]! : 15_000;
      },
    });
    assert.ok(run.loop.counters.anytimeCutoffs >= 10, `steps were cut off (${run.loop.counters.anytimeCutoffs})`);
    const cut = recording.cycles.filter((c) => c.record.stepStatus === Status.deadline);
    const stoppedAt = new Set(cut.map((c) => c.record.stepWork));
    assert.ok(stoppedAt.size >= 2, `cut off after several different candidate counts (${[...stoppedAt]})`);
    const full = recording.cycles.find((c) => c.record.stepStatus === Status.ok)!.record.stepWork;
    for (const work of stoppedAt) assert.ok(work >= 1 && work < full, `${work} of ${full} candidates`);
    const replayOf = () =>
      replayRecording(recording, (parts) =>
        composeLoop({ config, ...parts, log: new CapturingLog(), index: 'linear' }),
      );
    const report = await replayOf();
    assert.is(report.divergence, undefined, JSON.stringify(report.divergence));
    assert.is(report.matchedCycles, 500);
    // A recording from before the counts were kept: the replay's planner follows its own clock,
    // scores every candidate where the run was cut off, and the report says why it differs.
    for (const cycle of recording.cycles) cycle.record.stepWork = Number.NaN;
    const unscripted = await replayOf();
    assert.ok(unscripted.divergence, 'a replay that ignores the recorded counts diverges');
    assert.match(unscripted.divergence!.note ?? '', /cut off at its deadline/);
    rmSync(dir, { recursive: true });
  },
);

replay('a different brain diverges, and the first divergence is reported with its cycle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
  const { recording } = await record(dir, 300);
  const other = testConfig({ seed: 2 });
  const report = await replayRecording(recording, (parts) =>
    composeLoop({ config: other, ...parts, log: new CapturingLog(), index: 'linear' }),
  );
  assert.ok(report.divergence, 'a different seed must diverge');
  assert.match(report.divergence!.what, /action\.values\[0\]/);
  assert.is(report.matchedCycles, report.divergence!.index);
  rmSync(dir, { recursive: true });
});

replay('a single changed bit in a recorded action is found at its cycle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
  const { config, recording } = await record(dir, 200);
  const target = recording.cycles.findIndex((c, i) => i > 120 && c.action.values[0] !== 0);
  const values = recording.cycles[target]!.action.values;
  const bits = new Uint32Array(values.buffer, values.byteOffset, 1);
  bits[0] = bits[0]! ^ 1;
  const report = await replayRecording(recording, (parts) =>
    composeLoop({ config, ...parts, log: new CapturingLog(), index: 'linear' }),
  );
  assert.is(report.divergence?.index, target);
  assert.is(report.divergence?.cycle, recording.cycles[target]!.record.cycle);
  rmSync(dir, { recursive: true });
});

replay('a run that started from a snapshot replays only with that snapshot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
  // Learn for a while, save the memory, then record a run that starts from it.
  const config = testConfig();
  const learned = await runWorld({ config, cycles: 300, log: new CapturingLog() });
  const brain = (learned.loop.controller as Brain) ?? assert.unreachable();
  assert.ok(brain.store.size() > 100);
  const snapshot = join(dir, 'snapshot.bin');
  new SnapshotWriter({
    path: snapshot,
    sections: brainSnapshotSections(brain),
    clock: new MockClock(),
    log: new CapturingLog(),
    configHash: configHash(config.brain),
  }).saveNow();
  const { recording } = await record(dir, 200, snapshot);
  const withSnapshot = await replayRecording(recording, (parts) =>
    composeLoop({ config, ...parts, log: new CapturingLog(), index: 'linear', snapshot }),
  );
  assert.is(withSnapshot.divergence, undefined, JSON.stringify(withSnapshot.divergence));
  assert.is(withSnapshot.matchedCycles, 200);
  const without = await replayRecording(recording, (parts) =>
    composeLoop({ config, ...parts, log: new CapturingLog(), index: 'linear' }),
  );
  assert.ok(without.divergence, 'an empty brain must not reproduce what a learned one did');
  rmSync(dir, { recursive: true });
});

replay('engram replay (the CLI) reads the stored config and reports the result as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
  await record(dir, 150);
  const main = new URL('../../runtime/cli/main.ts', import.meta.url).pathname;
  const result = spawnSync(process.execPath, ['--import', 'tsx', main, 'replay', join(dir, 'rec'), '--json'], {
    encoding: 'utf8',
  });
  assert.is(result.status, 0, `${result.stdout}\n${result.stderr}`);
  const lastLine = result.stdout.trim().split('\n').at(-1)!;
  let last: { ok: boolean; matchedCycles: number };
  try {
    last = JSON.parse(lastLine);
  } catch {
    throw new Error(`the last stdout line is not JSON: ${lastLine}\n--- stderr:\n${result.stderr}`);
  }
  assert.is(last.ok, true);
  assert.is(last.matchedCycles, 150);
  assert.match(result.stdout, /every action matches/);
  rmSync(dir, { recursive: true });
});

replay('engram replay names a missing snapshot and a damaged recording instead of crashing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-replay-'));
  await record(dir, 50);
  const main = new URL('../../runtime/cli/main.ts', import.meta.url).pathname;
  const missing = join(dir, 'nowhere.bin');
  const noSnapshot = spawnSync(
    process.execPath,
    ['--import', 'tsx', main, 'replay', join(dir, 'rec'), '--snapshot', missing],
    {
      encoding: 'utf8',
    },
  );
  assert.is(noSnapshot.status, 1);
  assert.match(noSnapshot.stderr, /cannot start from the snapshot: snapshot .*nowhere\.bin: missing/);
  const notARecording = spawnSync(process.execPath, ['--import', 'tsx', main, 'replay', dir], { encoding: 'utf8' });
  assert.is(notARecording.status, 1);
  assert.match(notARecording.stderr, /holds no segment/);
  rmSync(dir, { recursive: true });
});

replay.run();
