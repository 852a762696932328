/**
 * `engram bench soak`: the loop at 100 Hz for a long time (default 10 minutes) with the brain
 * learning every cycle at its memory cap (evicting to store), the flight recorder on (rotating
 * segments) and periodic snapshots in slack time: everything a long-running robot does.
 *
 * Checks: the cap is never exceeded (sampled every cycle), RSS after warm-up grows less than 5%,
 * and no overruns caused by maintenance (slack work is counted apart from cycle overruns; a cycle
 * overrun is charged to maintenance when the slack work before it ran past its bound).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Brain } from '../brain/brain.js';
import { configHash } from '../brain/memory/snapshot.js';
import { brainSnapshotSections } from '../brain/memory/snapshot-brain.js';
import { PeriodicSnapshots, SnapshotWriter } from '../brain/memory/snapshot-writer.js';
import { durationFlag, numberFlag, parseCommandArgs, printJsonLast, type Subcommand } from '../runtime/cli/args.js';
import { composeLoop } from '../runtime/cli/replay.js';
import { systemClock } from '../runtime/clock.js';
import { loadRuntimeConfig } from '../runtime/config.js';
import {
  type Controller,
  type CycleObserver,
  type CycleRecord,
  createAction,
  createFrame,
  type EventLog,
  LookupPath,
  Status,
  type StepTimings,
} from '../runtime/contracts.js';
import { LoopRunner } from '../runtime/loop-runner.js';
import { FlightRecorder } from '../runtime/recorder.js';
import { SyntheticPendulum } from './lib/pendulum.js';
import { describeMachine, machineLine, repoRoot, table, updateBenchmarksDoc, writeResult } from './lib/report.js';
import { distribution, GcCounter } from './lib/stats.js';

const quiet: EventLog = { info() {}, warn() {}, error() {} };

/** The soak's world: a pendulum with 1000-step episodes and slowly drifting gravity (new experiences keep coming). */
const soakWorld = (): SyntheticPendulum => new SyntheticPendulum({ episodeSteps: 1000, drift: 0.2 });

/** Per cycle: memory size (cap check), cycle time and overrun attribution; RSS once per second. */
class SoakObserver implements CycleObserver {
  cycles = 0;
  maxSize = 0;
  capExceeded = 0;
  overruns = 0;
  /** overruns or skipped ticks right after slack work that ran past its bound */
  overrunsAfterLongMaintenance = 0;
  maxMaintenanceNs = 0;
  readonly cycleNs: Float64Array;
  readonly rssMiB: number[] = [];
  readonly rssAtSecond: number[] = [];
  /** the previous cycle's record: the loop writes its slack duration into it after the observers ran */
  private previous: CycleRecord | undefined;
  private nextRssNs = 0;
  private readonly startedNs = systemClock.nowNs();

  constructor(
    private readonly brain: Brain,
    capacity: number,
    private readonly maintenanceBoundNs: number,
  ) {
    this.cycleNs = new Float64Array(capacity);
  }

  cycleDone(record: CycleRecord): void {
    const size = this.brain.store.size();
    if (size > this.maxSize) this.maxSize = size;
    if (size > this.brain.hardCap) this.capExceeded++;
    const slackBefore = this.previous?.maintenanceNs ?? 0;
    if (slackBefore > this.maxMaintenanceNs) this.maxMaintenanceNs = slackBefore;
    if (record.overrun || record.skippedTicks > 0) {
      if (record.overrun) this.overruns++;
      if (slackBefore > this.maintenanceBoundNs) this.overrunsAfterLongMaintenance++;
    }
    if (this.cycles < this.cycleNs.length) this.cycleNs[this.cycles] = record.cycleNs;
    this.previous = record;
    this.cycles++;
  }

  /** Runs last in slack time: reads the previous cycle's slack duration and samples RSS. */
  flush(): void {
    const now = systemClock.nowNs();
    if (now >= this.nextRssNs) {
      this.nextRssNs = now + 1e9;
      this.rssMiB.push(process.memoryUsage.rss() / 2 ** 20);
      this.rssAtSecond.push((now - this.startedNs) / 1e9);
    }
  }
}

