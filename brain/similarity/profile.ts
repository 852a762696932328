/**
 * Hardware profiles: where the similarity paths cross over on one kind of machine, measured by
 * `engram calibrate` and kept as YAML in profiles/. The registry routes every lookup through one.
 *
 * A profile holds routes by batch size. Each route is a list of bands over the dataset size N:
 * `{ path: linear, belowN: 1500 }, { path: hnsw }` reads "below 1,500 stored vectors scan, above
 * use HNSW". The route with minBatch 1 is the single-query crossover; routes for larger batches
 * describe the tensor path's (N, B) region. Band edges are crossed with hysteresis (a fraction of
 * the edge), so a memory hovering around an edge does not flap between paths.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import type { EventLog } from '../../runtime/contracts.js';

export const pathNames = ['linear', 'hnsw', 'tensor'] as const;
export type PathName = (typeof pathNames)[number];

const bandSchema = z.strictObject({
  path: z.enum(pathNames),
  /** this band serves N < belowN; the last band has no edge and serves everything above */
  belowN: z.number().int().positive().optional(),
});

const routeSchema = z
  .strictObject({
    /** this route serves batches of at least minBatch queries (up to the next route's minBatch) */
    minBatch: z.number().int().positive(),
    bands: z.array(bandSchema).min(1),
  })
  .superRefine((route, ctx) => {
    let previous = 0;
    for (let i = 0; i < route.bands.length; i++) {
      const band = route.bands[i]!;
      const last = i === route.bands.length - 1;
      if (last && band.belowN !== undefined) {
        ctx.addIssue({ code: 'custom', message: 'the last band must not have belowN (it serves all larger N)' });
      }
      if (!last && band.belowN === undefined) {
        ctx.addIssue({ code: 'custom', message: `band ${i} needs belowN (only the last band is open-ended)` });
      }
      if (band.belowN !== undefined && band.belowN <= previous) {
        ctx.addIssue({ code: 'custom', message: `band edges must increase: ${band.belowN} after ${previous}` });
      }
      previous = band.belowN ?? previous;
    }
  });

const machineSchema = z.strictObject({
  cpuModel: z.string(),
  cores: z.number().int().positive(),
  memoryGiB: z.number().nonnegative(),
  node: z.string().optional(),
  platform: z.string().optional(),
  /** GPUs systeminformation reported on the measuring host (empty: none) */
  gpus: z.array(z.string()).optional(),
  /** tensor device that was measured, e.g. 'tfjs-wasm' or 'webgpu (NVIDIA H100)' */
  tensorDevice: z.string().optional(),
  measuredAt: z.string().optional(),
});

/** One calibration point, kept in the profile so a reader can see what the crossovers rest on. */
const measurementSchema = z.strictObject({
  n: z.number().int().positive(),
  batch: z.number().int().positive(),
  dim: z.number().int().positive(),
  /** median µs per query batch, per path that ran (absent: not measured at this point) */
  linear: z.number().nonnegative().optional(),
  hnsw: z.number().nonnegative().optional(),
  tensor: z.number().nonnegative().optional(),
  /** HNSW recall@k against the exact scan at this N */
  hnswRecall: z.number().min(0).max(1).optional(),
  /** the HNSW ef that recall was reached with (calibrate raises ef until recall >= 0.95) */
  hnswEf: z.number().int().positive().optional(),
  best: z.enum(pathNames),
});

export const profileSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'profile names are file-name safe: letters, digits, . _ -'),
    description: z.string().default(''),
    /** the machine it was measured on (absent for hand-written profiles such as default) */
    machine: machineSchema.optional(),
    /** how 'auto' recognises a host this profile fits */
    match: z
      .strictObject({
        /** case-insensitive substring of the CPU model string */
        cpuModelIncludes: z.string().min(1).optional(),
        cores: z.number().int().positive().optional(),
      })
      .optional(),
    /** an edge e is crossed upward above e*(1+h) and downward below e*(1-h) */
    hysteresis: z.number().min(0).max(0.9).default(0.2),
    routes: z.array(routeSchema).min(1),
    measurements: z.array(measurementSchema).optional(),
  })
  .superRefine((profile, ctx) => {
    if (profile.routes[0]?.minBatch !== 1) {
      ctx.addIssue({ code: 'custom', message: 'the first route must have minBatch 1 (single queries)' });
    }
    for (let i = 1; i < profile.routes.length; i++) {
      if (profile.routes[i]!.minBatch <= profile.routes[i - 1]!.minBatch) {
        ctx.addIssue({ code: 'custom', message: 'routes must be in increasing minBatch order' });
      }
    }
    for (const band of profile.routes[0]?.bands ?? []) {
      if (band.path === 'tensor') {
        ctx.addIssue({ code: 'custom', message: 'single queries (minBatch 1) route to linear or hnsw only' });
      }
    }
  });

