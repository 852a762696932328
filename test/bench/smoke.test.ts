/**
 * Every benchmark runs from the built CLI (dist/, as `make bench` and a user run it) at a tiny
 * size: it exits 0, prints its JSON last, and writes its results and its section of the
 * benchmarks page. ENGRAM_BENCH_OUTPUT sends both to a temporary directory, so the recorded
 * figures in bench/results and docs/benchmarks.md are left alone (checked too). Figures are not
 * judged here: at these sizes they mean nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pythonZmqMissing } from '../../bench/lib/python.js';
import { repoRoot } from '../../bench/lib/report.js';
import { realtimePermitted } from '../../bench/timing.js';

const smoke = suite('benchmarks from the built CLI');
const main = join(repoRoot, 'dist', 'runtime', 'cli', 'main.js');
/** bench transport also measures under SCHED_FIFO where this machine permits it */
const fifoPermitted = realtimePermitted();

/** [results name, arguments]: each as small as the benchmark allows. */
const runs: [string, string[]][] = [
  ['brain', ['--sizes', '1000', '--dims', '16x4', '--repeats', '1', '--steps', '200', '--horizon', '1']],
  ['hnsw', ['--grid', '12/64/48', '--dims', '16', '--n', '2000', '--turnovers', '1', '--repeats', '1']],
  ['loop', ['--rates', '100', '--duration', '2s', '--experiences', '1000', '--rt', 'off']],
  ['timing', ['--rate', '500', '--duration', '1s']],
  [
    'transport',
    [
      ...['--n', '1000', '--rates', '100', '--transports', 'ipc', '--seconds', '1', '--repeats', '1'],
      ...(fifoPermitted ? ['--scheduling', 'normal,fifo'] : []),
    ],
  ],
  ['paths', ['--sizes', '1000', '--batches', '1', '--cell-ms', '20', '--hnsw-build-limit', '1000']],
  ['profile', ['--duration', '1s', '--pairs', '1']],
  ['snapshot', ['--experiences', '2000', '--hnsw', '2000', '--duration', '2s', '--repeats', '1']],
  ['soak', ['--duration', '4s', '--warmup', '1s', '--capacity', '500', '--snapshot-every', '1s']],
];

const recorded = (name: string) => join(repoRoot, 'bench', 'results', `${name}.json`);
const page = join(repoRoot, 'docs', 'benchmarks.md');
const modified = (path: string) => (existsSync(path) ? statSync(path).mtimeMs : 0);

/**
 * bench transport measures with the Python probe (and the pyzmq floor) wherever Debian's
 * python3-zmq is there, and otherwise says why it skipped it.
 */
function checkTransportProbes(written: {
  latency: { controller: string; probe: string; scheduling: string }[];
  pythonProbeSkipped?: string;
}) {
  const pythonReady = pythonZmqMissing() === undefined;
  const rows = (controller: string, probe: string, scheduling = 'normal') =>
    written.latency.filter(
      (row) => row.controller === controller && row.probe === probe && row.scheduling === scheduling,
    ).length;
  assert.is(rows('trivial', 'node'), 1);
  if (fifoPermitted) assert.is(rows('trivial', 'node', 'fifo'), 1, 'the SCHED_FIFO runs were measured beside');
  else console.log('  (bench transport --scheduling fifo not checked: chrt -f 50 is not permitted here)');
  if (pythonReady) {
    assert.is(written.pythonProbeSkipped, undefined);
    assert.is(rows('raw-python', 'python'), 1, 'the pyzmq floor was measured');
    assert.is(rows('brain', 'python'), 1);
  } else {
    console.log(`  (python probe not checked: ${written.pythonProbeSkipped})`);
    assert.match(written.pythonProbeSkipped ?? '', 'python3');
  }
}

for (const [name, args] of runs) {
  smoke(`engram bench ${name}`, () => {
    assert.ok(existsSync(main), `${main} is missing: make test builds it first (make build)`);
    const output = mkdtempSync(join(tmpdir(), `engram-bench-${name}-`));
    const before = [modified(recorded(name)), modified(page)];
    const result = spawnSync(process.execPath, [main, 'bench', name, ...args, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, ENGRAM_BENCH_OUTPUT: output },
      timeout: 120_000,
    });
    const lines = result.stdout.trim().split('\n');
    assert.is(result.status, 0, `exit ${result.status}: ${result.stderr.slice(-2000)}`);
    const summary = JSON.parse(lines[lines.length - 1]!) as object;
    assert.type(summary, 'object');
    const written = JSON.parse(readFileSync(join(output, 'bench', 'results', `${name}.json`), 'utf8'));
    assert.is(written.benchmark, name);
    assert.ok(written.machine?.cores >= 1, 'the results state the machine');
    const section = readFileSync(join(output, 'docs', 'benchmarks.md'), 'utf8');
    assert.match(section, `<!-- bench:${name}:start -->`);
    assert.equal([modified(recorded(name)), modified(page)], before, 'the recorded figures are untouched');
    if (name === 'transport') checkTransportProbes(written);
    rmSync(output, { recursive: true });
  });
}

smoke.run();
