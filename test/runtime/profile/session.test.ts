/**
 * `engram profile` end to end on a short sim run: the real config, brain, in-process simulator
 * and loop, through the same composition as `engram run`; a GC-forcing observer makes sure GC
 * events are there to find.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Recorded, recordProfile } from '../../../runtime/cli/profile.js';
import { silentLogger } from '../../../runtime/log.js';
import { readSummary } from '../../../runtime/profile/summary.js';

const root = new URL('../../..', import.meta.url).pathname;
const configPath = join(root, 'configs/pendulum_swingup.yaml');
const simDriver = join(root, 'drivers/sim/inprocess.ts');
const session = suite('engram profile on a short sim run');
const out = mkdtempSync(join(tmpdir(), 'engram-profile-'));
let recorded: Recorded | undefined;
let forced = 0;

session.before(async () => {
  if (!existsSync(simDriver)) return;
  let cycles = 0;
  recorded = await recordProfile({
    configPath,
    durationMs: 2500,
    out,
    logger: silentLogger(),
    observers: [
      {
        cycleDone: () => {
          cycles++;
        },
        flush: () => {
          if (cycles % 25 === 0 && global.gc) {
            global.gc();
            forced++;
          }
        },
      },
    ],
  });
});
session.after(() => rmSync(out, { recursive: true, force: true }));

session('writes trace, report and a summary that accounts for every cycle', () => {
  if (!recorded) {
    console.log(`  skipped: the in-process sim driver (${simDriver}) is not there yet`);
    return;
  }
  for (const file of ['trace.json', 'report.html', 'summary.json']) assert.ok(existsSync(join(out, file)), file);
  const summary = readSummary(out);
  assert.ok(summary.cycles.recorded > 50, `${summary.cycles.recorded} cycles`);
  assert.is(summary.cycles.recorded + summary.cycles.dropped, recorded.loopCycles);
  assert.is(summary.cycles.dropped, 0);
  assert.is(summary.cycles.unaccounted, 0);
  assert.ok(summary.stages.ingest.max > 0 && summary.stages.plan.max > 0 && summary.stages.publish.max > 0);
  assert.ok(summary.lookupPaths.none! < summary.cycles.recorded, 'the brain looked something up');
  assert.is(summary.budgetNs, 10e6);
  // Heap every 500 ms from slack time, RSS every 250 ms from the worker (its first after 500 ms).
  assert.ok(summary.memory.heapSamples >= 3, `${summary.memory.heapSamples} heap samples`);
  assert.ok(summary.memory.rssSamples >= 3, `${summary.memory.rssSamples} RSS samples`);
  assert.ok(summary.memory.rssMaxBytes > summary.memory.heapUsedMaxBytes);
});

session('GC events are in the profile when GC is forced', () => {
  if (!recorded) return;
  const summary = readSummary(out);
  assert.ok(forced >= 2, `forced ${forced}`);
  assert.ok(summary.gc.forced >= forced - 1, `${summary.gc.forced} forced GCs recorded of ${forced}`);
  assert.ok((summary.gc.byKind.major ?? 0) >= summary.gc.forced);
  const trace = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8')) as {
    traceEvents: { ph: string; name: string }[];
  };
  assert.ok(trace.traceEvents.filter((e) => e.ph === 'i' && e.name === 'GC major').length >= summary.gc.forced);
});

session('the CLI with --json prints one JSON object as its last stdout line', () => {
  if (!recorded) return;
  const dir = join(out, 'cli');
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'runtime/cli/main.ts'),
      'profile',
      '--config',
      configPath,
      '--duration',
      '1500ms',
      '--out',
      dir,
      '--json',
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, ENGRAM_LOG_LEVEL: 'warn' }, timeout: 120_000 },
  );
  assert.is(result.status, 0, result.stderr);
  const json = JSON.parse(result.stdout.trimEnd().split('\n').at(-1)!);
  assert.is(json.out, dir);
  assert.is(json.cycles, json.loopCycles);
  assert.ok(json.cycles > 20 && json.cycleP99Ns >= json.cycleP50Ns);
  assert.is(readSummary(dir).cycles.recorded, json.cycles);
});

session.run();
