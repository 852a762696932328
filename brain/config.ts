/**
 * The brain's configuration: one strict zod schema (unknown keys are errors) with defaults, so a
 * YAML config, the sim runner and the benchmarks all build a brain the same way. runtime/config.ts
 * composes this schema into the whole-file schema.
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const memoryConfigSchema = z.strictObject({
  /** hard cap by count; the store's arrays are sized to this once */
  capacity: positiveInt.default(100_000),
  /** hard cap by bytes (store arrays plus index), in MiB; the effective cap is the smaller */
  maxMiB: z.number().positive().default(1024),
  /** links kept per experience to its most similar experiences (sparse activation graph) */
  linksPerExperience: z.number().int().min(0).max(64).default(8),
  /** when free system memory drops below this (MiB), the effective cap shrinks and the log says so */
  minFreeSystemMiB: z.number().min(0).default(512),
  /** most evictions done in one cycle's slack (bounds eviction cost per cycle) */
  evictionsPerCycle: positiveInt.default(8),
});

export const similarityConfigSchema = z.strictObject({
  /** hardware profile name in profiles/, or 'auto' to match the host */
  profile: z.string().default('auto'),
  /** neighbours per context lookup */
  k: positiveInt.default(16),
  hnsw: z
    .strictObject({
      M: positiveInt.default(16),
      efConstruction: positiveInt.default(100),
      efSearch: positiveInt.default(32),
    })
    .default({ M: 16, efConstruction: 100, efSearch: 32 }),
});

export const activationConfigSchema = z.strictObject({
  /** fraction of activation kept per step */
  decay: z.number().min(0).max(1).default(0.8),
  /** fraction passed along links per step */
  spread: z.number().min(0).max(1).default(0.5),
  /** bound on the active set (working memory) */
  maxActive: positiveInt.default(256),
});

export const plannerConfigSchema = z.strictObject({
  /** candidate actions scored per cycle at full effort */
  candidates: positiveInt.default(32),
  /** steps of each candidate sequence at full effort */
  horizon: positiveInt.default(8),
  /** discount per step for returns and plans */
  discount: z.number().min(0).max(1).default(0.98),
  /** neighbours used by the kNN forward model */
  modelK: positiveInt.default(8),
});

export const explorationConfigSchema = z.strictObject({
  /** weight of the novelty / prediction-error bonus when confidence is low */
  noveltyWeight: z.number().min(0).default(1),
  /** std-dev of action noise at zero confidence, as a fraction of the action range */
  noise: z.number().min(0).default(0.3),
});

export const brainConfigSchema = z.strictObject({
  seed: z.number().int().default(1),
  memory: memoryConfigSchema.default(memoryConfigSchema.parse({})),
  similarity: similarityConfigSchema.default(similarityConfigSchema.parse({})),
  activation: activationConfigSchema.default(activationConfigSchema.parse({})),
  planner: plannerConfigSchema.default(plannerConfigSchema.parse({})),
  exploration: explorationConfigSchema.default(explorationConfigSchema.parse({})),
});

export type BrainConfig = z.infer<typeof brainConfigSchema>;

/** Defaults overlaid with `partial` (validated: throws a ZodError naming the bad key). */
export function brainConfig(partial: unknown = {}): BrainConfig {
  return brainConfigSchema.parse(partial);
}