export type Profile = z.infer<typeof profileSchema>;
export type Route = Profile['routes'][number];

/** The single-query crossover: N above which the profile routes single queries to HNSW. */
export function singleQueryCrossover(profile: Profile): number {
  for (const band of profile.routes[0]!.bands) if (band.path === 'hnsw') return previousEdge(profile.routes[0]!, band);
  return Number.POSITIVE_INFINITY;
}

function previousEdge(route: Route, band: Route['bands'][number]): number {
  const i = route.bands.indexOf(band);
  return i === 0 ? 0 : route.bands[i - 1]!.belowN!;
}

/** Parses and validates profile YAML; the error names the source and the bad field. */
export function parseProfile(text: string, source: string): Profile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new Error(`profile ${source}: not valid YAML: ${(error as Error).message}`);
  }
  const parsed = profileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`profile ${source} is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export function profileToYaml(profile: Profile): string {
  return stringifyYaml(profileSchema.parse(profile), { lineWidth: 120 });
}

/** profiles/ at the repository root, also when running from dist/. */
export function defaultProfilesDir(): string {
  const here = new URL('../..', import.meta.url).pathname;
  return here.endsWith('/dist/') ? join(here, '..', 'profiles') : join(here, 'profiles');
}

export interface HostDescription {
  cpuModel: string;
  cores: number;
}

export function describeHost(): HostDescription {
  const cpus = os.cpus();
  return { cpuModel: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length };
}

export function loadProfileFile(path: string): Profile {
  return parseProfile(readFileSync(path, 'utf8'), path);
}

/**
 * The profile named `name` in `dir`, or with 'auto' the most specific profile whose `match` fits
 * the host (CPU model substring and core count, read with node:os: the same string calibrate
 * writes into `match`), else 'default'. Logs the choice and its reason.
 */
export function selectProfile(
  name: string,
  log: EventLog,
  options: { dir?: string; host?: HostDescription } = {},
): Profile {
  const dir = options.dir ?? defaultProfilesDir();
  if (name !== 'auto') {
    const profile = loadProfileFile(join(dir, `${name}.yaml`));
    log.info({ profile: profile.name, reason: 'named in the config' }, 'similarity profile selected');
    return profile;
  }
  const host = options.host ?? describeHost();
  let best: Profile | undefined;
  let bestScore = 0;
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.yaml') && !file.endsWith('.yml')) continue;
    let profile: Profile;
    try {
      profile = loadProfileFile(join(dir, file));
    } catch (error) {
      log.warn({ file, error: (error as Error).message }, 'similarity profile skipped: invalid');
      continue;
    }
    const score = matchScore(profile, host);
    if (score > bestScore) {
      best = profile;
      bestScore = score;
    }
  }
  if (best) {
    log.info({ profile: best.name, reason: 'matches the host', host }, 'similarity profile selected');
    return best;
  }
  const fallback = loadProfileFile(join(dir, 'default.yaml'));
  log.info({ profile: fallback.name, reason: 'no profile matches the host', host }, 'similarity profile selected');
  return fallback;
}

/** 0 = does not match; otherwise how many conditions matched (more specific wins). */
export function matchScore(profile: Profile, host: HostDescription): number {
  const match = profile.match;
  if (!match) return 0;
  let score = 0;
  if (match.cpuModelIncludes !== undefined) {
    if (!host.cpuModel.toLowerCase().includes(match.cpuModelIncludes.toLowerCase())) return 0;
    score++;
  }
  if (match.cores !== undefined) {
    if (host.cores !== match.cores) return 0;
    score++;
  }
  return score;
}
