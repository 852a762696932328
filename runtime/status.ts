/**
 * The live view and the rate-limited summaries, both from slack time. `cycleDone` copies the cycle
 * time into a preallocated window; `flush` (at most once per interval) computes rate achieved and
 * step p99 over the window and either redraws one terminal line or logs one plain status line.
 * Overruns, skipped ticks, rejected frames and safe actions are logged as counted summaries
 * (RateLimitedLog), never one line per event.
 */
import type { Clock, CycleObserver, CycleRecord } from './contracts.js';
import { type Logger, RateLimitedLog } from './log.js';
import type { Loop } from './loop.js';
import type { MemoryStats } from './metrics.js';

const summaryCheckNs = 1e9;

export interface StatusSnapshot {
  rateHz: number;
  targetHz: number;
  stepP99Us: number;
  cycleP99Us: number;
  latenessP99Us: number;
  overruns: number;
  skippedTicks: number;
  safeActions: number;
  rejectedFrames: number;
  effortLevel: number;
  experiences: number;
}

export interface StatusOptions {
  intervalNs: number;
  summaryIntervalNs: number;
  /** redraw one line on this stream (a terminal); otherwise log plain lines */
  tty?: NodeJS.WriteStream;
  windowSize?: number;
}

/** Tracks a counter's growth so its summary logs only what is new. */
class CountedSummary {
  private last = 0;
  readonly log: RateLimitedLog;
  constructor(
    logger: Logger,
    message: string,
    intervalNs: number,
    private readonly read: () => number,
  ) {
    this.log = new RateLimitedLog(logger, message, intervalNs);
  }
  flush(nowNs: number): void {
    const value = this.read();
    if (value > this.last) this.log.count(value - this.last);
    this.last = value;
    this.log.flush(nowNs);
  }
}

export class LoopStatus implements CycleObserver {
  private readonly stepWindow: Float64Array;
  private readonly cycleWindow: Float64Array;
  private readonly latenessWindow: Float64Array;
  private readonly scratch: Float64Array;
  private filled = 0;
  private next = 0;
  private lastReportNs = 0;
  private lastSummaryNs = 0;
  private lastCycles = 0;
  private readonly summaries: CountedSummary[];
  /** the latest figures (also what --json prints at the end) */
  readonly snapshot: StatusSnapshot;

  constructor(
    private readonly loop: Loop,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly memory: MemoryStats | undefined,
    private readonly options: StatusOptions,
  ) {
    const size = options.windowSize ?? 4096;
    this.stepWindow = new Float64Array(size);
    this.cycleWindow = new Float64Array(size);
    this.latenessWindow = new Float64Array(size);
    this.scratch = new Float64Array(size);
    const c = loop.counters;
    const every = options.summaryIntervalNs;
    this.summaries = [
      new CountedSummary(logger, 'cycle overruns', every, () => c.overruns),
      new CountedSummary(logger, 'ticks skipped after late cycles', every, () => c.skippedTicks),
      new CountedSummary(logger, 'steps past their deadline', every, () => c.deadlineMisses),
      new CountedSummary(logger, 'frames rejected by the brain', every, () => c.rejectedFrames),
      new CountedSummary(logger, 'frames rejected by the driver', every, () => loop.driver.counters().framesRejected),
      new CountedSummary(logger, 'safe actions published', every, () => c.safeActions),
      new CountedSummary(logger, 'slack work over its bound', every, () => c.maintenanceOverruns),
    ];
    this.snapshot = {
      rateHz: 0,
      targetHz: loop.settings.rateHz,
      stepP99Us: 0,
      cycleP99Us: 0,
      latenessP99Us: 0,
      overruns: 0,
      skippedTicks: 0,
      safeActions: 0,
      rejectedFrames: 0,
      effortLevel: 0,
      experiences: 0,
    };
  }

