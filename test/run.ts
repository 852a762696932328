/**
 * Runs every test file under test/ in its own Node process (native handles, sockets and timers of
 * one file cannot hold up or leak into another), sequentially (some tests measure time), and ends
 * with the line `N passed, N failed` that CI reads.
 *
 * usage: node --import tsx test/run.ts [filter ...]   (filters match substrings of file paths)
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'test');
const perFileTimeoutMs = Number(process.env.ENGRAM_TEST_TIMEOUT_MS ?? 600_000);

function findTestFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTestFiles(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  exitCode: number | null;
  ms: number;
}

/** uvu prints `Total: N`, `Passed: N`, `Skipped: N` when a process's suites finish. */
function parseUvuSummary(output: string): { total: number; passed: number; skipped: number } | undefined {
  // uvu colours its summary; strip ANSI escapes before matching.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI colour escapes is the point
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const total = /Total:\s+(\d+)/g;
  const passed = /Passed:\s+(\d+)/g;
  const skipped = /Skipped:\s+(\d+)/g;
  let sum: { total: number; passed: number; skipped: number } | undefined;
  for (let t = total.exec(plain), p = passed.exec(plain), s = skipped.exec(plain); t && p; ) {
    sum ??= { total: 0, passed: 0, skipped: 0 };
    sum.total += Number(t[1]);
    sum.passed += Number(p[1]);
    sum.skipped += s ? Number(s[1]) : 0;
    t = total.exec(plain);
    p = passed.exec(plain);
    s = skipped.exec(plain);
  }
  return sum;
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      output += `\n[test runner] ${relative(root, file)} exceeded ${perFileTimeoutMs} ms, killed\n`;
      child.kill('SIGKILL');
    }, perFileTimeoutMs);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      const summary = parseUvuSummary(output);
      const result: FileResult = {
        file: relative(root, file),
        passed: summary?.passed ?? 0,
        // uvu's Total already leaves out skipped tests.
        failed: summary ? summary.total - summary.passed : 0,
        skipped: summary?.skipped ?? 0,
        exitCode,
        ms: Date.now() - started,
      };
      // A file that crashed or never printed a summary counts as one failure, never as silence.
      if (exitCode !== 0 && result.failed === 0) result.failed = 1;
      resolve(result);
    });
  });
}

const filters = process.argv.slice(2);
const files = findTestFiles(testDir).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
const results: FileResult[] = [];
for (const file of files) {
  process.stdout.write(`\n=== ${relative(root, file)}\n`);
  results.push(await runFile(file));
}

let passed = 0;
let failed = 0;
let skipped = 0;
process.stdout.write('\nper file (passed/failed/skipped, seconds):\n');
for (const r of results) {
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  const mark = r.failed > 0 ? 'FAIL' : 'ok  ';
  process.stdout.write(`  ${mark} ${r.file}  ${r.passed}/${r.failed}/${r.skipped}  ${(r.ms / 1000).toFixed(1)}s\n`);
}
if (files.length === 0) failed += 1; // no tests found is a failure, not a pass
process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = failed > 0 ? 1 : 0;
