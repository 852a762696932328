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
  /** live slots sampled per eviction to pick the lowest-utility victim (never a full scan) */
  evictionSample: positiveInt.default(32),
  /** how often maintain reads free system memory (ms; not on the hot path) */
  pressureCheckMs: positiveInt.default(1000),
  /** under memory pressure the effective cap becomes this fraction of the live count */
  pressureShrink: z.number().gt(0).lt(1).default(0.9),
});

export const similarityConfigSchema = z.strictObject({
  /** hardware profile name in profiles/, or 'auto' to match the host */
  profile: z.string().default('auto'),
  /** neighbours per context lookup */
  k: positiveInt.default(16),
  /**
   * HNSW graph: M links per element (2M on the bottom level), efConstruction candidates when
   * linking, efSearch when searching. Slot reuse after eviction moves an element, and hnswlib then
   * re-selects the links of every old neighbour over efConstruction candidates: the step's tail.
   * 12 / 64 / 48 against 16 / 100 / 32: half the move time, better recall after turnover
   * (`engram bench hnsw`, docs/benchmarks.md)
   */
  hnsw: z
    .strictObject({
      M: positiveInt.default(12),
      efConstruction: positiveInt.default(64),
      efSearch: positiveInt.default(48),
    })
    .default({ M: 12, efConstruction: 64, efSearch: 48 }),
});

export const activationConfigSchema = z.strictObject({
  /** fraction of activation kept per step */
  decay: z.number().min(0).max(1).default(0.8),
  /** fraction passed along links per step */
  spread: z.number().min(0).max(1).default(0.5),
  /** bound on the active set (working memory) */
  maxActive: positiveInt.default(256),
  /** activation below this leaves the active set */
  threshold: z.number().min(0).max(1).default(0.01),
});

export const plannerConfigSchema = z.strictObject({
  /** candidate actions scored per cycle at full effort */
  candidates: positiveInt.default(32),
  /** steps of each candidate sequence at full effort */
  horizon: positiveInt.default(16),
  /** discount per step for returns and plans */
  discount: z.number().min(0).lt(1).default(0.98),
  /** neighbours used by the kNN forward model beyond the first step (successors and their links) */
  modelK: positiveInt.default(8),
  /** action bounds, the same for every action dimension (DeepMind Control Suite: [-1, 1]) */
  actionMin: z.number().default(-1),
  actionMax: z.number().default(1),
  /** action kernel width as a fraction of the action range: how alike two actions must be to share an outcome */
  actionKernel: z.number().positive().default(0.15),
  /** state kernel width as a multiple of the mean squared distance to the looked-up neighbours */
  stateKernel: z.number().positive().default(1),
  /** std-dev of the perturbations around the previous best plan, as a fraction of the action range */
  perturbation: z.number().min(0).default(0.15),
  /** planning model: a linear fit to the neighbours around the current context, or kernel averages along successor links */
  model: z.enum(['local-linear', 'kernel']).default('local-linear'),
  /** how the action is chosen from the scored candidates: the best one, or their score-weighted average (MPPI) */
  selection: z.enum(['best', 'mppi']).default('mppi'),
  /** MPPI temperature as a fraction of the spread of candidate scores (small: close to the best) */
  temperature: z.number().positive().default(0.1),
  /** kernel of the local value fit: quadratic can represent a hilltop (e.g. a balanced pole), linear only a slope */
  valueKernel: z.enum(['linear', 'quadratic']).default('linear'),
  /**
   * rewards in local-linear rollouts: 'local' = the linear fit around the current context;
   * 'lookup' = the state is stepped through the local dynamics and each step's reward is the
   * kernel mean over the stored experiences nearest the predicted state (one index search per
   * step and candidate), so a plan is scored where it goes; the end value is then the kernel mean
   * of their returns (multiplied by `lookupValueWeight`); 'walk' (default) = the same, with the
   * nearest experiences found by walking successor and similarity links from the previous step's
   * (about 80 distances per step whatever the memory size: 4x faster than 'lookup' and as good
   * on cartpole, docs/brain.md)
   */
  rolloutReward: z.enum(['local', 'lookup', 'walk']).default('walk'),
  /**
   * how 'lookup' / 'walk' rollouts step the state after the first step: 'fit' = the local linear
   * fit around the current context; 'neighbours' = the mean outcome of the experiences nearest the
   * predicted state, corrected by the fit's action sensitivity (nonlinear dynamics further out)
   */
  rolloutDynamics: z.enum(['fit', 'neighbours']).default('fit'),
  /** weight of the looked-up end value with rolloutReward 'lookup' or 'walk' (0: rewards only) */
  lookupValueWeight: z.number().min(0).default(1),
  /** ridge strength of the local linear fit (divided by each neighbour's kernel weight) */
  ridge: z.number().positive().default(0.1),
  /** value backups: 0 = kernel mean of the neighbours' returns (the behaviour's value), 1 = smoothed max (greedy, optimistic) */
  optimism: z.number().min(0).max(1).default(0),
  /** TD backups over random stored experiences per maintain call (bounded sweeps) */
  sweepsPerMaintain: z.number().int().min(0).default(32),
  /**
   * random sweeps draw from the slots used so far (0 to the highest slot stored) instead of the
   * whole capacity: a young memory in a large store is then swept as often as a full one (with
   * 1,000 of 100,000 slots used, 99 of 100 draws otherwise find an empty slot). Off by default.
   */
  sweepUsedSlots: z.boolean().default(false),
  /** the most recent experiences of the episode backed up again on every maintain call (newest first) */
  recentBackups: z.number().int().min(0).max(1024).default(32),
  /**
   * Beacons (0: off, the default): this many stored experiences with the highest returns, at least
   * `beaconRadius` apart in context space, lend value to far-away states (brain/beacons.ts): a
   * 'lookup' / 'walk' rollout's end value becomes the larger of the looked-up value and the
   * beacons' value `max over beacons b of Q(b) - beaconSlope * (largest return seen) *
   * distance(state, b)`, at the rollout's end state or (`beaconPath`) as the discounted mean over
   * its predicted states. Where the stored returns are flat (no stored trajectory from here ever
   * reached a reward), plans that keep nearer the best states score higher, in evaluation too.
   * Measured on pendulum_swingup (repeat 4, runtime/cli/sim/task-defaults.ts), 100k steps x seeds
   * 1-3: slope 0.025 with beaconPath 719 (665 / 764 / 728), 0.05: 661, 0.1: 489, 0.2: 201; at the
   * end state only (slope 0.1): 164; without beacons: 162. Other tasks leave it off.
   */
  beacons: z.number().int().min(0).max(256).default(0),
  /** value lost per unit of normalised distance from a beacon, as a fraction of the largest return seen */
  beaconSlope: z.number().min(0).default(0.1),
  /** beacons nearer each other than this (normalised distance) replace each other */
  beaconRadius: z.number().positive().default(0.5),
  /** the beacons' value as the discounted mean over a rollout's predicted states instead of at its end state */
  beaconPath: z.boolean().default(false),
});

