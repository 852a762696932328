/**
 * createBrain: the one way to build a brain from a validated config (sim runner, run command,
 * benchmarks and tests all use it). Sizes the store from both hard caps (count and bytes), builds
 * the similarity index over it and wires the brain.
 */
import os from 'node:os';
import type { Clock, EventLog } from '../runtime/contracts.js';
import { Brain } from './brain.js';
import type { BrainConfig } from './config.js';
import { LinearIndex } from './linear-index.js';
import { ExperienceStore, type VectorSource } from './memory/store.js';
import type { KernelPath } from './native-kernels.js';
import type { SimilarityIndex } from './similarity/backend.js';
import { selectProfile } from './similarity/profile.js';
import { SimilarityRegistry } from './similarity/registry.js';

export interface CreateBrainOptions {
  observationSize: number;
  actionSize: number;
  clock: Clock;
  log: EventLog;
  /**
   * The similarity index over the store's vectors: a builder (called with the store), 'linear' for
   * the exact scan alone, or omitted for the registry (linear / HNSW / tensor by memory size, from
   * the hardware profile named in config.similarity.profile).
   */
  index?: 'linear' | ((source: VectorSource) => SimilarityIndex | Promise<SimilarityIndex>);
  /** profiles directory for the registry (default: profiles/ at the repository root) */
  profilesDir?: string;
  /** bytes the index holds per experience, for the byte cap (default: an HNSW estimate from config) */
  indexBytesPerExperience?: number;
  /** free system memory in bytes (default os.freemem) */
  freeMemoryBytes?: () => number;
  /** where the planner's arithmetic runs (BrainOptions.kernels) */
  kernels?: KernelPath;
}

/**
 * Bytes per experience beyond the store: the active set's slot map and the planner's visit stamps,
 * and with deep exploration on (exploration.intrinsicWeight > 0) the intrinsic return. Its visit
 * grid is a fixed 1 MiB, not per experience.
 */
function brainBytesPerSlot(config: BrainConfig): number {
  return 4 + 4 + (config.exploration.intrinsicWeight > 0 ? 4 : 0);
}

/**
 * Bytes one experience costs: the store's typed arrays (measured from a one-slot store's actual
 * byteLengths, so a new field is counted without anyone updating a formula), the brain's per-slot
 * arrays and the index's estimate.
 */
export function bytesPerExperience(
  config: BrainConfig,
  contextDim: number,
  actionDim: number,
  indexBytes?: number,
): number {
  const probe = new ExperienceStore({
    capacity: 1,
    contextDim,
    actionDim,
    linksPerExperience: config.memory.linksPerExperience,
  });
  let storeBytes = 0;
  for (const value of Object.values(probe)) {
    if (ArrayBuffer.isView(value)) storeBytes += value.byteLength;
  }
  return storeBytes + brainBytesPerSlot(config) + (indexBytes ?? hnswBytesEstimate(config, contextDim));
}

/** hnswlib: the vector, a label, level-0 links (2M + count) and ~1/(M-1) of elements on upper levels. */
export function hnswBytesEstimate(config: BrainConfig, contextDim: number): number {
  const M = config.similarity.hnsw.M;
  const level0 = contextDim * 4 + 8 + (2 * M + 1) * 4;
  const upper = ((M + 1) * 4 + 8) / Math.max(1, M - 1);
  return Math.ceil(level0 + upper + 16);
}

/** The count cap after the byte budget: min(capacity, maxMiB / bytes per experience). */
export function hardCap(config: BrainConfig, perExperience: number): number {
  const byBytes = Math.floor((config.memory.maxMiB * 2 ** 20) / perExperience);
  return Math.max(1, Math.min(config.memory.capacity, byBytes));
}

/** The registry over the store; if no profile can be loaded, the exact scan (said in the log). */
async function defaultIndex(
  config: BrainConfig,
  store: ExperienceStore,
  options: CreateBrainOptions,
): Promise<SimilarityIndex> {
  let profile: ReturnType<typeof selectProfile>;
  try {
    profile = selectProfile(
      config.similarity.profile,
      options.log,
      options.profilesDir ? { dir: options.profilesDir } : {},
    );
  } catch (error) {
    options.log.warn(
      { profile: config.similarity.profile, why: (error as Error).message },
      'no similarity profile could be loaded: using the exact scan only',
    );
    return new LinearIndex(store);
  }
  return SimilarityRegistry.create(store, config.similarity, profile, options.log, options.clock);
}

export async function createBrain(config: BrainConfig, options: CreateBrainOptions): Promise<Brain> {
  const { observationSize, actionSize } = options;
  if (!Number.isInteger(observationSize) || observationSize < 1) {
    throw new RangeError(`observationSize must be a positive integer, got ${observationSize}`);
  }
  if (!Number.isInteger(actionSize) || actionSize < 1) {
    throw new RangeError(`actionSize must be a positive integer, got ${actionSize}`);
  }
  const perExperience = bytesPerExperience(config, observationSize, actionSize, options.indexBytesPerExperience);
  const cap = hardCap(config, perExperience);
  if (cap < config.memory.capacity) {
    options.log.info(
      { capacity: config.memory.capacity, maxMiB: config.memory.maxMiB, bytesPerExperience: perExperience, cap },
      'memory byte budget lowers the experience cap',
    );
  }
  // The arrays are sized to the cap: memory held is bounded by both caps from the start.
  const store = new ExperienceStore({
    capacity: cap,
    contextDim: observationSize,
    actionDim: actionSize,
    linksPerExperience: config.memory.linksPerExperience,
  });
  const index =
    options.index === 'linear'
      ? new LinearIndex(store)
      : options.index
        ? await options.index(store)
        : await defaultIndex(config, store, options);
  const brain = new Brain(config, store, index, {
    clock: options.clock,
    log: options.log,
    freeMemoryBytes: options.freeMemoryBytes ?? (() => os.freemem()),
    hardCap: cap,
    kernels: options.kernels,
  });
  if (options.kernels !== 'javascript' && brain.local.kernelsUnavailable !== null) {
    options.log.warn(
      { why: brain.local.kernelsUnavailable },
      "the planner's arithmetic runs in JavaScript: the same results as engram's kernel addon, slower",
    );
  }
  return brain;
}
