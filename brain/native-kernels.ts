/**
 * engram's numeric-kernel addon (native/kernels, built by `make build` with node-gyp): the local
 * linear model's fit and predict (local-model.ts) and the planner's first walk step (plan.ts
 * walkFirst) in C++, bit for bit the JavaScript's results (see native/kernels/engram_kernels.cc for
 * how). Loaded lazily; without it both run their own JavaScript, which learns exactly the same, only
 * slower.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where the planner's arithmetic runs: engram's kernel addon, or JavaScript (the same bits). */
export type KernelPath = 'native' | 'javascript';

/**
 * plan.ts walkFirst: squared distances from x to `count` rows of `dim` floats, each inserted in row
 * order into the sorted set outSlots / outDistances (capacity: their length); returns how many it holds.
 */
export type NearestRows = (
  rows: Float32Array,
  count: number,
  dim: number,
  x: Float32Array,
  rowSlots: Int32Array,
  outSlots: Int32Array,
  outDistances: Float32Array,
) => number;

/** The scalars a native fit or prediction writes into `results` (engram_kernels.cc kStateScale...). */
export const KernelResult = { stateScale: 0, nextScale: 1, valueMin: 2, valueMax: 3, reward: 4 } as const;
export const KERNEL_RESULTS = 5;

/** One local model's kernels, bound to its arrays at construction. */
export interface LocalModelKernels {
  /** fit after the kernel weights and the centre are set: features, scales, value range, alpha */
  fit(
    context: Float32Array,
    outcome: Float32Array,
    action: Float32Array,
    reward: Float32Array,
    returnEstimate: Float32Array,
    slots: Int32Array,
    k: number,
  ): void;
  /** delta and results[reward] for state `x` (null: the fit's centre) and the action at actions[offset..] */
  predict(x: Float32Array | null, actions: Float32Array, offset: number, k: number): void;
}

export interface LocalModelArrays {
  stateFeatures: Float64Array;
  actionFeatures: Float64Array;
  nextFeatures: Float64Array;
  alpha: Float64Array;
  beta: Float64Array;
  gram: Float64Array;
  kernelWeights: Float64Array;
  centre: Float64Array;
  dots: Float64Array;
  results: Float64Array;
  delta: Float32Array;
}

interface KernelsAddon {
  nearestRows: NearestRows;
  LocalModelKernels: new (
    dim: number,
    actionDim: number,
    maxK: number,
    actionMid: number,
    inverseActionScale: number,
    ridge: number,
    discount: number,
    ...arrays: [
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float32Array,
    ]
  ) => LocalModelKernels;
}

export interface LocalModelShape {
  dim: number;
  actionDim: number;
  maxK: number;
  actionMid: number;
  inverseActionScale: number;
  ridge: number;
  discount: number;
}

/** The compiled addon: from brain/ (tsx) or dist/brain/ (the build). */
const addonCandidates = [
  '../native/kernels/build/Release/engram_kernels.node',
  '../../native/kernels/build/Release/engram_kernels.node',
];

let loaded: KernelsAddon | Error | undefined;

function loadAddon(): KernelsAddon | Error {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  loaded = new Error(
    "engram's kernel addon is not built (native/kernels; `make build` or `npm run build:native` builds it)",
  );
  for (const candidate of addonCandidates) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (!existsSync(path)) continue;
    try {
      loaded = require(path) as KernelsAddon;
    } catch (error) {
      loaded = new Error(`engram's kernel addon ${path} does not load: ${(error as Error).message}`);
    }
    break;
  }
  return loaded;
}

/** The addon's walk kernel, or null when the addon is not built (the planner's JavaScript serves). */
export function loadNearestRows(): NearestRows | null {
  const addon = loadAddon();
  return addon instanceof Error ? null : addon.nearestRows;
}

/** Native kernels bound to `arrays`, or an Error saying why there are none. */
export function createLocalModelKernels(shape: LocalModelShape, arrays: LocalModelArrays): LocalModelKernels | Error {
  const addon = loadAddon();
  if (addon instanceof Error) return addon;
  const { dim, actionDim, maxK, actionMid, inverseActionScale, ridge, discount } = shape;
  return new addon.LocalModelKernels(
    dim,
    actionDim,
    maxK,
    actionMid,
    inverseActionScale,
    ridge,
    discount,
    arrays.stateFeatures,
    arrays.actionFeatures,
    arrays.nextFeatures,
    arrays.alpha,
    arrays.beta,
    arrays.gram,
    arrays.kernelWeights,
    arrays.centre,
    arrays.dots,
    arrays.results,
    arrays.delta,
  );
}

/**
 * A Float64Array with its own ArrayBuffer: V8 keeps a small typed array's elements inside the JS heap,
 * where a collection may move them; a separate ArrayBuffer's backing store never moves, so a pointer
 * the addon keeps stays valid.
 */
export function fixedFloat64(length: number): Float64Array {
  return new Float64Array(new ArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
}

export function fixedFloat32(length: number): Float32Array {
  return new Float32Array(new ArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
}
