/**
 * `engram bench snapshot`: what persistence costs, on this machine.
 *
 * 1. Restore: a store of N experiences (default 1e6 at d = 64) saved with the real writer, then
 *    restored (every checksum verified, then read into a fresh store) several times, each in a fresh
 *    process as at start-up (bench/restore-child.ts); the target is under 5 s for 1e6. The file is
 *    in the page cache (just written): a cold read adds the disk.
 * 2. HNSW at M experiences: rebuilding the index from the vectors vs restoring experiences and
 *    index from one snapshot (format 2's 'hnsw' section; the restore target applies at M = 1e6).
 * 3. Saving at 100 Hz: the real loop and runner on the system clock with the real brain learning,
 *    run twice for the same time: without saving, then saving the N-experience memory over and
 *    over in slack time (PeriodicSnapshots). The target is no overruns caused by saving.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Brain } from '../brain/brain.js';
import { brainConfig } from '../brain/config.js';
import { configHash, type SnapshotSection } from '../brain/memory/snapshot.js';
import { brainSnapshotSections, reindex } from '../brain/memory/snapshot-brain.js';
import { hnswSection } from '../brain/memory/snapshot-index.js';
import { inspectSnapshot } from '../brain/memory/snapshot-reader.js';
import { storeSection } from '../brain/memory/snapshot-store.js';
import { PeriodicSnapshots, SnapshotWriter } from '../brain/memory/snapshot-writer.js';
import { ExperienceStore, type StoreLayout } from '../brain/memory/store.js';
import { type HnswBackend, type HnswOptions, hnswFactory } from '../brain/similarity/hnsw.js';
import { nodeScript } from '../drivers/driver-script.js';
import { durationFlag, numberFlag, parseCommandArgs, printJsonLast, type Subcommand } from '../runtime/cli/args.js';
import { composeLoop } from '../runtime/cli/replay.js';
import { systemClock } from '../runtime/clock.js';
import { loadRuntimeConfig } from '../runtime/config.js';
import type { CycleObserver, CycleRecord, EventLog } from '../runtime/contracts.js';
import { LoopRunner } from '../runtime/loop-runner.js';
import { SyntheticPendulum } from './lib/pendulum.js';
import { describeMachine, machineLine, repoRoot, table, updateBenchmarksDoc, writeResult } from './lib/report.js';
import { distribution, GcCounter, median } from './lib/stats.js';
import type { ChildRestore } from './restore-child.js';

const quiet: EventLog = { info() {}, warn() {}, error() {} };

/** A store with every slot live and random contents (an LCG straight into the arrays: fast). */
function filledStore(layout: StoreLayout, seed: number): ExperienceStore {
  const store = new ExperienceStore(layout);
  for (let i = 0; i < layout.capacity; i++) store.allocate(i);
  let state = seed >>> 0;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  for (const array of [
    store.context,
    store.outcome,
    store.action,
    store.reward,
    store.returnEstimate,
    store.linkWeight,
  ]) {
    for (let i = 0; i < array.length; i++) array[i] = random() * 2 - 1;
  }
  for (let i = 0; i < store.links.length; i++) store.links[i] = Math.floor(random() * layout.capacity);
  return store;
}

const restoreChild = nodeScript(import.meta.url, './restore-child');

/** One restore in a fresh process (bench/restore-child.ts): the memory a robot finds at start-up. */
function restoreInFreshProcess(path: string, layout: StoreLayout, hnsw?: HnswOptions): ChildRestore {
  const args = [...restoreChild.nodeArgs, restoreChild.path, path, JSON.stringify(layout)];
  if (hnsw) args.push(JSON.stringify(hnsw));
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  const last = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !last.startsWith('{')) {
    throw new Error(`restore child exited ${child.status}: ${child.stderr}${child.stdout}`);
  }
  const result = JSON.parse(last) as ChildRestore;
  if (result.size !== layout.capacity)
    throw new Error(`restore holds ${result.size} of ${layout.capacity} experiences`);
  if (hnsw && result.indexSize !== layout.capacity) {
    throw new Error(`restored index holds ${result.indexSize} of ${layout.capacity}`);
  }
  return result;
}

