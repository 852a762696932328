/**
 * `engram sim`: learn a simulated task online, in-process and in lock-step with MuJoCo, with
 * evaluation episodes every --eval-every steps, the random and zero-action baselines, a live view,
 * and a report in runs/<name>/ (results.json and learning-curve.svg).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeMachine } from '../../bench/lib/report.js';
import type { TaskDefinition } from '../../sim/task.js';
import { resolveTask } from '../../sim/task-module.js';
import { builtinTasks } from '../../sim/tasks/index.js';
import { systemClock } from '../clock.js';
import { numberFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from './args.js';
import { type ControllerKind, controllerKinds, makeControllerHandle } from './sim/controllers.js';
import { type ControllerHandle, evaluateBaselines, type LearnResult, learn } from './sim/learn.js';
import { LiveView } from './sim/live-view.js';
import { buildReport, writeRunReport } from './sim/report.js';
import { runDefaults } from './sim/task-defaults.js';

const taskList = Object.values(builtinTasks)
  .map((t) => `    ${t.name.padEnd(18)} ${t.description}`)
  .join('\n');

const help = `engram sim: learn a simulated task online (MuJoCo, in-process, lock-step)

usage: engram sim --task <name> [--steps N] [--seed S | --seeds 1,2,3] [--eval-every E] [--json]
       engram sim --task-module <file.ts|file.js> [...]

options:
  --task <name>          a built-in task (below)
  --task-module <file>   a task module of your own (docs/tasks.md); .ts loads without a build
  --steps <N>            training steps, rounded up to whole episodes (default 100000)
  --seed <S>             seed of physics, initial states and the brain (default 1)
  --seeds <list>         several seeds, run one after another into one report (e.g. 1,2,3)
  --eval-every <E>       evaluate every E training steps (default 20000)
  --eval-episodes <K>    evaluation episodes each time, exploration off (default 5)
  --controller <kind>    brain (default), random or zero
  --budget-ms <ms>       deadline handed to each step (default: the task's control timestep
                         times the action repeat)
  --action-repeat <n>    hold each decision for n control steps, the brain seeing every n-th
                         frame with the summed reward (episodes and scores unchanged; default:
                         the task's, runtime/cli/sim/task-defaults.ts; in-process lock-step only)
  --brain <json>         brain config overrides as JSON, over the task's defaults
                         (e.g. '{"planner":{"candidates":16}}')
  --realtime             at the task's control rate through the runtime loop (configs/<task>.yaml
                         when present: budget, safety, timing); reports deadline misses and the
                         returns of the episodes played (no evaluation episodes)
  --transport <t>        inprocess (default) or zmq: the physics runs in its own process
                         (drivers/sim/server.ts) and frames and actions cross ZeroMQ; lock-step
                         (or --realtime: the sim process keeps the task's rate); reports returns
  --out <dir>            report folder (default runs/<task name>)
  --record-benchmark     also record the score in bench/results/learning.json, the 'learning'
                         section of docs/benchmarks.md and docs/img/learning-<task>.svg
  --json                 print one JSON summary as the last line of stdout
  --help                 this text

built-in tasks (DeepMind Control Suite definitions; scores on the suite's 0-1000 scale):
${taskList}

The live view (on a terminal) shows episode, returns, steps/s, step p99 and memory size; the
report holds every evaluation, the training returns and both baselines.`;

const options = {
  task: { type: 'string' },
  'task-module': { type: 'string' },
  steps: { type: 'string' },
  seed: { type: 'string' },
  seeds: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-episodes': { type: 'string' },
  controller: { type: 'string' },
  'budget-ms': { type: 'string' },
  'action-repeat': { type: 'string' },
  brain: { type: 'string' },
  realtime: { type: 'boolean' },
  transport: { type: 'string' },
  out: { type: 'string' },
  'record-benchmark': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  const parsed = numberFlag(value, flag, fallback);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new UsageError(`--${flag} expects a positive integer, got '${value}'`);
  return parsed;
}

function parseSeeds(seed: string | undefined, seeds: string | undefined): number[] {
  if (seed !== undefined && seeds !== undefined) throw new UsageError('give --seed or --seeds, not both');
  const list = seeds !== undefined ? seeds.split(',') : [seed ?? '1'];
  return list.map((s) => {
    const parsed = Number(s.trim());
    if (!Number.isInteger(parsed)) throw new UsageError(`seeds must be integers, got '${s}'`);
    return parsed;
  });
}

async function chooseTask(name: string | undefined, module: string | undefined): Promise<TaskDefinition> {
  if ((name === undefined) === (module === undefined)) {
    throw new UsageError('give exactly one of --task <name> or --task-module <file>');
  }
  if (module !== undefined) return resolveTask(module.includes('/') ? module : `./${module}`);
  if (!builtinTasks[name as string]) {
    throw new UsageError(`unknown task '${name}'; built-in tasks: ${Object.keys(builtinTasks).join(', ')}`);
  }
  return resolveTask(name as string);
}

function parseBrainOverrides(text: string | undefined): object {
  if (text === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed;
  } catch (error) {
    throw new UsageError(`--brain expects a JSON object, got '${text}' (${(error as Error).message})`);
  }
}

export const command: Subcommand = {
  name: 'sim',
  summary: 'learn a simulated task (MuJoCo) online, with baselines and a learning-curve report',
  help,
  async run(argv) {
    const args = parseCommandArgs(argv, options, help);
    if (!args) return 0;
    const flags = args.values;
    const task = await chooseTask(flags.task, flags['task-module']);
    const steps = positiveInteger(flags.steps, 'steps', 100_000);
    const seeds = parseSeeds(flags.seed, flags.seeds);
    const evalEvery = positiveInteger(flags['eval-every'], 'eval-every', 20_000);
    const evalEpisodes = positiveInteger(flags['eval-episodes'], 'eval-episodes', 5);
    const kind = (flags.controller ?? 'brain') as ControllerKind;
    if (!controllerKinds.includes(kind)) {
      throw new UsageError(`--controller expects one of ${controllerKinds.join(', ')}, got '${flags.controller}'`);
    }
    const actionRepeat = positiveInteger(flags['action-repeat'], 'action-repeat', runDefaults(task.name).actionRepeat);
    const budgetMs = numberFlag(flags['budget-ms'], 'budget-ms', task.controlTimestep * 1000 * actionRepeat);
    if (!(budgetMs > 0)) throw new UsageError(`--budget-ms must be positive, got ${budgetMs}`);
    const overrides = parseBrainOverrides(flags.brain);
    const out = resolve(flags.out ?? join('runs', task.name));
    const json = flags.json === true;
    // with --json, stdout carries only the final JSON line's neighbours: progress goes to stderr
    const view = LiveView.for(json ? process.stderr : process.stdout, task.name);

    const taskSpec = flags['task-module'] !== undefined ? resolve(flags['task-module']) : task.name;
    const transport = flags.transport ?? 'inprocess';
    if (transport !== 'inprocess' && transport !== 'zmq') {
      throw new UsageError(`--transport expects inprocess or zmq, got '${transport}'`);
    }
    if (transport === 'zmq') {
      return runZmqCommand({
        task,
        taskSpec,
        steps,
        seeds,
        kind,
        overrides,
        out,
        json,
        view,
        realtime: flags.realtime === true,
        budgetMs,
      });
    }
    if (flags.realtime) {
      return runRealtimeCommand({ task, taskSpec, steps, seeds, kind, overrides, out, json, view });
    }
    view.line(
      `${task.name}: ${kind} learning online for ${steps} steps x seeds ${seeds.join(',')}; evaluation every ${evalEvery} steps (${evalEpisodes} episodes); step budget ${budgetMs} ms${actionRepeat > 1 ? `; action repeat ${actionRepeat}` : ''}`,
    );
    const baselines = await evaluateBaselines(task, seeds[0] as number, Math.max(evalEpisodes, 10), systemClock);
    view.line(
      `baselines over ${baselines.random.returns.length} episodes: random policy ${baselines.random.meanReturn.toFixed(1)}, zero action ${baselines.zero.meanReturn.toFixed(1)}`,
    );
    const runs: LearnResult[] = [];
    for (const seed of seeds) {
      let handle: ControllerHandle | undefined;
      try {
        handle = await makeControllerHandle(kind, task, seed, overrides);
        const result = await learn({
          task,
          steps,
          seed,
          evalEvery,
          evalEpisodes,
          clock: systemClock,
          stepBudgetNs: budgetMs * 1e6,
          maintainBudgetNs: budgetMs * 1e6,
          actionRepeat,
          handle,
          onProgress: (progress) => view.progress(progress),
        });
        runs.push(result);
        view.finish();
        view.line(
          `seed ${seed}: score ${result.finalScore.toFixed(1)} (evaluation at ${result.steps} steps); step p50 ${result.stepTime.p50Ms.toFixed(3)} ms, p99 ${result.stepTime.p99Ms.toFixed(3)} ms, max ${result.stepTime.maxMs.toFixed(1)} ms; ${result.stepsPerSecond.toFixed(0)} steps/s; ${result.wallSeconds.toFixed(0)} s; memory ${result.memorySize}`,
        );
      } finally {
        handle?.dispose?.();
      }
    }
    const commandLine = `engram sim ${argv.join(' ')}`;
    const report = buildReport(runs, baselines, describeMachine(), commandLine);
    const paths = await writeRunReport(out, report);
    let benchmark: string | undefined;
    if (flags['record-benchmark']) {
      const { recordLearningBenchmark } = await import('./sim/benchmark.js');
      benchmark = await recordLearningBenchmark(report);
    }
    const lines = [
      '',
      `${task.name}: score ${report.score.toFixed(1)} (evaluation return at ${runs[0]?.steps} steps, ${report.seeds.length > 1 ? `mean over seeds ${report.seeds.join(',')}` : `seed ${report.seeds[0]}`})`,
      `  baselines: random ${baselines.random.meanReturn.toFixed(1)}, zero ${baselines.zero.meanReturn.toFixed(1)}; worst step p99 ${report.stepP99Ms.toFixed(3)} ms`,
      `  report: ${paths.json}`,
      `  learning curve: ${paths.svg}`,
    ];
    if (benchmark) lines.push(`  benchmark recorded: ${benchmark}`);
    view.line(lines.join('\n'));
    if (json) {
      printJsonLast({
        task: report.task,
        controller: report.controller,
        seeds: report.seeds,
        score: report.score,
        scores: report.scores,
        stepP99Ms: report.stepP99Ms,
        baselines: { random: baselines.random.meanReturn, zero: baselines.zero.meanReturn },
        report: paths.json,
        curve: paths.svg,
      });
    }
    return 0;
  },
};

interface RealtimeCommand {
  task: TaskDefinition;
  /** the built-in name or the task module path, as the sim driver resolves it */
  taskSpec: string;
  steps: number;
  seeds: number[];
  kind: ControllerKind;
  overrides: object;
  out: string;
  json: boolean;
  view: LiveView;
}

