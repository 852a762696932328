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

interface ProfileNode {
  selfSize: number;
  children: ProfileNode[];
}

/**
 * JS heap bytes allocated while `run` runs, collected objects included, from V8's sampling heap
 * profiler (a sample every ~16 B on average): unlike heap growth it does not depend on when the
 * young generation takes a new page, so small per-event costs of asynchronous code show.
 */
export async function sampledAllocation(run: () => Promise<void>): Promise<number> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 16,
      includeObjectsCollectedByMinorGC: true,
      includeObjectsCollectedByMajorGC: true,
    });
    await run();
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
    let total = 0;
    const stack = [profile.head];
    while (stack.length > 0) {
      const node = stack.pop()!;
      total += node.selfSize;
      stack.push(...node.children);
    }
    return total;
  } finally {
    session.disconnect();
  }
}
