/**
 * `engram run --config <file>`: the composition root for a robot or a simulator. Loads and
 * validates the YAML config, builds the driver (lazily: a missing optional transport only affects
 * configs that use it), the brain and the loop, serves metrics if asked, shows a live status, and
 * shuts down gracefully on SIGINT/SIGTERM (finish the cycle, publish the safe action, flush logs,
 * stop the driver; a second signal exits at once).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Brain } from '../../brain/brain.js';
import type { BrainConfig } from '../../brain/config.js';
import { SnapshotRestoreError } from '../../brain/memory/snapshot-reader.js';
import { systemClock } from '../clock.js';
import { ConfigError, loadRuntimeConfig, type RuntimeConfig, recordingOf } from '../config.js';
import type { Clock, Controller, CycleObserver, Driver, EventLog } from '../contracts.js';
import { createLogger, type Logger } from '../log.js';
import { Loop } from '../loop.js';
import { LoopRunner, type StopReason } from '../loop-runner.js';
import { channelSpecs, loopSettingsFromConfig, observationSize, safetyFilterFromConfig } from '../loop-settings.js';
import { LoopMetrics, type MemoryStats, serveMetrics } from '../metrics.js';
import { CPU_LATENCY_DEVICE, type CpuLatencyHold, holdCpuLatency, setRealtimeScheduling } from '../scheduling.js';
import { onShutdownSignals } from '../shutdown.js';
import { LoopStatus, type StatusSnapshot } from '../status.js';
import { durationFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from './args.js';

const help = `usage: engram run --config <file> [--duration D] [--index registry|linear] [--no-status] [--json]

Runs the fixed-rate loop with the driver, brain and safety limits the config describes
(configs/*.yaml). Stops after --duration (e.g. 30s, 2m) or on SIGINT/SIGTERM: the current cycle
finishes, the safe action is published, logs are flushed and the driver stops. A second signal
exits at once.

  --config FILE   YAML runtime config (required)
  --duration D    stop after this long (default: run until a signal)
  --index I       similarity index: registry (default: switches path by memory size, in slack
                  time bounded by the clock) or linear (the exact scan alone: its results never
                  depend on timing, so the run's recording replays bit for bit)
  --no-status     no live status (terminal) or periodic status lines
  --json          print one JSON summary object as the last line of stdout`;

/** What a brain built for the loop offers besides the Controller contract. */
export interface BuiltController {
  controller: Controller;
  brain: Brain;
  memory: MemoryStats | undefined;
  dispose(): void;
}

/** Which similarity index the brain gets (recorded in the flight recording for replay). */
export type IndexChoice = 'registry' | 'linear';

/** The brain from the config's brain section, over the config's observation and action sizes. */
export async function createControllerFromConfig(
  config: RuntimeConfig,
  clock: Clock,
  log: EventLog,
  index: IndexChoice = 'registry',
): Promise<BuiltController> {
  const { createBrain } = await import('../../brain/create.js');
  const brainConfig: BrainConfig = config.brain;
  const brain = await createBrain(brainConfig, {
    observationSize: observationSize(config),
    actionSize: config.action.size,
    clock,
    log,
    ...(index === 'linear' ? { index: 'linear' as const } : {}),
  });
  return {
    controller: brain,
    brain,
    memory: { experiences: () => brain.size(), evictions: () => brain.counters.evictions },
    dispose: () => brain.dispose(),
  };
}

export async function createDriverFromConfig(config: RuntimeConfig, clock: Clock, log: EventLog): Promise<Driver> {
  const options = {
    config: config.driver,
    channels: channelSpecs(config),
    actionSize: config.action.size,
    clock,
    log,
  };
  const driver = config.driver;
  switch (driver.kind) {
    case 'zmq': {
      const { createZmqDriver } = await import('../../drivers/zmq/driver.js');
      return createZmqDriver({ ...options, config: driver });
    }
    case 'ros2': {
      const { createRos2Driver } = await import('../../drivers/ros2/driver.js');
      return createRos2Driver({ ...options, config: driver });
    }
    case 'sim': {
      if (driver.transport === 'zmq') {
        const { createSimZmqDriver } = await import('../../drivers/sim/zmq.js');
        return createSimZmqDriver({ ...options, config: driver });
      }
      const { createInProcessSimDriver } = await import('../../drivers/sim/inprocess.js');
      return createInProcessSimDriver({ ...options, config: driver });
    }
  }
}