  cycleDone(record: CycleRecord): void {
    const i = this.next;
    this.stepWindow[i] = record.encodeNs + record.lookupNs + record.activationNs + record.planNs;
    this.cycleWindow[i] = record.cycleNs;
    this.latenessWindow[i] = record.latenessNs;
    this.next = i + 1 === this.stepWindow.length ? 0 : i + 1;
    if (this.filled < this.stepWindow.length) this.filled++;
  }

  private p99(window: Float64Array): number {
    const n = this.filled;
    if (n === 0) return 0;
    const sorted = this.scratch.subarray(0, n);
    sorted.set(window.subarray(0, n));
    sorted.sort();
    return sorted[Math.min(n - 1, Math.floor(0.99 * n))]!;
  }

  /** Recomputes the snapshot from the window and the counters. */
  update(nowNs: number): StatusSnapshot {
    const s = this.snapshot;
    const c = this.loop.counters;
    const elapsed = nowNs - this.lastReportNs;
    if (this.lastReportNs > 0 && elapsed > 0) s.rateHz = ((c.cycles - this.lastCycles) * 1e9) / elapsed;
    else s.rateHz = this.loop.achievedRateHz();
    this.lastReportNs = nowNs;
    this.lastCycles = c.cycles;
    s.stepP99Us = this.p99(this.stepWindow) / 1e3;
    s.cycleP99Us = this.p99(this.cycleWindow) / 1e3;
    s.latenessP99Us = this.p99(this.latenessWindow) / 1e3;
    s.overruns = c.overruns;
    s.skippedTicks = c.skippedTicks;
    s.safeActions = c.safeActions;
    s.rejectedFrames = c.rejectedFrames + this.loop.driver.counters().framesRejected;
    s.effortLevel = this.loop.ladder.level;
    s.experiences = this.memory ? this.memory.experiences() : 0;
    return s;
  }

  flush(_untilNs: number): void {
    const now = this.clock.nowNs();
    if (now - this.lastSummaryNs >= summaryCheckNs) {
      // Counters are read once a second; each summary still logs at most once per its interval.
      this.lastSummaryNs = now;
      for (const summary of this.summaries) summary.flush(now);
    }
    if (this.options.intervalNs <= 0) return;
    if (this.lastReportNs === 0) {
      // The first window starts at the first slack: rates over a handful of cycles mislead.
      this.lastReportNs = now;
      this.lastCycles = this.loop.counters.cycles;
      return;
    }
    if (now - this.lastReportNs < this.options.intervalNs) return;
    const s = this.update(now);
    if (this.options.tty) {
      this.options.tty.write(`\r\x1b[K${formatStatus(s)}`);
    } else {
      this.logger.info(
        {
          rateHz: round(s.rateHz),
          stepP99Us: round(s.stepP99Us),
          cycleP99Us: round(s.cycleP99Us),
          latenessP99Us: round(s.latenessP99Us),
          overruns: s.overruns,
          skipped: s.skippedTicks,
          safe: s.safeActions,
          rejected: s.rejectedFrames,
          effort: s.effortLevel,
          experiences: s.experiences,
        },
        'status',
      );
    }
  }

  /** Ends the live line so later output starts on a fresh line. */
  close(): void {
    if (this.options.tty && this.lastReportNs > 0) this.options.tty.write('\n');
    const now = this.clock.nowNs();
    for (const summary of this.summaries) summary.flush(now + 1e18);
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export function formatStatus(s: StatusSnapshot): string {
  return (
    `${s.rateHz.toFixed(1)}/${s.targetHz} Hz  step p99 ${s.stepP99Us.toFixed(0)} µs  cycle p99 ${s.cycleP99Us.toFixed(0)} µs` +
    `  late p99 ${s.latenessP99Us.toFixed(0)} µs  overruns ${s.overruns}  skipped ${s.skippedTicks}  safe ${s.safeActions}` +
    `  rejected ${s.rejectedFrames}  effort ${s.effortLevel}  memory ${s.experiences}`
  );
}
