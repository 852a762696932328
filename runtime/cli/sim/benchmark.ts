/**
 * Records a learning run as a benchmark: bench/results/learning.json (one entry per task, merged
 * with the tasks recorded before), the 'learning' section of docs/benchmarks.md (a table over all
 * recorded tasks and a learning-curve image each) and docs/img/learning-<task>.svg.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type MachineDescription,
  machineLine,
  outputPath,
  repoRoot,
  resultPath,
  table,
  updateBenchmarksDoc,
  writeResult,
} from '../../../bench/lib/report.js';
import { type RunReport, renderReportCurve } from './report.js';

/** Issue 3's bar: mean evaluation return at 100k steps over 3 seeds. */
export const learningTargets: Readonly<Record<string, number>> = {
  pendulum_swingup: 500,
  cartpole_swingup: 600,
  cartpole_balance: 900,
  point_mass_easy: 600,
  reacher_easy: 600,
};

export interface LearningEntry {
  task: string;
  controller: string;
  seeds: number[];
  steps: number;
  /** control steps each brain decision was held for */
  actionRepeat: number;
  score: number;
  scores: number[];
  target: number | null;
  stepP50Ms: number;
  stepP99Ms: number;
  stepsPerSecond: number;
  wallSeconds: number;
  baselines: { random: number; zero: number };
  curve: string;
  command: string;
  /** the repository's commit when the run ended, '+dirty' when brain/ or sim/ had local changes */
  revision: string;
  machine: MachineDescription;
  settings: object;
}

function revision(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'brain', 'sim', 'runtime/cli/sim'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown';
  }
}

function readEntries(path: string): Record<string, LearningEntry> {
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { tasks?: Record<string, LearningEntry> };
    return parsed.tasks ?? {};
  } catch {
    return {};
  }
}

/**
 * Runs `update` holding an exclusive lock file beside learning.json, so two runs recording at
 * once (one per task, in parallel) do not lose each other's entry.
 */
function withLock<T>(path: string, update: () => T): T {
  const lock = `${path}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 200) throw error;
      Atomics.wait(pause, 0, 0, 50);
    }
  }
  try {
    return update();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Regenerates the 'learning' section of docs/benchmarks.md from bench/results/learning.json. */
export function rewriteLearningSection(): string {
  const resultsPath = resultPath('learning');
  return updateBenchmarksDoc('learning', learningSection(Object.values(readEntries(resultsPath))));
}

export async function recordLearningBenchmark(report: RunReport): Promise<string> {
  const imageDir = outputPath('docs', 'img');
  mkdirSync(imageDir, { recursive: true });
  const imageName = `learning-${report.task}.svg`;
  writeFileSync(join(imageDir, imageName), await renderReportCurve(report));
  const resultsPath = resultPath('learning');
  const runs = report.runs;
  const entry: LearningEntry = {
    task: report.task,
    controller: report.controller,
    seeds: report.seeds,
    steps: runs[0]?.steps ?? 0,
    actionRepeat: runs[0]?.actionRepeat ?? 1,
    score: report.score,
    scores: report.scores,
    target: learningTargets[report.task] ?? null,
    stepP50Ms: Math.max(...runs.map((r) => r.stepTime.p50Ms)),
    stepP99Ms: report.stepP99Ms,
    stepsPerSecond: runs.reduce((sum, r) => sum + r.stepsPerSecond, 0) / Math.max(1, runs.length),
    wallSeconds: runs.reduce((sum, r) => sum + r.wallSeconds, 0),
    baselines: { random: report.baselines.random.meanReturn, zero: report.baselines.zero.meanReturn },
    curve: `docs/img/${imageName}`,
    command: report.command,
    revision: revision(),
    machine: report.machine as MachineDescription,
    settings: runs[0]?.settings ?? {},
  };
  return withLock(resultsPath, () => {
    const entries = readEntries(resultsPath);
    entries[report.task] = entry;
    const path = writeResult('learning', { tasks: entries });
    updateBenchmarksDoc('learning', learningSection(Object.values(entries)));
    return path;
  });
}

function learningSection(entries: LearningEntry[]): string {
  const order = Object.keys(learningTargets);
  entries.sort((a, b) => order.indexOf(a.task) - order.indexOf(b.task));
  const rows = entries.map((e) => [
    e.task,
    `${e.score.toFixed(0)} (${e.scores.map((s) => s.toFixed(0)).join(', ')})`,
    e.target === null ? '-' : String(e.target),
    e.target === null ? '-' : e.score >= e.target ? 'yes' : `no (short by ${(e.target - e.score).toFixed(0)})`,
    `${e.steps} x ${e.seeds.length}`,
    String(e.actionRepeat ?? 1),
    e.baselines.random.toFixed(0),
    e.baselines.zero.toFixed(0),
    e.stepP50Ms.toFixed(2),
    e.stepP99Ms.toFixed(2),
    e.stepsPerSecond.toFixed(0),
  ]);
  const lines = [
    '## Learning (issue 3): DeepMind Control Suite tasks, online, in lock-step',
    '',
    'Score: mean over seeds of the mean evaluation return (exploration off, 0-1000 scale) at the end of',
    'training. Step times are `Brain.step` over training decisions, on this shared 2-core machine;',
    'steps/s counts physics control steps. With action repeat n the brain decides every n-th step',
    '(the per-task defaults in runtime/cli/sim/task-defaults.ts); episodes and scores are unchanged.',
    'Evaluation episodes are played with exploration off and stored nowhere (no maintain calls).',
    '',
    table(
      [
        'task',
        'score (per seed)',
        'target',
        'reached',
        'steps x seeds',
        'action repeat',
        'random',
        'zero',
        'step p50 ms',
        'step p99 ms',
        'steps/s',
      ],
      rows,
    ),
    '',
  ];
  for (const e of entries) {
    lines.push(
      `### ${e.task}`,
      '',
      `\`${e.command}\` (revision ${e.revision ?? 'unknown'}; ${e.wallSeconds.toFixed(0)} s of wall time)`,
      '',
      `Machine: ${machineLine(e.machine)}`,
      '',
      `![${e.task} learning curve](${e.curve.replace(/^docs\//, '')})`,
      '',
    );
  }
  return lines.join('\n');
}
