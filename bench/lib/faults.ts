/**
 * Page faults and involuntary context switches over a benchmark run: two causes of a late wake that
 * come from inside the process's own machine, not from the hypervisor. A major fault (a page read
 * back from disk: a code page the kernel reclaimed, say) stalls the faulting thread for as long as
 * the read takes; an involuntary switch is the scheduler taking the CPU from the thread.
 */
import { readFileSync } from 'node:fs';

export interface FaultCounts {
  /** process-wide, getrusage */
  majorPageFaults: number;
  minorPageFaults: number;
  involuntarySwitches: number;
  /** the main thread's own (/proc/self/task/<pid>/status); NaN where /proc cannot be read */
  mainThreadInvoluntarySwitches: number;
}

function mainThreadInvoluntarySwitches(): number {
  try {
    const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
    const match = /^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(status);
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export function readFaultCounts(): FaultCounts {
  const usage = process.resourceUsage();
  return {
    majorPageFaults: usage.majorPageFault,
    minorPageFaults: usage.minorPageFault,
    involuntarySwitches: usage.involuntaryContextSwitches,
    mainThreadInvoluntarySwitches: mainThreadInvoluntarySwitches(),
  };
}

/** What each count grew by since `before`. */
export function faultsSince(before: FaultCounts): FaultCounts {
  const now = readFaultCounts();
  return {
    majorPageFaults: now.majorPageFaults - before.majorPageFaults,
    minorPageFaults: now.minorPageFaults - before.minorPageFaults,
    involuntarySwitches: now.involuntarySwitches - before.involuntarySwitches,
    mainThreadInvoluntarySwitches: now.mainThreadInvoluntarySwitches - before.mainThreadInvoluntarySwitches,
  };
}