/** Time spent by one kind of slack work: how often it ran past the window it was given, and its max. */
class SlackTimer {
  calls = 0;
  overBound = 0;
  maxNs = 0;
  constructor(readonly name: string) {}
  note(ns: number, boundNs: number): void {
    this.calls++;
    if (ns > boundNs) this.overBound++;
    if (ns > this.maxNs) this.maxNs = ns;
  }
  summary(boundNs: number) {
    return {
      name: this.name,
      calls: this.calls,
      overBound: this.overBound,
      maxMs: this.maxNs / 1e6,
      boundMs: boundNs / 1e6,
    };
  }
}

function timedMaintain(inner: Controller, timer: SlackTimer): Controller {
  return {
    observationSize: inner.observationSize,
    actionSize: inner.actionSize,
    step: (frame, deadlineNs, actionOut, timings) => inner.step(frame, deadlineNs, actionOut, timings),
    maintain(untilNs) {
      const started = systemClock.nowNs();
      inner.maintain(untilNs);
      timer.note(systemClock.nowNs() - started, Math.max(0, untilNs - started));
    },
    setEffort: (effort) => inner.setEffort(effort),
    setExploration: (enabled) => inner.setExploration(enabled),
  };
}

function timedFlush(inner: CycleObserver, timer: SlackTimer): CycleObserver {
  return {
    cycleDone: (record, frame, action) => inner.cycleDone(record, frame, action),
    flush(untilNs) {
      const started = systemClock.nowNs();
      inner.flush(untilNs);
      timer.note(systemClock.nowNs() - started, Math.max(0, untilNs - started));
    },
  };
}

/** Lock-step learning (no waiting) until the memory is at its cap, so the whole soak runs there. */
function prefillToCap(brain: Brain): number {
  const started = systemClock.nowNs();
  const world = soakWorld();
  const frame = createFrame(brain.observationSize);
  const action = createAction(brain.actionSize);
  const timings: StepTimings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
  for (let i = 0; brain.store.size() < brain.hardCap && i < brain.hardCap * 4; i++) {
    if (world.poll(frame) !== Status.ok) continue;
    brain.step(frame, systemClock.nowNs() + 5e6, action.values, timings);
    world.publish(action);
    brain.maintain(systemClock.nowNs() + 5e6);
  }
  return (systemClock.nowNs() - started) / 1e9;
}

const help = `usage: engram bench soak [--duration D] [--rate HZ] [--capacity N] [--warmup D]
                        [--snapshot-every D] [--json]

The loop, the learning brain at its memory cap, the flight recorder and periodic snapshots, for a
long run. Reports the cap (never exceeded?), RSS growth after warm-up (target < 5%), overruns and
slack-time overruns, GC.

  --duration D        how long (default 10m)
  --rate HZ           loop rate (default 100)
  --capacity N        memory cap in experiences (default 5000; filled in lock step before the run)
  --warmup D          RSS growth is measured from this point (default 60s, at most a third of the run)
  --snapshot-every D  periodic snapshot interval (default 30s)
  --json              print one JSON object as the last line of stdout`;

