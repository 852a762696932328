/**
 * Shared statistics for benchmarks: percentiles over preallocated sample buffers, and GC counting
 * through PerformanceObserver (the same source `engram profile` uses).
 */
import { PerformanceObserver, constants as perfConstants, performance } from 'node:perf_hooks';
import { monotonicNs } from '../../runtime/clock.js';
import { type Distribution, distributionOf } from '../../runtime/profile/stats.js';

export type { Distribution };

/**
 * Percentiles of the first `count` samples (sorts a copy; call outside the measured region). The
 * profiler's nearest-rank percentiles, with NaN rather than zeros when there are no samples.
 */
export function distribution(samples: Float64Array | number[], count = samples.length): Distribution {
  if (count === 0) {
    return {
      count: 0,
      mean: Number.NaN,
      p50: Number.NaN,
      p90: Number.NaN,
      p99: Number.NaN,
      p999: Number.NaN,
      max: Number.NaN,
    };
  }
  return distributionOf(samples instanceof Float64Array ? samples : Float64Array.from(samples), count);
}

/** Median of a list of numbers (e.g. the p99 of several repeated runs). */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Counts GC events by kind while started. GC entries arrive asynchronously: read after a tick. */
export class GcCounter {
  minor = 0;
  major = 0;
  other = 0;
  totalPauseMs = 0;
  /** each pause as [start, end) on the monotonic clock (ns), in the order observed */
  readonly pauses: [number, number][] = [];
  /** monotonic ns at performance.now() = 0 (performance.now() runs on the same monotonic clock) */
  private readonly originNs = monotonicNs() - performance.now() * 1e6;
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // detail.kind is one of perf_hooks' NODE_PERFORMANCE_GC_* constants (minor 1, major 4, ...)
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) this.minor++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.major++;
      else this.other++;
      this.totalPauseMs += entry.duration;
      const startNs = this.originNs + entry.startTime * 1e6;
      this.pauses.push([startNs, startNs + entry.duration * 1e6]);
    }
  });
  start(): this {
    this.observer.observe({ entryTypes: ['gc'] });
    return this;
  }
  /** Stops observing after pending entries are delivered. */
  async stop(): Promise<{ minor: number; major: number; other: number; total: number; pauseMs: number }> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    this.observer.disconnect();
    return {
      minor: this.minor,
      major: this.major,
      other: this.other,
      total: this.minor + this.major + this.other,
      pauseMs: this.totalPauseMs,
    };
  }
}

/** Monotonic nanoseconds as a number, without allocating (runtime/clock.ts monotonicNs). */
export function nowNs(): number {
  return monotonicNs();
}
