/**
 * Every benchmark writes bench/results/<name>.json and replaces its own section of
 * docs/benchmarks.md (between markers), stating the machine it ran on.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname.replace(/\/dist\/$/, '/');
/** Results and docs live in the source tree even when the benchmark runs from dist/. */
export const repoRoot = root.endsWith('/dist/') ? root.slice(0, -'dist/'.length) : root;

/**
 * Where results and the benchmarks page are written: the repository, or the directory in
 * ENGRAM_BENCH_OUTPUT (smoke tests run the real benchmarks without touching the recorded figures).
 */
export function outputPath(...parts: string[]): string {
  return join(process.env.ENGRAM_BENCH_OUTPUT || repoRoot, ...parts);
}

/** bench/results/<name>.json under the output root. */
export function resultPath(name: string): string {
  return outputPath('bench', 'results', `${name}.json`);
}

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  hostname: string;
  date: string;
}

export function describeMachine(): MachineDescription {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    hostname: os.hostname(),
    date: new Date().toISOString(),
  };
}

export function machineLine(machine: MachineDescription): string {
  return `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; run ${machine.date}`;
}

/** Writes bench/results/<name>.json with the machine description attached; returns its path. */
export function writeResult(name: string, result: object): string {
  const path = resultPath(name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ benchmark: name, machine: describeMachine(), ...result }, null, 2)}\n`);
  return path;
}

const docHeader = `# Benchmarks

Every figure on this page was written by a benchmark in \`bench/\` (run with \`make bench\` or
\`engram bench <name>\`); each section names the command and the machine it ran on, and the raw
results are in \`bench/results/<name>.json\`. These machines are shared and noisy: figures are
medians and p99 over repeated runs, and ratios are measured side by side in the same run.
`;

/** Replaces (or appends) the section `name` of docs/benchmarks.md. */
export function updateBenchmarksDoc(name: string, markdown: string): string {
  const path = outputPath('docs', 'benchmarks.md');
  let doc: string;
  try {
    doc = readFileSync(path, 'utf8');
  } catch {
    doc = docHeader;
  }
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${markdown.trim()}\n${end}`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  doc =
    from >= 0 && to > from
      ? doc.slice(0, from) + section + doc.slice(to + end.length)
      : `${doc.trimEnd()}\n\n${section}\n`;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, doc);
  return path;
}

/** Formats a markdown table from a header and rows. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Microseconds with sensible precision for tables. */
export function us(ns: number): string {
  const micro = ns / 1000;
  return micro >= 100 ? micro.toFixed(0) : micro >= 10 ? micro.toFixed(1) : micro.toFixed(2);
}