export const explorationConfigSchema = z.strictObject({
  /** weight of the novelty / prediction-error bonus when confidence is low */
  noveltyWeight: z.number().min(0).default(1),
  /**
   * weight of the bonus for plans that lead to states unlike anything stored (each predicted
   * state's distance to its nearest experience; planner.rolloutReward 'lookup' or 'walk')
   */
  stateNoveltyWeight: z.number().min(0).default(0),
  /** distance in normalised units at which a predicted state counts as novel */
  noveltyRadius: z.number().positive().default(0.2),
  /** std-dev of action noise at zero confidence, as a fraction of the action range */
  noise: z.number().min(0).default(0.3),
  /** noise that remains at full confidence, as a fraction of the action range */
  minNoise: z.number().min(0).default(0.02),
  /** step-to-step correlation of the action noise (0: white; 0.9: pushes that last ~10 steps, for swing-ups) */
  noiseCorrelation: z.number().min(0).lt(1).default(0),
  /** weight of the neighbours' stored prediction error in the exploration bonus */
  errorWeight: z.number().min(0).default(0.5),
  /**
   * Deep exploration (0: off, the default). Above 0, every experience also gets an intrinsic
   * return: a count-based bonus `intrinsicBonus / sqrt(1 + visits)` (visits: exploring steps
   * counted in the experience's cell of a hashed grid, cells `noveltyRadius` wide) backed up like
   * the extrinsic return, `Qi = bonus + intrinsicDiscount * Vi(successor)`, in a separate per-slot
   * array. While exploring, a rollout's end value becomes extrinsic + `intrinsicWeight` x intrinsic
   * (planner.rolloutReward 'lookup' or 'walk'; an end state away from every experience found is
   * valued towards a never-visited one's), so plans head for rarely visited regions beyond the
   * horizon; with exploration off only the extrinsic value counts. Measured: no gain on
   * pendulum_swingup (0 at 100k steps) or point_mass_easy (636-686 against 728 without at repeat 8;
   * docs/brain.md, "Limits and open work").
   */
  intrinsicWeight: z.number().min(0).default(0),
  /** scale of the count-based intrinsic reward (see intrinsicWeight) */
  intrinsicBonus: z.number().positive().default(1),
  /**
   * discount of the intrinsic return per step: shorter than the extrinsic one, so the optimistic
   * values of once-novel regions fall within a few sweeps of the memory once they are visited
   */
  intrinsicDiscount: z.number().min(0).lt(1).default(0.9),
});

export const normaliserConfigSchema = z.strictObject({
  /** observations that update the running mean/std; afterwards the statistics freeze so stored contexts stay comparable */
  warmupSteps: z.number().int().min(0).default(2000),
  /** floor on a dimension's std-dev (raw units), so a constant sensor does not blow up its noise */
  minStd: z.number().positive().default(0.01),
});

export const brainConfigSchema = z.strictObject({
  seed: z.number().int().default(1),
  memory: memoryConfigSchema.default(memoryConfigSchema.parse({})),
  similarity: similarityConfigSchema.default(similarityConfigSchema.parse({})),
  activation: activationConfigSchema.default(activationConfigSchema.parse({})),
  planner: plannerConfigSchema.default(plannerConfigSchema.parse({})),
  exploration: explorationConfigSchema.default(explorationConfigSchema.parse({})),
  normaliser: normaliserConfigSchema.default(normaliserConfigSchema.parse({})),
});

export type BrainConfig = z.infer<typeof brainConfigSchema>;

/** Cross-field rules zod's per-field schema cannot state; throws a RangeError naming the problem. */
export function checkBrainConfig(config: BrainConfig): BrainConfig {
  if (!(config.planner.actionMax > config.planner.actionMin)) {
    throw new RangeError(
      `planner.actionMax (${config.planner.actionMax}) must be greater than planner.actionMin (${config.planner.actionMin})`,
    );
  }
  return config;
}

/** Defaults overlaid with `partial` (validated: throws a ZodError naming the bad key). */
export function brainConfig(partial: unknown = {}): BrainConfig {
  return checkBrainConfig(brainConfigSchema.parse(partial));
}
