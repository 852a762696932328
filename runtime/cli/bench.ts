/**
 * `engram bench <name>`: each benchmark lives in bench/<name>.ts and exports `command: Subcommand`.
 * `engram bench all` runs them one after another (never in parallel: they measure the machine).
 */
import { type Subcommand, UsageError } from './args.js';

const benchmarks: Record<string, () => Promise<{ command: Subcommand }>> = {
  brain: () => import('../../bench/brain.js'),
  loop: () => import('../../bench/loop.js'),
  transport: () => import('../../bench/transport.js'),
  paths: () => import('../../bench/paths.js'),
  timing: () => import('../../bench/timing.js'),
  profile: () => import('../../bench/profile.js'),
  soak: () => import('../../bench/soak.js'),
  snapshot: () => import('../../bench/snapshot.js'),
  hnsw: () => import('../../bench/hnsw.js'),
};

const help = `usage: engram bench <${Object.keys(benchmarks).join('|')}|all> [options]

Runs a benchmark, writes bench/results/<name>.json and updates docs/benchmarks.md.
engram bench <name> --help lists that benchmark's options (sizes, durations, --json).`;

export const command: Subcommand = {
  name: 'bench',
  summary: 'benchmarks',
  help,
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h') {
      process.stdout.write(`${help}\n`);
      return name === undefined ? 2 : 0;
    }
    if (name === 'all') {
      let worst = 0;
      for (const [benchName, load] of Object.entries(benchmarks)) {
        process.stderr.write(`\n== engram bench ${benchName} ==\n`);
        const { command: bench } = await load();
        worst = Math.max(worst, await bench.run(rest));
      }
      return worst;
    }
    const load = benchmarks[name];
    if (!load)
      throw new UsageError(`unknown benchmark '${name}'; expected one of ${Object.keys(benchmarks).join(', ')}, all`);
    const { command: bench } = await load();
    return bench.run(rest);
  },
};
