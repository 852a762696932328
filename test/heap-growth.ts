import { sampleAllocations } from '../bench/lib/heap-sampling.js';

/**
 * Allocation tests measure JS heap growth per call of the code under test. The least of a few
 * windows: anything else that allocates meanwhile only adds. Needs --expose-gc (test/run.ts passes it).
 */

/** Heap bytes per unit of `run(count)`, the least over `windows` windows; undefined without --expose-gc. */
export function leastHeapGrowthPer(run: (count: number) => void, count: number, windows = 3): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    console.log('  (skipped: run with --expose-gc, as test/run.ts does)');
    return undefined;
  }
  let least = Number.POSITIVE_INFINITY;
  for (let window = 0; window < windows; window++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    run(count);
    least = Math.min(least, (process.memoryUsage().heapUsed - before) / count);
  }
  return least;
}

/**
 * JS heap bytes allocated while `run` runs, collected objects included, from V8's sampling heap
 * profiler (a sample every ~16 B on average): unlike heap growth it does not depend on when the
 * young generation takes a new page, so small per-event costs of asynchronous code show.
 */
export async function sampledAllocation(run: () => Promise<void>): Promise<number> {
  let total = 0;
  for (const site of await sampleAllocations(run)) total += site.bytes;
  return total;
}
