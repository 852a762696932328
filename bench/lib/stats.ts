/**
 * Shared statistics for benchmarks: percentiles over preallocated sample buffers, and GC counting
 * through PerformanceObserver (the same source `engram profile` uses).
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';

export interface Distribution {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles of the first `count` samples (sorts a copy; call outside the measured region). */
export function distribution(samples: Float64Array | number[], count = samples.length): Distribution {
  const sorted = Float64Array.from(samples.slice(0, count)).sort();
  const at = (q: number) => (count === 0 ? Number.NaN : sorted[Math.min(count - 1, Math.floor(q * count))]!);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i]!;
  return {
    count,
    mean: count ? sum / count : Number.NaN,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: count ? sorted[count - 1]! : Number.NaN,
  };
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
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // detail.kind is one of perf_hooks' NODE_PERFORMANCE_GC_* constants (minor 1, major 4, ...)
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) this.minor++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.major++;
      else this.other++;
      this.totalPauseMs += entry.duration;
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

/** Nanoseconds from process.hrtime.bigint() as a number (does not allocate per call in V8). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
