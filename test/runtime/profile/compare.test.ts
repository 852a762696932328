import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { command } from '../../../runtime/cli/profile.js';
import { compareSummaries, parsePercent } from '../../../runtime/profile/compare.js';
import { ProfileInputError, type ProfileSummary, readSummary } from '../../../runtime/profile/summary.js';
import { writeProfile } from '../../../runtime/profile/write.js';
import { runHarnessSession } from './harness.js';

const compare = suite('profile compare');
const root = mkdtempSync(join(tmpdir(), 'engram-compare-'));
const baseline = join(root, 'a');
let summary: ProfileSummary;

/** Runs `engram profile <argv>` in-process, capturing stdout and stderr. */
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await command.run(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** A copy of the baseline profile with `edit` applied to its summary. */
function plantedProfile(name: string, edit: (s: ProfileSummary) => void): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const copy = structuredClone(summary);
  edit(copy);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(copy));
  return dir;
}

compare.before(async () => {
  const { data } = await runHarnessSession({ rateHz: 200, durationMs: 600, stageWorkUs: 100, forceGcEvery: 0 });
  summary = (await writeProfile(data, baseline)).summary;
});
compare.after(() => rmSync(root, { recursive: true, force: true }));

compare('a profile compared with itself passes', async () => {
  const result = await cli(['compare', baseline, baseline, '--json']);
  assert.is(result.code, 0, result.stdout + result.stderr);
  const json = JSON.parse(result.stdout.trimEnd().split('\n').at(-1)!);
  assert.is(json.regressed, false);
  assert.is(json.rows.length, 10);
  assert.match(result.stdout, /plan/);
});

compare('a planted regression in one stage fails, and the table names it', async () => {
  const slower = plantedProfile('slower-plan', (s) => {
    s.stages.plan.p99 *= 1.5;
  });
  const result = await cli(['compare', baseline, slower, '--max-regression', '10%']);
  assert.is(result.code, 1, result.stdout);
  assert.match(result.stdout, /plan .*REGRESSED/);
  assert.match(result.stdout, /REGRESSION past 10%.*plan p99/);
  assert.not.match(result.stdout, /encode .*REGRESSED/);
});

compare('a regression under the threshold, or under the noise floor, passes', async () => {
  const slightly = plantedProfile('slightly', (s) => {
    s.stages.plan.p50 *= 1.05;
  });
  assert.is((await cli(['compare', baseline, slightly, '--max-regression', '10%'])).code, 0);
  assert.is((await cli(['compare', baseline, slightly, '--max-regression', '2%'])).code, 1);
  const tiny = plantedProfile('tiny', (s) => {
    s.stages.publish.p50 += 500; // +0.5 µs: a large fraction of a sub-µs stage, but noise
  });
  assert.is((await cli(['compare', baseline, tiny, '--max-regression', '10%', '--noise-floor-us', '1'])).code, 0);
  assert.is((await cli(['compare', baseline, tiny, '--max-regression', '10%', '--noise-floor-us', '0'])).code, 1);
});

compare('a faster candidate is no regression', () => {
  const faster = structuredClone(summary);
  for (const stage of Object.values(faster.stages)) {
    stage.p50 /= 2;
    stage.p99 /= 2;
  }
  const result = compareSummaries(summary, faster, { maxRegression: 0.1, noiseFloorNs: 0 });
  assert.equal(result.regressions, []);
  assert.ok(result.rows.every((row) => row.p50.change <= 0));
});

compare('missing, foreign or corrupt profile directories give a clear error and exit 2', async () => {
  const missing = await cli(['compare', baseline, join(root, 'nope')]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /does not exist/);

  const empty = join(root, 'empty');
  mkdirSync(empty);
  assert.match((await cli(['compare', empty, baseline])).stderr, /not a profile directory: it has no summary.json/);

  const corrupt = join(root, 'corrupt');
  mkdirSync(corrupt);
  writeFileSync(join(corrupt, 'summary.json'), readFileSync(join(baseline, 'summary.json'), 'utf8').slice(0, 200));
  const truncated = await cli(['compare', baseline, corrupt]);
  assert.is(truncated.code, 2);
  assert.match(truncated.stderr, /is not valid JSON/);

  const wrong = plantedProfile('wrong-schema', (s) => {
    (s.stages as Record<string, unknown>).plan = { p50: 'fast' };
  });
  assert.throws(
    () => readSummary(wrong),
    (error: Error) => error instanceof ProfileInputError && /stages\.plan/.test(error.message),
  );
});

compare('bad arguments are usage errors', async () => {
  await cli(['compare', baseline]).then(
    () => assert.unreachable('one directory accepted'),
    (error: Error) => assert.match(error.message, /exactly two/),
  );
  assert.throws(() => parsePercent('ten'), /percentage/);
  assert.is(parsePercent('12.5%'), 0.125);
  assert.is(parsePercent('10'), 0.1);
});

compare('engram profile: --help for both forms, a missing or unreadable config is a clear error', async () => {
  const help = await cli(['--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /--config <file>/);
  assert.match(help.stdout, /trace\.json/);
  const compareHelp = await cli(['compare', '--help']);
  assert.is(compareHelp.code, 0);
  assert.match(compareHelp.stdout, /--max-regression/);
  await cli(['--duration', '1s']).then(
    () => assert.unreachable('ran without --config'),
    (error: Error) => assert.match(error.message, /--config <file> is required/),
  );
  const missing = await cli(['--config', join(root, 'no-such.yaml'), '--duration', '1s', '--out', join(root, 'never')]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /no-such\.yaml/);
});

compare.run();
