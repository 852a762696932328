/**
 * V8's sampling heap profiler over the inspector, collected objects included: which functions
 * allocate while some code runs, and how much (estimated from the samples). Used by the allocation
 * tests (their totals) and by bench brain (the sites, when a step allocates more than it should).
 */
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/**
 * Bytes allocated by one function at one source line (V8's lineNumber is 0-based; this is 1-based),
 * called from `caller` (a double returned from a call V8 did not inline is boxed in the callee, so
 * the caller is often the place to mend).
 */
export interface AllocationSite {
  functionName: string;
  url: string;
  line: number;
  caller: string;
  bytes: number;
}

function frameName(node: ProfileNode | undefined): string {
  if (!node) return '(root)';
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${url}:${lineNumber + 1}`;
}

/**
 * Allocation sites while `run` runs, most bytes first. `samplingInterval` is the mean bytes
 * between samples: small intervals see small per-call costs, large ones cost less time.
 */
export async function sampleAllocations(
  run: () => void | Promise<void>,
  samplingInterval = 16,
): Promise<AllocationSite[]> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', {
      samplingInterval,
      includeObjectsCollectedByMinorGC: true,
      includeObjectsCollectedByMajorGC: true,
    });
    await run();
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
    const sites = new Map<string, AllocationSite>();
    const stack: { node: ProfileNode; parent: ProfileNode | undefined }[] = [{ node: profile.head, parent: undefined }];
    while (stack.length > 0) {
      const { node, parent } = stack.pop()!;
      for (const child of node.children) stack.push({ node: child, parent: node });
      if (node.selfSize === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const caller = frameName(parent);
      const key = `${frameName(node)}\u0000${caller}`;
      const site = sites.get(key);
      if (site) site.bytes += node.selfSize;
      else {
        sites.set(key, {
          functionName: functionName || '(anonymous)',
          url,
          line: lineNumber + 1,
          caller,
          bytes: node.selfSize,
        });
      }
    }
    return [...sites.values()].sort((a, b) => b.bytes - a.bytes);
  } finally {
    session.disconnect();
  }
}