/** --realtime: each seed through the runtime loop at the task's rate; writes realtime.json. */
async function runRealtimeCommand(options: RealtimeCommand): Promise<number> {
  const { task, steps, view } = options;
  const { runRealtime, realtimeConfig } = await import('./sim/realtime.js');
  const results = [];
  for (const seed of options.seeds) {
    const handle = await makeControllerHandle(options.kind, task, seed, options.overrides);
    try {
      const brain = (handle.settings as { brain?: object }).brain ?? {};
      const config = realtimeConfig(task, seed, brain);
      view.line(
        `${task.name}: ${handle.kind} in real time at ${config.rateHz} Hz for ${steps} steps (${(steps / config.rateHz) | 0} s), seed ${seed}; cycle budget ${config.budget.cycleMs} ms`,
      );
      const result = await runRealtime({
        task,
        taskSpec: options.taskSpec,
        config,
        configSource: config.name,
        steps,
        seed,
        clock: systemClock,
        handle,
        onProgress: (progress) => view.progress(progress),
      });
      view.finish();
      const returns = result.episodes.map((e) => e.return.toFixed(0)).join(', ');
      view.line(
        `seed ${seed}: ${result.cycles} cycles at ${result.achievedRateHz.toFixed(1)} Hz (of ${result.rateHz}); deadline misses ${result.deadlineMisses}, overruns ${result.overruns}, skipped ticks ${result.skippedTicks}, held ${result.heldActions}, safe ${result.safeActions}; step p99 ${result.stepTime.p99Ms.toFixed(3)} ms; episode returns: ${returns || '(no episode finished)'}`,
      );
      results.push(result);
    } finally {
      handle.dispose?.();
    }
  }
  mkdirSync(options.out, { recursive: true });
  const path = join(options.out, 'realtime.json');
  writeFileSync(path, `${JSON.stringify({ machine: describeMachine(), runs: results }, null, 2)}\n`);
  view.line(`  report: ${path}`);
  if (options.json) {
    printJsonLast({
      task: task.name,
      realtime: true,
      seeds: options.seeds,
      deadlineMisses: results.reduce((sum, r) => sum + r.deadlineMisses, 0),
      overruns: results.reduce((sum, r) => sum + r.overruns, 0),
      stepP99Ms: Math.max(...results.map((r) => r.stepTime.p99Ms)),
      achievedRateHz: results.map((r) => r.achievedRateHz),
      episodeReturns: results.map((r) => r.episodes.map((e) => e.return)),
      report: path,
    });
  }
  return 0;
}

