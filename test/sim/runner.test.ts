/**
 * The learning runner (runtime/cli/sim) with the baseline controllers: evaluation schedule, the
 * report files, determinism of the baselines, and the CLI's --help, --json and usage errors.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../runtime/cli/main.js';
import { RandomController, ZeroController } from '../../runtime/cli/sim/baselines.js';
import { evaluateBaselines, learn } from '../../runtime/cli/sim/learn.js';
import { buildReport, writeRunReport } from '../../runtime/cli/sim/report.js';
import { systemClock } from '../../runtime/clock.js';
import type { TaskDefinition } from '../../sim/task.js';
import { builtinTasks } from '../../sim/tasks/index.js';

const balance = builtinTasks.cartpole_balance as TaskDefinition;
const budget = { clock: systemClock, stepBudgetNs: 1e7, maintainBudgetNs: 1e7 };

test('evaluations run at step 0, after every evalEvery steps and at the end', async () => {
  const controller = new RandomController(5, 1, -1, 1, 3);
  const result = await learn({
    task: balance,
    steps: 3500,
    seed: 2,
    evalEvery: 2000,
    evalEpisodes: 1,
    ...budget,
    handle: { kind: 'random', controller, memorySize: () => 0, settings: {} },
  });
  assert.is(result.steps, 4000, 'rounded up to whole episodes');
  assert.equal(
    result.evaluations.map((e) => e.step),
    [0, 2000, 4000],
  );
  assert.is(result.trainingEpisodes.length, 4);
  assert.is(result.stepTime.count, 4 * 1001, 'every frame of every training episode timed, the final one too');
  assert.ok(result.finalScore > 0 && result.finalScore < 1000);
  assert.is(result.statuses.rejected, 0);
});

test('action repeat: the controller decides every n-th step, the episode keeps its 1000 steps', async () => {
  const { Environment } = await import('../../sim/environment.js');
  const { LockstepSession } = await import('../../runtime/cli/sim/lockstep.js');
  const env = await Environment.create(balance, 1);
  const seen: number[] = [];
  const controller = new ZeroController(5, 1);
  const step = controller.step.bind(controller);
  controller.step = (frame, deadline, out, timings) => {
    seen.push(frame.reward);
    return step(frame, deadline, out, timings);
  };
  const session = new LockstepSession(env, controller, { ...budget, actionRepeat: 4 });
  const episodeReturn = session.runEpisode();
  assert.is(env.stepInEpisode, 1000);
  assert.is(seen.length, 1 + 250, 'the first frame, then one per 4 steps');
  const shown = seen.reduce((sum, r) => sum + r, 0);
  assert.ok(Math.abs(shown - episodeReturn) < 1e-9, 'summed rewards reach the controller');
  assert.ok(
    seen.slice(1).some((r) => r > 1),
    'rewards of 4 steps summed',
  );
  env.dispose();
});

test('baselines repeat exactly under a seed; the zero action balances better than noise', async () => {
  const first = await evaluateBaselines(balance, 4, 3, systemClock);
  const again = await evaluateBaselines(balance, 4, 3, systemClock);
  assert.equal(again, first);
  assert.ok(first.zero.meanReturn > first.random.meanReturn, JSON.stringify(first));
});

test('the report holds every run and renders a learning curve (SVG)', async () => {
  const zero = new ZeroController(5, 1);
  const run = await learn({
    task: balance,
    steps: 1000,
    seed: 1,
    evalEvery: 1000,
    evalEpisodes: 1,
    ...budget,
    handle: { kind: 'zero', controller: zero, memorySize: () => 0, settings: { note: 'test' } },
  });
  const baselines = await evaluateBaselines(balance, 1, 2, systemClock);
  const report = buildReport([run], baselines, { machine: 'test' }, 'engram sim test');
  const folder = mkdtempSync(join(tmpdir(), 'engram-sim-report-'));
  const paths = await writeRunReport(folder, report);
  const saved = JSON.parse(readFileSync(paths.json, 'utf8'));
  assert.is(saved.task, 'cartpole_balance');
  assert.is(saved.runs[0].evaluations.length, 2);
  assert.is(saved.score, run.finalScore);
  const svg = readFileSync(paths.svg, 'utf8');
  assert.ok(svg.startsWith('<svg'), 'an SVG document');
  assert.match(svg, /zero action/);
  assert.match(svg, /uniformly random policy/);
});

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

test('engram sim --help, usage errors, and --json ending stdout with one JSON object', async () => {
  const help = await cli(['sim', '--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /--task-module/);
  assert.match(help.stdout, /pendulum_swingup/);
  const unknown = await cli(['sim', '--task', 'nope']);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown task 'nope'/);
  const both = await cli(['sim', '--task', 'cartpole_balance', '--seed', '1', '--seeds', '1,2']);
  assert.is(both.code, 2);
  const out = mkdtempSync(join(tmpdir(), 'engram-sim-cli-'));
  const run = await cli([
    'sim',
    '--task',
    'cartpole_balance',
    '--controller',
    'zero',
    '--steps',
    '1000',
    '--eval-every',
    '1000',
    '--eval-episodes',
    '1',
    '--out',
    out,
    '--json',
  ]);
  assert.is(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  const summary = JSON.parse(lines[lines.length - 1] as string);
  assert.is(summary.task, 'cartpole_balance');
  assert.is(summary.controller, 'zero');
  assert.ok(existsSync(summary.report) && existsSync(summary.curve));
});

test('--transport zmq plays the same episode as in-process (zero action, same seed)', async () => {
  const out = mkdtempSync(join(tmpdir(), 'engram-sim-zmq-'));
  const run = await cli([
    'sim',
    '--task',
    'cartpole_balance',
    '--controller',
    'zero',
    '--transport',
    'zmq',
    '--steps',
    '1000',
    '--seed',
    '3',
    '--out',
    out,
    '--json',
  ]);
  assert.is(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  const summary = JSON.parse(lines[lines.length - 1] as string);
  const overZmq = summary.episodeReturns[0][0] as number;
  const { Environment } = await import('../../sim/environment.js');
  const env = await Environment.create(balance, 3);
  env.reset();
  const zero = new Float64Array(1);
  while (!env.done) env.step(zero);
  assert.is(overZmq, env.episodeReturn);
  env.dispose();
});

test.run();
