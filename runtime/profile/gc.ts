/**
 * GC events of the session from PerformanceObserver('gc'), with kind and duration, kept in
 * preallocated columns. V8 delivers entries asynchronously on the event loop (never inside a
 * cycle); their times are moved onto the loop's clock with an offset measured once at start.
 */

import { constants, type PerformanceEntry, PerformanceObserver, performance } from 'node:perf_hooks';
import { keepRowsBetween } from './columns.js';

/** detail.kind values, from node:perf_hooks constants (in Node 20: minor 1, major 4, incremental 8, weakcb 16). */
export const gcKindNames: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** detail.flags bit set on a GC asked for by the program (global.gc()) */
export const gcForcedFlag = constants.NODE_PERFORMANCE_GC_FLAGS_FORCED;

export function gcKindName(kind: number): string {
  return gcKindNames[kind] ?? `kind ${kind}`;
}

export class GcTable {
  count = 0;
  dropped = 0;
  /** start on the loop clock (ns) */
  readonly startNs: Float64Array;
  readonly durationNs: Float64Array;
  readonly kind: Uint8Array;
  /** detail.flags (gcForcedFlag marks a forced GC) */
  readonly flags: Uint8Array;

  constructor(readonly capacity: number) {
    this.startNs = new Float64Array(capacity);
    this.durationNs = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  append(startNs: number, durationNs: number, kind: number, flags: number): void {
    const i = this.count;
    if (i === this.capacity) {
      this.dropped++;
      return;
    }
    this.startNs[i] = startNs;
    this.durationNs[i] = durationNs;
    this.kind[i] = kind;
    this.flags[i] = flags;
    this.count = i + 1;
  }

  /** Keeps the GCs that started within [fromNs, toNs]. */
  keepBetween(fromNs: number, toNs: number): void {
    this.count = keepRowsBetween(
      this.count,
      this.startNs,
      [this.startNs, this.durationNs, this.kind, this.flags],
      fromNs,
      toNs,
    );
  }
}

/**
 * Records GC events while started. `clockOffsetNs` converts performance.now() milliseconds to the
 * loop clock: loopNs = now() * 1e6 + offset (measured by the session at start).
 */
export class GcRecorder {
  readonly table: GcTable;
  private readonly observer: PerformanceObserver;
  private clockOffsetNs = 0;

  constructor(capacity = 65_536) {
    this.table = new GcTable(capacity);
    this.observer = new PerformanceObserver((list) => {
      const entries = list.getEntries();
      for (let i = 0; i < entries.length; i++) {
        this.record(entries[i]!);
      }
    });
  }

  private record(entry: PerformanceEntry): void {
    const detail = (entry as unknown as { detail?: { kind?: number; flags?: number } }).detail;
    this.table.append(
      entry.startTime * 1e6 + this.clockOffsetNs,
      entry.duration * 1e6,
      detail?.kind ?? 0,
      detail?.flags ?? 0,
    );
  }

  start(clockOffsetNs: number): void {
    this.clockOffsetNs = clockOffsetNs;
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /**
   * Stops after the entries V8 has queued are delivered (they arrive on a later tick).
   */
  async stop(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const pending = this.observer.takeRecords();
    for (const entry of pending) this.record(entry);
    this.observer.disconnect();
  }
}

/** Offset from performance.now() (ms) to a ns clock, read back to back (sub-µs error). */
export function performanceToClockOffsetNs(clockNowNs: () => number): number {
  const before = clockNowNs();
  const perfMs = performance.now();
  const after = clockNowNs();
  return (before + after) / 2 - perfMs * 1e6;
}
