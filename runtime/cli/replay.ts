/**
 * `engram replay <recording> [--snapshot <file>] [--config <file>]`: feeds a flight recording
 * through the same loop and brain under a scripted clock and checks the actions bit for bit.
 * Exit 0 when every replayed cycle matches, 1 on a divergence (the first one is reported), 2 usage.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createBrain } from '../../brain/create.js';
import { SnapshotError } from '../../brain/memory/snapshot.js';
import { brainSnapshotSections, reindex } from '../../brain/memory/snapshot-brain.js';
import { restoreFromFile } from '../../brain/memory/snapshot-reader.js';
import { loadRuntimeConfig, observationSize, parseRuntimeConfig, type RuntimeConfig } from '../config.js';
import type { Clock, Controller, CycleObserver, Driver, EventLog } from '../contracts.js';
import { silentLogger } from '../log.js';
import { Loop } from '../loop.js';
import { loopSettingsFromConfig, safetyFilterFromConfig } from '../loop-settings.js';
import { RecordingError, readRecording } from '../recorder-reader.js';
import { replayRecording } from '../replay.js';
import { parseCommandArgs, printJsonLast, type Subcommand, UsageError } from './args.js';

const help = `usage: engram replay <recording> [--snapshot <file>] [--config <file>] [--index I] [--all] [--json]

Feeds the recorded frames through the same loop and brain under a simulated clock that plays back
the recorded stage times, and compares every published action bit for bit with the recording.
<recording> is a recording directory (segment-*.engrec files) or one segment file.

options:
  --snapshot <file>  restore this memory snapshot first (the one the recorded run started from;
                     default: the snapshot named in the recording, if any)
  --config <file>    the run's config (default: the config stored in the recording)
  --index I          registry or linear (default: the index the recorded run used, meta.index)
  --all              keep going after the first divergence and count matching cycles
  --json             print one JSON object as the last line of stdout

Exit status: 0 all actions match, 1 divergence or unreadable recording, 2 usage.`;

export interface ComposeOptions {
  config: RuntimeConfig;
  clock: Clock;
  driver: Driver;
  log: EventLog;
  /** restore this snapshot into the brain before the first cycle */
  snapshot?: string;
  /**
   * The similarity index: the registry by default, as \`engram run\` builds it; 'linear' for the
   * exact scan alone (its results never depend on timing: tests that compare runs use it).
   */
  index?: 'linear';
  wrap?: (controller: Controller) => Controller;
  observers?: CycleObserver[];
}

/** Brain (optionally restored from a snapshot), safety filter and loop, as a run builds them. */
export async function composeLoop(options: ComposeOptions): Promise<Loop> {
  const { config, clock, log } = options;
  const brain = await createBrain(config.brain, {
    observationSize: observationSize(config),
    actionSize: config.action.size,
    clock,
    log,
    ...(options.index ? { index: options.index } : {}),
  });
  if (options.snapshot !== undefined) {
    restoreFromFile(options.snapshot, brainSnapshotSections(brain));
    reindex(brain.store, brain.index);
  }
  const controller = options.wrap ? options.wrap(brain) : brain;
  return new Loop(
    clock,
    options.driver,
    controller,
    safetyFilterFromConfig(config),
    loopSettingsFromConfig(config),
    options.observers ?? [],
  );
}

export const command: Subcommand = {
  name: 'replay',
  summary: 'replay a flight recording and check actions bit for bit',
  help,
  async run(argv) {
    const args = parseCommandArgs(
      argv,
      {
        snapshot: { type: 'string' },
        config: { type: 'string' },
        index: { type: 'string' },
        all: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      help,
      true,
    );
    if (!args) return 0;
    const [path, ...extra] = args.positionals;
    if (path === undefined) throw new UsageError('expected the recording to replay');
    if (extra.length > 0) throw new UsageError(`one recording at a time; unexpected ${extra.join(' ')}`);
    const json = args.values.json === true;
    const fail = (message: string): number => {
      process.stderr.write(`engram replay: ${message}\n`);
      if (json) printJsonLast({ recording: path, ok: false, error: message });
      return 1;
    };
    let recording: ReturnType<typeof readRecording>;
    try {
      recording = readRecording(path);
    } catch (error) {
      if (error instanceof RecordingError) return fail(error.message);
      throw error;
    }
    const meta = recording.header.meta;
    let config: RuntimeConfig;
    if (args.values.config !== undefined) config = loadRuntimeConfig(args.values.config);
    else if (typeof meta.config === 'string')
      config = parseRuntimeConfig(JSON.parse(meta.config), `${path} (stored config)`);
    else return fail(`${path} does not store its config; pass --config <file>`);
    // meta.snapshot: the copy of the start snapshot that `engram run` keeps in the recording
    // directory (a relative name), or an absolute path written by other recorders.
    const recordingDir = statSync(path).isDirectory() ? path : dirname(path);
    const snapshot =
      args.values.snapshot ??
      (typeof meta.snapshot === 'string' && meta.snapshot !== '' ? resolve(recordingDir, meta.snapshot) : undefined);
    // The index the recorded run was built with (meta.index); the registry when not recorded.
    const indexChoice = args.values.index ?? (meta.index === 'linear' ? 'linear' : 'registry');
    if (indexChoice !== 'registry' && indexChoice !== 'linear') {
      throw new UsageError(`--index: expected registry or linear, got '${indexChoice}'`);
    }
    const index = indexChoice === 'linear' ? { index: 'linear' as const } : {};
    const started = Date.now();
    let report: Awaited<ReturnType<typeof replayRecording>>;
    try {
      report = await replayRecording(
        recording,
        (parts) => composeLoop({ config, ...parts, log: silentLogger(), ...index, ...(snapshot ? { snapshot } : {}) }),
        { stopAtFirst: args.values.all !== true },
      );
    } catch (error) {
      if (error instanceof SnapshotError) return fail(`cannot start from the snapshot: ${error.message}`);
      throw error;
    }
    const ok = report.divergence === undefined && report.replayedCycles === report.recordedCycles;
    const lines = [
      `recording  ${path} (${recording.files.length} segment(s), ${report.recordedCycles} cycles)`,
      `snapshot   ${snapshot ?? '(none: the brain starts empty)'}`,
      `index      ${indexChoice}${indexChoice === 'registry' ? ' (its slack work replayed by the recorded counts)' : ''}`,
      `replayed   ${report.replayedCycles} cycles, ${report.matchedCycles} matched bit for bit`,
    ];
    for (const warning of report.warnings) lines.push(`warning    ${warning}`);
    const d = report.divergence;
    if (d) {
      lines.push(
        `DIVERGED   at cycle ${d.cycle} (recorded cycle #${d.index}, ${d.file} byte ${d.offset}): ${d.what} recorded ${d.recorded}, replayed ${d.replayed}`,
      );
      if (d.note) lines.push(`note       ${d.note}`);
    } else if (ok) lines.push('identical  every action matches the recording bit for bit');
    process.stdout.write(`${lines.join('\n')}\n`);
    if (json) {
      printJsonLast({
        recording: path,
        snapshot: snapshot ?? null,
        index: indexChoice,
        ok,
        ...report,
        seconds: (Date.now() - started) / 1000,
      });
    }
    return ok ? 0 : 1;
  },
};
