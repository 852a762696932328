/**
 * The Python example client against the whole runtime: `engram run` (fixed-rate loop, brain,
 * safety filter, ZeroMQ driver on ipc) in one process, examples/python/engram_client.py in
 * another. Every frame gets an action naming it; engram counts every frame and rejects none.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { python, pythonZmqMissing } from '../../../bench/lib/python.js';

const root = new URL('../../../', import.meta.url).pathname;
const skipReason = pythonZmqMissing();

const dir = mkdtempSync(join(tmpdir(), 'engram-run-py-'));
const config = `name: python_client_test
rateHz: 100
budget:
  cycleMs: 8
  stages: { ingest: 0.5, encode: 1, lookup: 2.5, plan: 3.5, publish: 0.5 }
  maintenanceMs: 1
channels:
  - { name: joints, size: 3, maxAgeMs: 200 }
  - { name: imu, size: 2, maxAgeMs: 200 }
action: { size: 2, low: [-1, -1], high: [1, 1], safe: [0, 0] }
safety: { staleAfterMs: 200, overrunPolicy: hold }
driver: { kind: zmq, frames: 'ipc://${dir}/frames', actions: 'ipc://${dir}/actions' }
brain:
  memory: { capacity: 5000, maxMiB: 64 }
  planner: { candidates: 8, horizon: 4 }
log: { level: info }
`;

function collect(child: ChildProcess): { out: () => string; err: () => string; exit: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { out: () => out, err: () => err, exit };
}

test('python client against `engram run` on ipc: 100 frames, each answered by an action naming it', async () => {
  if (skipReason) {
    console.log(`skipped: ${skipReason}`);
    return;
  }
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, config);
  const engram = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'runtime/cli/main.ts',
      'run',
      '--config',
      configFile,
      '--duration',
      '60s',
      '--no-status',
      '--json',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ENGRAM_LOG_LEVEL: 'info' } },
  );
  const engramIo = collect(engram);
  try {
    const deadline = Date.now() + 60_000;
    while (!engramIo.err().includes('zmq driver listening')) {
      if (Date.now() > deadline || engram.exitCode !== null) {
        assert.unreachable(`engram run did not start listening:\n${engramIo.err()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const client = spawn(
      python,
      [
        'examples/python/engram_client.py',
        ...['--frames', `ipc://${dir}/frames`, '--actions', `ipc://${dir}/actions`],
        ...['--channel', 'joints:3', '--channel', 'imu:2', '--action-size', '2'],
        ...['--rate', '50', '--count', '100', '--timeout-ms', '1000', '--json'],
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const clientIo = collect(client);
    const clientCode = await clientIo.exit;
    assert.is(clientCode, 0, `python client: ${clientIo.err()}${clientIo.out()}`);
    const summary = JSON.parse(clientIo.out().trim().split('\n').pop()!) as {
      answered: number;
      samples: { seq: number; action: number[] }[];
    };
    assert.is(summary.answered, 100);
    for (const sample of summary.samples) {
      for (const value of sample.action) assert.ok(value >= -1 && value <= 1, 'actions within the configured limits');
    }
    engram.kill('SIGTERM');
    await engramIo.exit;
    const run = JSON.parse(engramIo.out().trim().split('\n').pop()!) as {
      driver: { framesReceived: number; framesRejected: number; reconnects: number };
    };
    assert.is(run.driver.framesReceived, 100);
    assert.is(run.driver.framesRejected, 0);
  } finally {
    if (engram.exitCode === null) engram.kill('SIGKILL');
  }
});

test.run();