interface ZmqCommand extends RealtimeCommand {
  realtime: boolean;
  budgetMs: number;
}

/** --transport zmq: the simulator in its own process, frames and actions over ZeroMQ; writes zmq.json. */
async function runZmqCommand(options: ZmqCommand): Promise<number> {
  const { task, steps, view } = options;
  const { runSimOverZmq } = await import('../../drivers/sim/remote.js');
  const episodes = Math.max(1, Math.ceil(steps / task.episodeSteps));
  const mode = options.realtime ? 'realtime' : 'lockstep';
  const results = [];
  for (const seed of options.seeds) {
    const handle = await makeControllerHandle(options.kind, task, seed, options.overrides);
    try {
      view.line(
        `${task.name}: ${handle.kind} against the simulator process over ZeroMQ (${mode}), ${episodes} episodes, seed ${seed}`,
      );
      const result = await runSimOverZmq({
        task: options.taskSpec,
        observationSize: task.observationSize,
        actionSize: task.actionSize,
        seed,
        mode,
        episodes,
        controller: handle.controller,
        clock: systemClock,
        stepBudgetNs: options.budgetMs * 1e6,
        maintainBudgetNs: options.budgetMs * 1e6,
      });
      const summary = result.summary;
      view.line(
        `seed ${seed}: ${summary.steps} steps in ${summary.seconds.toFixed(1)} s; episode returns: ${summary.returns.map((r) => r.toFixed(0)).join(', ') || '(none finished)'}; resends ${summary.resends}, late answers ${summary.lateAnswers}, rejected steps ${result.rejectedSteps}`,
      );
      results.push({
        ...summary,
        driver: result.driver,
        rejectedSteps: result.rejectedSteps,
        memorySize: handle.memorySize(),
      });
    } finally {
      handle.dispose?.();
    }
  }
  mkdirSync(options.out, { recursive: true });
  const path = join(options.out, 'zmq.json');
  writeFileSync(path, `${JSON.stringify({ machine: describeMachine(), runs: results }, null, 2)}\n`);
  view.line(`  report: ${path}`);
  if (options.json) {
    printJsonLast({
      task: task.name,
      transport: 'zmq',
      mode,
      seeds: options.seeds,
      episodeReturns: results.map((r) => r.returns),
      report: path,
    });
  }
  return 0;
}