interface RestoreResult {
  experiences: number;
  dim: number;
  fileMiB: number;
  saveSeconds: number;
  verifySeconds: number[];
  restoreSeconds: number[];
  restoreMedianSeconds: number;
  underFiveSeconds: boolean;
}

function measureRestore(dir: string, layout: StoreLayout, repeats: number): RestoreResult {
  const store = filledStore(layout, 1);
  const path = join(dir, 'restore.bin');
  const writer = new SnapshotWriter({
    path,
    sections: [storeSection(store)],
    clock: systemClock,
    log: quiet,
    configHash: configHash(layout),
  });
  const saveStarted = systemClock.nowNs();
  const saved = writer.saveNow();
  if (!saved.ok) throw saved.error;
  const saveSeconds = (systemClock.nowNs() - saveStarted) / 1e9;
  const verifySeconds: number[] = [];
  const restoreSeconds: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const verifyStarted = systemClock.nowNs();
    if (inspectSnapshot(path).checksum !== 'ok') throw new Error('the benchmark snapshot does not verify');
    verifySeconds.push((systemClock.nowNs() - verifyStarted) / 1e9);
    restoreSeconds.push(restoreInFreshProcess(path, layout).seconds);
  }
  const fileMiB = statSync(path).size / 2 ** 20;
  rmSync(path, { force: true });
  const restoreMedianSeconds = median(restoreSeconds);
  return {
    experiences: layout.capacity,
    dim: layout.contextDim,
    fileMiB,
    saveSeconds,
    verifySeconds,
    restoreSeconds,
    restoreMedianSeconds,
    underFiveSeconds: restoreMedianSeconds < 5,
  };
}

interface HnswResult {
  experiences: number;
  dim: number;
  rebuildSeconds: number;
  rebuildPerExperienceUs: number;
  /** synchronous save of experiences + index section (index export, copy, fsync) */
  saveSeconds: number;
  fileMiB: number;
  indexMiB: number;
  /** whole-memory restores: verify every checksum, experiences, index section loaded */
  restoreSeconds: number[];
  restoreMedianSeconds: number;
  repaired: number;
}

/**
 * HNSW at M experiences: building the index from the vectors (what a restore without the index
 * section costs, in slack time) against restoring experiences and index from one snapshot.
 */
async function measureHnsw(dir: string, layout: StoreLayout, repeats: number): Promise<HnswResult | string> {
  const store = filledStore(layout, 2);
  // the brain's default graph (brain/config.ts)
  const { M, efConstruction, efSearch } = brainConfig({}).similarity.hnsw;
  const factory = hnswFactory({ M, efConstruction, efSearch, seed: 1 });
  const built = await factory.create(store);
  if (built instanceof Error) return built.message;
  const backend = built as HnswBackend;
  const started = systemClock.nowNs();
  reindex(store, backend);
  const rebuildSeconds = (systemClock.nowNs() - started) / 1e9;
  const path = join(dir, 'hnsw.bin');
  const tempPath = join(dir, 'hnsw.bin.hnsw.tmp');
  const writer = new SnapshotWriter({
    path,
    sections: [storeSection(store), hnswSection({ source: () => ({ backend, built: true }), tempPath })],
    clock: systemClock,
    log: quiet,
    configHash: 'bench',
  });
  const saveStarted = systemClock.nowNs();
  const saved = writer.saveNow();
  if (!saved.ok) throw saved.error;
  const saveSeconds = (systemClock.nowNs() - saveStarted) / 1e9;
  const info = inspectSnapshot(path, { checkSums: false });
  const indexEntry = info.header.sections.find((section) => section.name === 'hnsw');
  const restoreSeconds: number[] = [];
  let repaired = -1;
  for (let r = 0; r < repeats; r++) {
    const restored = restoreInFreshProcess(path, layout, { M, efConstruction, efSearch, seed: 1 });
    restoreSeconds.push(restored.seconds);
    repaired = restored.repaired;
  }
  const fileMiB = statSync(path).size / 2 ** 20;
  rmSync(path, { force: true });
  return {
    experiences: layout.capacity,
    dim: layout.contextDim,
    rebuildSeconds,
    rebuildPerExperienceUs: (rebuildSeconds * 1e6) / layout.capacity,
    saveSeconds,
    fileMiB,
    indexMiB: ((indexEntry?.meta.indexBytes as number | undefined) ?? 0) / 2 ** 20,
    restoreSeconds,
    restoreMedianSeconds: median(restoreSeconds),
    repaired,
  };
}

