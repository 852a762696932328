/**
 * `engram calibrate`: measures the linear, HNSW and tensor similarity paths over a grid of dataset
 * sizes N and batch sizes B on this machine and writes a hardware profile (crossovers + the
 * machine's description) that `similarity.profile: auto` picks up on a matching host.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type CalibrationGrid, defaultGrid, measurePaths, routesFrom } from '../../brain/similarity/calibration.js';
import { defaultProfilesDir, type Profile, profileSchema, profileToYaml } from '../../brain/similarity/profile.js';
import { describeHost as describeHostWithGpus } from '../profile/host.js';
import { numberFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from './args.js';

const help = `usage: engram calibrate [--out profiles/<name>.yaml] [--name NAME] [--sizes 1000,10000,...]
                        [--batches 1,16,...] [--dim 64] [--k 16] [--cell-ms 150] [--quick] [--json]

Measures batched k-nearest search per path (linear scan, HNSW, tensor: the best tfjs backend that
initialises here) over a grid of N and B with trajectory data, and writes the crossovers and this
machine's description as a profile. Without --out the profile is printed, not written.

  --out PATH        write the profile YAML here (e.g. profiles/ci-2core.yaml)
  --name NAME       profile name (default: from --out's file name, else 'measured')
  --sizes LIST      N grid (default ${defaultGrid.sizes.join(',')}; about 3-5 min on 2 cores)
  --batches LIST    B grid (default ${defaultGrid.batches.join(',')})
  --dim D           vector length (default ${defaultGrid.dim})
  --k K             neighbours per query (default ${defaultGrid.k})
  --cell-ms MS      measuring time per grid cell (default ${defaultGrid.cellMs})
  --hnsw-build-limit N  largest N at which HNSW is built (default ${defaultGrid.hnswBuildLimit})
  --quick           small grid (N 300..30000, B 1,16,256) for a smoke run
  --json            print one JSON object (profile + measurements) as the last line`;

/** A comma-separated list of positive integers, sorted and deduplicated (also used by bench paths). */
export function listFlag(value: string | undefined, flag: string, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (parts.length === 0 || parts.some((p) => !Number.isInteger(p) || p <= 0)) {
    throw new UsageError(`--${flag} expects a comma-separated list of positive integers, got '${value}'`);
  }
  return [...new Set(parts)].sort((a, b) => a - b);
}

export const command: Subcommand = {
  name: 'calibrate',
  summary: 'measure similarity path crossovers into a profile',
  help,
  async run(argv) {
    const parsed = parseCommandArgs(
      argv,
      {
        out: { type: 'string' },
        name: { type: 'string' },
        sizes: { type: 'string' },
        batches: { type: 'string' },
        dim: { type: 'string' },
        k: { type: 'string' },
        'cell-ms': { type: 'string' },
        'hnsw-build-limit': { type: 'string' },
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      help,
    );
    if (!parsed) return 0;
    const v = parsed.values;
    const quick = v.quick === true;
    const grid: CalibrationGrid = {
      ...defaultGrid,
      sizes: listFlag(v.sizes, 'sizes', quick ? [300, 1_000, 3_000, 10_000, 30_000] : defaultGrid.sizes),
      batches: listFlag(v.batches, 'batches', quick ? [1, 16, 256] : defaultGrid.batches),
      dim: numberFlag(v.dim, 'dim', defaultGrid.dim),
      k: numberFlag(v.k, 'k', defaultGrid.k),
      cellMs: numberFlag(v['cell-ms'], 'cell-ms', quick ? 60 : defaultGrid.cellMs),
      hnswBuildLimit: numberFlag(v['hnsw-build-limit'], 'hnsw-build-limit', defaultGrid.hnswBuildLimit),
    };
    if (!Number.isInteger(grid.dim) || grid.dim < 1) throw new UsageError('--dim expects a positive integer');
    if (!Number.isInteger(grid.k) || grid.k < 1) throw new UsageError('--k expects a positive integer');
    const name = v.name ?? (v.out ? v.out.replace(/^.*\//, '').replace(/\.ya?ml$/, '') : 'measured');
    const log = (line: string) => process.stderr.write(`${line}\n`);
    log(
      `calibrating on ${os.cpus()[0]?.model.trim()} (${os.cpus().length} cores): N ${grid.sizes.join(',')} B ${grid.batches.join(',')} d ${grid.dim}`,
    );
    const started = Date.now();
    const result = await measurePaths(grid, log);
    const cpus = os.cpus();
    const host = await describeHostWithGpus();
    const profile: Profile = profileSchema.parse({
      name,
      description: `measured by engram calibrate in ${((Date.now() - started) / 1000).toFixed(0)} s (d = ${grid.dim}, k = ${grid.k}, trajectory data; HNSW M ${grid.hnsw.M} efC ${grid.hnsw.efConstruction} ef ${grid.hnsw.efSearch})`,
      machine: {
        cpuModel: cpus[0]?.model.trim() ?? 'unknown',
        cores: cpus.length,
        memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        node: process.version,
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        gpus: host.gpus.map((gpu) => `${gpu.vendor} ${gpu.model}`.trim()),
        tensorDevice: result.tensorDevice ?? 'none',
        measuredAt: new Date().toISOString(),
      },
      match: { cpuModelIncludes: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length },
      hysteresis: 0.2,
      routes: routesFrom(result),
      measurements: result.cells.map((c) => ({
        n: c.n,
        batch: c.batch,
        dim: grid.dim,
        ...(c.linear === undefined ? {} : { linear: round(c.linear) }),
        ...(c.hnsw === undefined ? {} : { hnsw: round(c.hnsw) }),
        ...(c.tensor === undefined ? {} : { tensor: round(c.tensor) }),
        ...(c.hnswRecall === undefined ? {} : { hnswRecall: round(c.hnswRecall, 3), hnswEf: c.hnswEf }),
        best: c.best,
      })),
    });
    const yaml = `# Written by \`engram calibrate\`; re-run on the target machine rather than editing.\n${profileToYaml(profile)}`;
    for (const note of result.notes) log(`note: ${note}`);
    if (v.out) {
      const path = v.out.includes('/') ? v.out : join(defaultProfilesDir(), v.out);
      writeFileSync(path, yaml);
      log(`wrote ${path}`);
    } else if (!v.json) {
      process.stdout.write(yaml);
    }
    if (v.json) printJsonLast({ profile, notes: result.notes, hnswBuildMs: result.hnswBuildMs });
    return 0;
  },
};

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