/** The `snapshot` and `recording` sections at work: restore, periodic saves, the flight recorder. */
interface Persistence {
  observers: CycleObserver[];
  /** the snapshot file restored at start, if any */
  restored: string | undefined;
  /** experiences restored at start (0 when starting empty) */
  restoredExperiences: number;
  /** this run's flight-recording directory, if recording */
  recording: string | undefined;
  close(): Promise<void>;
}

/** The copy of the start snapshot kept in each recording directory (meta.snapshot names it). */
export const START_SNAPSHOT_FILE = 'start-snapshot.bin';

async function setUpPersistence(
  config: RuntimeConfig,
  brain: Brain,
  index: IndexChoice,
  clock: Clock,
  log: Logger,
): Promise<Persistence> {
  const observers: CycleObserver[] = [];
  const closers: (() => Promise<void>)[] = [];
  let restored: string | undefined;
  let restoredExperiences = 0;
  let recording: string | undefined;
  const { configHash } = await import('../../brain/memory/snapshot.js');
  const hash = configHash(config.brain);
  const snapshot = config.snapshot;
  if (snapshot?.loadOnStart) {
    const { restoreBrain } = await import('../../brain/memory/snapshot-brain.js');
    // Throws SnapshotRestoreError (every file's problem listed) when the policy forbids starting empty.
    const outcome = restoreBrain(brain, {
      path: snapshot.path,
      log,
      policy: { onMissing: snapshot.onMissing, onUnusable: snapshot.onUnusable },
      configHash: hash,
    });
    if (outcome.kind === 'restored') {
      restored = outcome.info.file;
      restoredExperiences = brain.size();
    }
    log.info(
      { path: snapshot.path, restored: restored ?? null, experiences: restoredExperiences },
      restored ? 'memory restored from the snapshot' : 'no snapshot restored: the memory starts empty',
    );
  }
  const recordingConfig = recordingOf(config);
  if (recordingConfig) {
    const { FlightRecorder } = await import('../recorder.js');
    // One directory per run under recording.path (a recording directory is never reused).
    recording = join(recordingConfig.path, `${config.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(recording, { recursive: true });
    // The snapshot file is rewritten by this run's own saves: replay needs the memory as it was at
    // the start, so the recording keeps its own copy (before the first cycle, off the hot path).
    let startSnapshot = '';
    if (restored) {
      copyFileSync(restored, join(recording, START_SNAPSHOT_FILE));
      startSnapshot = START_SNAPSHOT_FILE;
    }
    const recorder = new FlightRecorder({
      directory: recording,
      observationSize: observationSize(config),
      actionSize: config.action.size,
      clock,
      log,
      bufferCycles: recordingConfig.ringCycles,
      maxSegmentBytes: Math.round(recordingConfig.maxSegmentMiB * 2 ** 20),
      maxSegments: recordingConfig.maxSegments,
      retryAfterMs: recordingConfig.retryAfterMs,
      // What `engram replay` needs to rebuild this run: the config, the snapshot it started from
      // (relative to the recording directory), and the similarity index it was built with.
      meta: { config: JSON.stringify(config), snapshot: startSnapshot, configHash: hash, index },
    });
    observers.push(recorder);
    closers.push(() => recorder.close());
  }
  if (snapshot) {
    // A first boot may name a directory that does not exist yet: every save would fail in it.
    mkdirSync(dirname(snapshot.path), { recursive: true });
    const { periodicBrainSnapshots } = await import('../../brain/memory/snapshot-brain.js');
    const periodic = periodicBrainSnapshots(brain, {
      path: snapshot.path,
      everyNs: snapshot.everySeconds * 1e9,
      clock,
      log,
      configHash: hash,
    });
    observers.push(periodic);
    // After the recorder has closed: the recording is complete before the (slower) final save.
    closers.push(async () => {
      if (!snapshot.saveOnExit) {
        await periodic.writer.settle();
        return;
      }
      const saved = await periodic.saveNow();
      if (saved.ok)
        log.info({ path: saved.path, bytes: saved.bytes, experiences: brain.size() }, 'snapshot saved at exit');
      else log.error({ path: saved.path, error: saved.error.message }, 'snapshot at exit failed');
    });
  }
  return {
    observers,
    restored,
    restoredExperiences,
    recording,
    async close() {
      for (const close of closers) await close();
    },
  };
}

export interface RunOptions {
  durationMs?: number;
  showStatus: boolean;
  /** extra observers (profiler, flight recorder) */
  observers?: CycleObserver[];
  logger?: Logger;
  /** handle SIGINT/SIGTERM (off in tests that run several loops in one process) */
  handleSignals?: boolean;
  /** the similarity index (default: the registry) */
  index?: IndexChoice;
}

export interface RunSummary {
  name: string;
  stopReason: StopReason;
  signal: string | null;
  rateHz: number;
  achievedRateHz: number;
  cycles: number;
  skippedTicks: number;
  overruns: number;
  deadlineMisses: number;
  heldActions: number;
  safeActions: number;
  rejectedFrames: number;
  maintenanceOverruns: number;
  effortLevel: number;
  status: StatusSnapshot;
  driver: ReturnType<Driver['counters']>;
  metricsUrl: string | null;
  /** the snapshot restored at start (snapshot section), or null */
  snapshotRestored: string | null;
  /** experiences restored from it (0 when the memory started empty) */
  restoredExperiences: number;
  /** this run's flight-recording directory (recording section), or null */
  recording: string | null;
  /** ran under SCHED_FIFO (timing.realtimePriority, when permitted) */
  realtime: boolean;
  /** the CPU wake-up latency held while running (timing.cpuLatencyUs, when permitted), or null */
  cpuLatencyHeldUs: number | null;
}

/** Builds everything from a validated config, runs until the duration or a signal, shuts down. */
export async function runConfig(config: RuntimeConfig, options: RunOptions): Promise<RunSummary> {
  const clock = systemClock;
  const logger = options.logger ?? createLogger({ level: config.log.level, pretty: config.log.pretty });
  const index = options.index ?? 'registry';
  const built = await createControllerFromConfig(config, clock, logger, index);
  const controller = built.controller;
  let persistence: Persistence;
  try {
    persistence = await setUpPersistence(config, built.brain, index, clock, logger);
  } catch (error) {
    built.dispose();
    throw error;
  }
  const driver = await createDriverFromConfig(config, clock, logger);
  const observers: CycleObserver[] = [...(options.observers ?? []), ...persistence.observers];
  const settings = loopSettingsFromConfig(config);
  // The loop is built once the observers exist; they read it lazily through this holder.
  let metrics: LoopMetrics | undefined;
  let metricsUrl: string | null = null;
  let server: Awaited<ReturnType<typeof serveMetrics>>['server'] | undefined;
  const loop = new Loop(clock, driver, controller, safetyFilterFromConfig(config), settings, observers);
  const statusIntervalNs = options.showStatus ? config.log.statusIntervalMs * 1e6 : 0;
  const status = new LoopStatus(loop, clock, logger, built.memory, {
    intervalNs: statusIntervalNs,
    summaryIntervalNs: config.log.summaryIntervalMs * 1e6,
    tty: options.showStatus && process.stderr.isTTY ? process.stderr : undefined,
  });
  observers.push(status);
  if (config.metrics.enabled) {
    metrics = new LoopMetrics(loop, clock, built.memory);
    observers.push(metrics);
    const served = await serveMetrics(metrics, config.metrics.host, config.metrics.port);
    server = served.server;
    metricsUrl = served.url;
    logger.info({ url: metricsUrl }, 'metrics endpoint');
  }

  const runner = new LoopRunner(loop, clock, {
    strategy: config.timing.strategy,
    wakeLeadNs: config.timing.wakeLeadUs * 1e3,
    spinNs: config.timing.spinUs * 1e3,
    durationNs: options.durationMs === undefined ? undefined : options.durationMs * 1e6,
    onWaiterFallback: (why) => logger.warn({ why }, 'timing.strategy native is not available: using the worker'),
  });
  const shutdown =
    options.handleSignals === false
      ? undefined
      : onShutdownSignals((signal) => {
          logger.info({ signal }, 'stopping after this cycle (send again to exit at once)');
          runner.stop();
        });
  let stopReason: StopReason = 'requested';
  let realtime = false;
  let cpuLatency: CpuLatencyHold | undefined;
  const realtimeThreads = runner.waiter.realtimeThreads();
  try {
    await driver.start();
    controller.setExploration(true);
    if (config.timing.realtimePriority > 0) {
      realtime = setRealtimeScheduling(config.timing.realtimePriority, realtimeThreads);
      if (realtime) {
        const threadIds = realtimeThreads.kind === 'threads' ? realtimeThreads.ids : 'all';
        logger.info(
          { priority: config.timing.realtimePriority, threads: threadIds },
          threadIds === 'all' ? 'SCHED_FIFO for every thread' : 'SCHED_FIFO for the loop and timekeeper threads',
        );
      } else logger.warn({ priority: config.timing.realtimePriority }, 'SCHED_FIFO not permitted: normal scheduling');
    }
    if (config.timing.cpuLatencyUs !== undefined) {
      const held = holdCpuLatency(config.timing.cpuLatencyUs);
      if (held instanceof Error) {
        logger.warn({ why: held.message }, 'CPU wake-up latency not held: idle CPUs may halt between cycles');
      } else {
        cpuLatency = held;
        logger.info({ us: held.us, device: CPU_LATENCY_DEVICE }, 'holding CPU wake-up latency while running');
      }
    }
    logger.info(
      {
        config: config.name,
        rateHz: config.rateHz,
        driver: driver.name,
        timing: config.timing,
        budgetMs: config.budget.cycleMs,
      },
      'loop starting',
    );
    stopReason = await runner.run();
  } finally {
    // shutdown I/O (snapshot, recording) at normal priority
    if (realtime) setRealtimeScheduling(0, realtimeThreads);
    cpuLatency?.release();
    // Shutdown: the safe action goes out before the driver closes.
    loop.publishSafe();
    status.close();
    metrics?.close();
    if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
    await driver.stop();
    await persistence.close();
    built.dispose();
    shutdown?.dispose();
  }
  const c = loop.counters;
  const summary: RunSummary = {
    name: config.name,
    stopReason,
    signal: shutdown?.signal ?? null,
    rateHz: config.rateHz,
    achievedRateHz: loop.achievedRateHz(),
    cycles: c.cycles,
    skippedTicks: c.skippedTicks,
    overruns: c.overruns,
    deadlineMisses: c.deadlineMisses,
    heldActions: c.heldActions,
    safeActions: c.safeActions,
    rejectedFrames: c.rejectedFrames + driver.counters().framesRejected,
    maintenanceOverruns: c.maintenanceOverruns,
    effortLevel: loop.ladder.level,
    status: status.update(clock.nowNs()),
    driver: driver.counters(),
    metricsUrl,
    snapshotRestored: persistence.restored ?? null,
    restoredExperiences: persistence.restoredExperiences,
    recording: persistence.recording ?? null,
    realtime,
    cpuLatencyHeldUs: cpuLatency?.us ?? null,
  };
  logger.info(summary, 'loop stopped');
  logger.flush();
  return summary;
}

export const command: Subcommand = {
  name: 'run',
  summary: 'run the loop with a config (drivers, brain, safety)',
  help,
  async run(argv) {
    const args = parseCommandArgs(
      argv,
      {
        config: { type: 'string' },
        duration: { type: 'string' },
        index: { type: 'string' },
        'no-status': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      help,
    );
    if (!args) return 0;
    const file = args.values.config;
    if (file === undefined) {
      process.stderr.write('engram run: --config <file> is required (see configs/)\n');
      return 2;
    }
    const durationMs =
      args.values.duration === undefined ? undefined : durationFlag(args.values.duration, 'duration', 0);
    const index = args.values.index ?? 'registry';
    if (index !== 'registry' && index !== 'linear') {
      throw new UsageError(`--index: expected registry or linear, got '${index}'`);
    }
    let config: RuntimeConfig;
    try {
      config = loadRuntimeConfig(file);
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`engram run: invalid config ${error.message}\n`);
        return 2;
      }
      throw error;
    }
    let summary: RunSummary;
    try {
      summary = await runConfig(config, { durationMs, showStatus: args.values['no-status'] !== true, index });
    } catch (error) {
      if (error instanceof SnapshotRestoreError) {
        process.stderr.write(`engram run: cannot start: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
    if (args.values.json) printJsonLast(summary);
    return 0;
  },
};