class Sampler implements CycleObserver {
  count = 0;
  readonly lateness: Float64Array;
  readonly cycle: Float64Array;
  constructor(capacity: number) {
    this.lateness = new Float64Array(capacity);
    this.cycle = new Float64Array(capacity);
  }
  cycleDone(record: CycleRecord): void {
    if (this.count >= this.lateness.length) return;
    this.lateness[this.count] = record.latenessNs;
    this.cycle[this.count] = record.cycleNs;
    this.count++;
  }
  flush(): void {}
}

interface SavingRun {
  saving: boolean;
  seconds: number;
  cycles: number;
  achievedRateHz: number;
  overruns: number;
  deadlineMisses: number;
  skippedTicks: number;
  maintenanceOverruns: number;
  latenessUs: { p50: number; p99: number; max: number };
  cycleUs: { p50: number; p99: number; max: number };
  savesCompleted: number;
  savesFailed: number;
  snapshotMiB: number;
  meanSaveSeconds: number;
  gc: { minor: number; major: number; pauseMs: number };
}

async function measureSaving(
  dir: string,
  memory: ExperienceStore | undefined,
  seconds: number,
  rateHz: number,
): Promise<SavingRun> {
  const config = loadRuntimeConfig(join(repoRoot, 'configs', 'pendulum_swingup.yaml'));
  config.rateHz = rateHz;
  config.budget.cycleMs = (1000 / rateHz) * 0.8;
  config.brain.memory.capacity = 20_000;
  const sampler = new Sampler(Math.ceil(rateHz * seconds) + 200);
  const observers: CycleObserver[] = [sampler];
  const loop = await composeLoop({
    config,
    clock: systemClock,
    driver: new SyntheticPendulum(),
    log: quiet,
    observers,
  });
  let periodic: PeriodicSnapshots | undefined;
  if (memory) {
    const sections: SnapshotSection[] = [...brainSnapshotSections(loop.controller as Brain)];
    sections[0] = storeSection(memory); // the big memory stands in for the brain's store
    const writer = new SnapshotWriter({
      path: join(dir, 'saving.bin'),
      sections,
      clock: systemClock,
      log: quiet,
      configHash: 'bench',
    });
    periodic = new PeriodicSnapshots(writer, systemClock, { everyNs: 1 }); // back to back
    observers.push(periodic);
  }
  const runner = new LoopRunner(loop, systemClock, {
    strategy: config.timing.strategy,
    wakeLeadNs: config.timing.wakeLeadUs * 1e3,
    spinNs: config.timing.spinUs * 1e3,
    durationNs: seconds * 1e9,
    onWaiterFallback: (why) => {
      throw new Error(`timing.strategy ${config.timing.strategy}: ${why}`);
    },
  });
  const gc = new GcCounter().start();
  const started = systemClock.nowNs();
  await runner.run();
  const elapsed = (systemClock.nowNs() - started) / 1e9;
  const gcs = await gc.stop();
  await periodic?.writer.settle();
  const lateness = distribution(sampler.lateness, sampler.count);
  const cycle = distribution(sampler.cycle, sampler.count);
  const c = loop.counters;
  const writer = periodic?.writer;
  const outcome = writer?.outcome();
  const snapshotMiB = outcome?.ok ? outcome.bytes / 2 ** 20 : 0;
  return {
    saving: memory !== undefined,
    seconds: elapsed,
    cycles: c.cycles,
    achievedRateHz: loop.achievedRateHz(),
    overruns: c.overruns,
    deadlineMisses: c.deadlineMisses,
    skippedTicks: c.skippedTicks,
    maintenanceOverruns: c.maintenanceOverruns,
    latenessUs: { p50: lateness.p50 / 1e3, p99: lateness.p99 / 1e3, max: lateness.max / 1e3 },
    cycleUs: { p50: cycle.p50 / 1e3, p99: cycle.p99 / 1e3, max: cycle.max / 1e3 },
    savesCompleted: writer?.saved ?? 0,
    savesFailed: writer?.failed ?? 0,
    snapshotMiB,
    meanSaveSeconds: writer && writer.saved > 0 ? elapsed / writer.saved : 0,
    gc: { minor: gcs.minor, major: gcs.major, pauseMs: gcs.pauseMs },
  };
}