export const command: Subcommand = {
  name: 'bench soak',
  summary: 'long run at the memory cap with recorder and snapshots',
  help,
  async run(argv) {
    const args = parseCommandArgs(
      argv,
      {
        duration: { type: 'string' },
        rate: { type: 'string' },
        capacity: { type: 'string' },
        warmup: { type: 'string' },
        'snapshot-every': { type: 'string' },
        json: { type: 'boolean' },
      },
      help,
    );
    if (!args) return 0;
    const seconds = durationFlag(args.values.duration, 'duration', 600_000) / 1000;
    const rateHz = numberFlag(args.values.rate, 'rate', 100);
    const capacity = numberFlag(args.values.capacity, 'capacity', 5000);
    const warmupSeconds = Math.min(durationFlag(args.values.warmup, 'warmup', 60_000) / 1000, seconds / 3);
    const snapshotEverySeconds = durationFlag(args.values['snapshot-every'], 'snapshot-every', 30_000) / 1000;
    const dir = mkdtempSync(join(tmpdir(), 'engram-soak-'));

    const config = loadRuntimeConfig(join(repoRoot, 'configs', 'pendulum_swingup.yaml'));
    config.rateHz = rateHz;
    config.budget.cycleMs = (1000 / rateHz) * 0.8;
    config.brain.memory.capacity = capacity;
    const observers: CycleObserver[] = [];
    const slack = {
      maintain: new SlackTimer('brain.maintain'),
      recorder: new SlackTimer('recorder.flush'),
      snapshots: new SlackTimer('snapshots.flush'),
    };
    let brain!: Brain;
    const loop = await composeLoop({
      config,
      clock: systemClock,
      driver: soakWorld(),
      log: quiet,
      observers,
      wrap(controller) {
        brain = controller as Brain;
        return timedMaintain(controller, slack.maintain);
      },
    });
    brain.setExploration(true);
    const prefillSeconds = prefillToCap(brain);
    const soak = new SoakObserver(brain, Math.ceil(rateHz * seconds) + 1000, loop.settings.maintenanceNs);
    const recorder = new FlightRecorder({
      directory: join(dir, 'recording'),
      observationSize: brain.observationSize,
      actionSize: brain.actionSize,
      clock: systemClock,
      log: quiet,
      maxSegmentBytes: 8 << 20,
      maxSegments: 4,
    });
    const snapshots = new PeriodicSnapshots(
      new SnapshotWriter({
        path: join(dir, 'snapshot.bin'),
        sections: brainSnapshotSections(brain),
        clock: systemClock,
        log: quiet,
        configHash: configHash(config.brain),
      }),
      systemClock,
      { everyNs: snapshotEverySeconds * 1e9 },
    );
    observers.push(soak, timedFlush(recorder, slack.recorder), timedFlush(snapshots, slack.snapshots));

    process.stderr.write(`soak: ${seconds} s at ${rateHz} Hz, memory cap ${capacity}, files in ${dir}\n`);
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
    const progress = setInterval(() => {
      const rss = soak.rssMiB.at(-1) ?? 0;
      process.stderr.write(
        `  ${(soak.cycles / rateHz).toFixed(0)} s: ${soak.cycles} cycles, memory ${brain.store.size()}/${brain.hardCap}, RSS ${rss.toFixed(0)} MiB, overruns ${loop.counters.overruns}\n`,
      );
    }, 30_000);
    await runner.run();
    clearInterval(progress);
    const gcs = await gc.stop();
    await recorder.close();
    await snapshots.writer.settle();
    loop.publishSafe();

    // RSS growth from the end of warm-up to the end (median of the last 10 samples vs the first 10
    // after warm-up, so a single GC-timed sample does not decide).
    const afterWarmup = soak.rssMiB.filter((_, i) => soak.rssAtSecond[i]! >= warmupSeconds);
    const head = afterWarmup.slice(0, 10);
    const tail = afterWarmup.slice(-10);
    const mid = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    const rssStart = mid(head);
    const rssEnd = mid(tail);
    const rssGrowthPercent = ((rssEnd - rssStart) / rssStart) * 100;
    const cycle = distribution(soak.cycleNs, Math.min(soak.cycles, soak.cycleNs.length));
    const c = loop.counters;
    const result = {
      seconds,
      rateHz,
      achievedRateHz: loop.achievedRateHz(),
      cycles: c.cycles,
      skippedTicks: c.skippedTicks,
      overruns: c.overruns,
      overrunsAfterLongMaintenance: soak.overrunsAfterLongMaintenance,
      maintenanceOverruns: c.maintenanceOverruns,
      maxMaintenanceUs: soak.maxMaintenanceNs / 1e3,
      slackWork: Object.values(slack).map((timer) => timer.summary(loop.settings.maintenanceNs)),
      cycleUs: { p50: cycle.p50 / 1e3, p99: cycle.p99 / 1e3, max: cycle.max / 1e3 },
      memory: {
        prefillSeconds,
        cap: brain.hardCap,
        maxObserved: soak.maxSize,
        cyclesOverCap: soak.capExceeded,
        stored: brain.counters.stored,
        evictions: brain.counters.evictions,
      },
      rss: {
        warmupSeconds,
        startMiB: rssStart,
        endMiB: rssEnd,
        growthPercent: rssGrowthPercent,
        samples: soak.rssMiB.length,
        timeline: soak.rssMiB.filter((_, i) => i % 10 === 0).map((mib) => Math.round(mib)),
      },
      recorder: { ...recorder.counters },
      snapshots: { saved: snapshots.writer.saved, failed: snapshots.writer.failed },
      gc: gcs,
      targets: {
        capNeverExceeded: soak.capExceeded === 0,
        rssGrowthUnderFivePercent: rssGrowthPercent < 5,
        noOverrunsCausedByMaintenance: soak.overrunsAfterLongMaintenance === 0,
      },
    };
    rmSync(dir, { recursive: true, force: true });
    const path = writeResult('soak', result);
    const markdown = `## Soak (\`engram bench soak\`)

Machine: ${machineLine(describeMachine())}.
Command: \`engram bench soak ${argv.filter((a) => a !== '--json').join(' ')}\` (${(seconds / 60).toFixed(1)} min at ${rateHz} Hz): the real loop and runner, the
brain learning every cycle at its cap (prefilled in lock step first; the similarity registry, which serves HNSW at this size, with its writes applied in slack time; pendulum-sized observations), the flight recorder on
(4 rotating 8 MiB segments) and a snapshot every ${snapshotEverySeconds} s (HNSW index included), all in slack time.

${table(
  ['measure', 'value', 'target'],
  [
    ['cycles (achieved Hz)', `${c.cycles} (${result.achievedRateHz.toFixed(2)})`, ''],
    [
      'memory: cap / max seen / cycles over cap',
      `${brain.hardCap} / ${soak.maxSize} / ${soak.capExceeded}`,
      'never over',
    ],
    ['stored / evicted', `${brain.counters.stored} / ${brain.counters.evictions}`, ''],
    [
      `RSS after ${warmupSeconds} s warm-up → end`,
      `${rssStart.toFixed(0)} → ${rssEnd.toFixed(0)} MiB (${rssGrowthPercent >= 0 ? '+' : ''}${rssGrowthPercent.toFixed(1)}%)`,
      '< 5%',
    ],
    [
      'overruns; late cycles after over-long slack work',
      `${c.overruns}; ${soak.overrunsAfterLongMaintenance}`,
      '0 caused by maintenance',
    ],
    [
      'slack-time overruns (longest slack work)',
      `${c.maintenanceOverruns} (${(soak.maxMaintenanceNs / 1e6).toFixed(2)} ms, bound ${(loop.settings.maintenanceNs / 1e6).toFixed(1)} ms)`,
      '',
    ],
    ...Object.values(slack).map((timer) => {
      const t = timer.summary(loop.settings.maintenanceNs);
      return [
        `  ${t.name}: calls past their window; max`,
        `${t.overBound} of ${t.calls}; ${t.maxMs.toFixed(2)} ms`,
        '',
      ];
    }),
    [
      'cycle p50 / p99 / max µs',
      `${result.cycleUs.p50.toFixed(0)} / ${result.cycleUs.p99.toFixed(0)} / ${result.cycleUs.max.toFixed(0)}`,
      '',
    ],
    ['skipped ticks', c.skippedTicks, ''],
    [
      'recorded / dropped cycles',
      `${recorder.counters.recorded} / ${recorder.counters.droppedBufferFull + recorder.counters.droppedPaused}`,
      '',
    ],
    ['snapshots saved / failed', `${snapshots.writer.saved} / ${snapshots.writer.failed}`, ''],
    ['GC minor / major (pause ms)', `${gcs.minor} / ${gcs.major} (${gcs.pauseMs.toFixed(0)})`, ''],
  ],
)}`;
    updateBenchmarksDoc('soak', markdown);
    process.stdout.write(`${markdown}\n\nresults: ${path}\n`);
    if (args.values.json) printJsonLast(result);
    return 0;
  },
};