const help = `usage: engram bench snapshot [--experiences N] [--dim D] [--hnsw M] [--duration D] [--rate HZ]
                            [--repeats R] [--dir PATH] [--json]

Restore time of N experiences (target: 1e6 in under 5 s), restore with the HNSW index section vs
rebuilding the index at M experiences, and overruns at --rate while saving the N-experience memory in slack time.

  --experiences N  experiences in the saved memory (default 1000000)
  --dim D          context dimension (default 64; action 8, 8 links)
  --hnsw M         experiences for the whole-memory restore with the HNSW index section, against
                   rebuilding the index (default 20000; 0 = skip; 1e6 builds for minutes)
  --duration D     length of each 100 Hz run, without and with saving (default 30s)
  --rate HZ        loop rate for the saving runs (default 100)
  --repeats R      restores to time (default 3)
  --dir PATH       where to write the files (default: a temporary directory)
  --json           print one JSON object as the last line of stdout`;

export const command: Subcommand = {
  name: 'bench snapshot',
  summary: 'snapshot restore time, HNSW rebuild vs load, overruns while saving',
  help,
  async run(argv) {
    const args = parseCommandArgs(
      argv,
      {
        experiences: { type: 'string' },
        dim: { type: 'string' },
        hnsw: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        repeats: { type: 'string' },
        dir: { type: 'string' },
        json: { type: 'boolean' },
      },
      help,
    );
    if (!args) return 0;
    const experiences = numberFlag(args.values.experiences, 'experiences', 1_000_000);
    const dim = numberFlag(args.values.dim, 'dim', 64);
    const hnswExperiences = numberFlag(args.values.hnsw, 'hnsw', 20_000);
    const seconds = durationFlag(args.values.duration, 'duration', 30_000) / 1000;
    const rateHz = numberFlag(args.values.rate, 'rate', 100);
    const repeats = numberFlag(args.values.repeats, 'repeats', 3);
    const dir = args.values.dir ?? mkdtempSync(join(tmpdir(), 'engram-bench-snapshot-'));
    mkdirSync(dir, { recursive: true });
    const layout: StoreLayout = { capacity: experiences, contextDim: dim, actionDim: 8, linksPerExperience: 8 };
    const log = (line: string) => process.stderr.write(`${line}\n`);

    log(`restore: ${experiences} experiences at d=${dim}...`);
    const restore = measureRestore(dir, layout, repeats);
    log(`  restore median ${restore.restoreMedianSeconds.toFixed(2)} s (${restore.fileMiB.toFixed(0)} MiB)`);
    let hnsw: HnswResult | string = 'skipped';
    if (hnswExperiences > 0) {
      log(`hnsw: rebuild vs load at ${hnswExperiences}...`);
      hnsw = await measureHnsw(dir, { ...layout, capacity: hnswExperiences }, repeats);
      if (typeof hnsw !== 'string')
        log(
          `  rebuild ${hnsw.rebuildSeconds.toFixed(1)} s; restore with the index ${hnsw.restoreMedianSeconds.toFixed(2)} s`,
        );
    }
    log(`saving at ${rateHz} Hz: ${seconds} s without, then ${seconds} s saving ${experiences} experiences...`);
    const baseline = await measureSaving(dir, undefined, seconds, rateHz);
    const memory = filledStore(layout, 3);
    const saving = await measureSaving(dir, memory, seconds, rateHz);
    if (args.values.dir === undefined) rmSync(dir, { recursive: true, force: true });

    const result = {
      restore,
      hnsw,
      saving: { rateHz, baseline, saving },
      targets: {
        restore1e6UnderFiveSeconds: experiences >= 1e6 ? restore.underFiveSeconds : null,
        restore1e6WithIndexUnderFiveSeconds:
          typeof hnsw !== 'string' && hnsw.experiences >= 1e6 ? hnsw.restoreMedianSeconds < 5 : null,
        noOverrunsCausedBySaving: saving.overruns <= baseline.overruns,
      },
    };
    const path = writeResult('snapshot', result);
    const runRow = (run: SavingRun): (string | number)[] => [
      run.saving ? `saving ${experiences.toLocaleString('en')} exp. back to back` : 'no saving',
      run.cycles,
      run.achievedRateHz.toFixed(2),
      run.overruns,
      run.maintenanceOverruns,
      run.skippedTicks,
      run.latenessUs.p99.toFixed(0),
      run.cycleUs.p99.toFixed(0),
      run.cycleUs.max.toFixed(0),
      run.saving ? `${run.savesCompleted} (${run.snapshotMiB.toFixed(0)} MiB each)` : '-',
    ];
    const hnswText =
      typeof hnsw === 'string'
        ? `HNSW comparison: ${hnsw}.`
        : `**Restore with the HNSW index** (section \`hnsw\`, format 2) of ${hnsw.experiences.toLocaleString('en')} experiences at d = ${dim} (file ${hnsw.fileMiB.toFixed(0)} MiB, of which index ${hnsw.indexMiB.toFixed(0)} MiB):
median **${hnsw.restoreMedianSeconds.toFixed(2)} s** over ${hnsw.restoreSeconds.length} (${hnsw.restoreSeconds.map((s) => s.toFixed(2)).join(', ')} s), each in a fresh process as at start-up, timed from creating the empty store and index: every checksum verified, the experiences read,
the index section loaded in place by hnswlib's loader (engram's addon reads it inside the snapshot file) and reconciled (${hnsw.repaired} slots repaired). Without the section the index is
rebuilt from the vectors: ${hnsw.rebuildSeconds.toFixed(1)} s here (${hnsw.rebuildPerExperienceUs.toFixed(0)} µs per experience), in slack time after start.
Synchronous save of experiences + index: ${hnsw.saveSeconds.toFixed(2)} s.`;
    const markdown = `## Snapshots (\`engram bench snapshot\`)

Machine: ${machineLine(describeMachine())}.
Command: \`engram bench snapshot ${argv.filter((a) => a !== '--json').join(' ')}\`.

**Restore** of ${experiences.toLocaleString('en')} experiences at d = ${dim} (action 8, 8 links; file ${restore.fileMiB.toFixed(0)} MiB, in the page cache):
median **${restore.restoreMedianSeconds.toFixed(2)} s** over ${repeats} (${restore.restoreSeconds.map((s) => s.toFixed(2)).join(', ')} s), each verifying every
checksum before reading into a fresh store, each in a fresh process as at start-up (bench/restore-child.ts; timed from creating the store) (verify alone: ${median(restore.verifySeconds).toFixed(2)} s). Target under 5 s: ${restore.underFiveSeconds ? 'met' : '**not met**'}.
Synchronous save of the same: ${restore.saveSeconds.toFixed(2)} s (with fsync).

${hnswText}

**Saving at ${rateHz} Hz** (the real loop, runner and brain on the system clock, ${seconds} s each; the saving run writes the
${experiences.toLocaleString('en')}-experience memory again as soon as each save commits, in slack time only):

${table(['run', 'cycles', 'achieved Hz', 'overruns', 'slack overruns', 'skipped ticks', 'lateness p99 µs', 'cycle p99 µs', 'cycle max µs', 'saves completed'], [runRow(baseline), runRow(saving)])}

Cycle overruns while saving: ${saving.overruns} against ${baseline.overruns} without (${result.targets.noOverrunsCausedBySaving ? 'none attributable to saving' : `**${saving.overruns - baseline.overruns} more**`}). Slack overruns count slack work
(the brain's maintain, observers) that ran past its bound, including the brain's own maintain, which exceeds the
bound by itself in the baseline run. Skipped ticks and lateness show how loaded the shared machine was.`;
    updateBenchmarksDoc('snapshot', markdown);
    process.stdout.write(`${markdown}\n\nresults: ${path}\n`);
    if (args.values.json) printJsonLast(result);
    return 0;
  },
};
