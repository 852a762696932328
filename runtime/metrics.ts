/**
 * Prometheus metrics (prom-client), fed from slack time, never per cycle: `cycleDone` copies a few
 * numbers from the cycle record into preallocated typed arrays; `flush` (slack, bounded) moves them
 * into histograms and refreshes counters and gauges from the loop's counters. The HTTP endpoint
 * binds to 127.0.0.1 unless the config says otherwise.
 */
import { createServer, type Server } from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock, CycleObserver, CycleRecord } from './contracts.js';
import type { Loop } from './loop.js';

/** What the brain reports, if it can (memory size and evictions). */
export interface MemoryStats {
  experiences(): number;
  evictions(): number;
}

const stageNames = ['ingest', 'encode', 'lookup', 'plan', 'publish'] as const;
/** seconds; from 10 µs to 100 ms */
const timeBuckets = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 1e-1];
/** columns of the pending-sample table */
const COLUMNS = 7; // cycle, lateness, ingest, encode, lookup(+activation), plan, publish(+safety)

export class LoopMetrics implements CycleObserver {
  readonly registry = new Registry();
  private readonly pending: Float64Array;
  private pendingCount = 0;
  /** samples dropped because slack never came to drain them (counted, exported) */
  private dropped = 0;
  private lastExportNs = 0;
  private readonly cycleSeconds: Histogram;
  private readonly latenessSeconds: Histogram;
  private readonly stageSeconds: Histogram<'stage'>;
  private readonly gcPauseSeconds: Histogram<'kind'>;
  private readonly counters: Map<string, { counter: Counter; read: () => number; last: number }> = new Map();
  private readonly rate: Gauge;
  private readonly memorySize: Gauge;
  private readonly evictions: Counter;
  private lastEvictions = 0;
  private readonly heapBytes: Gauge;
  private readonly effortLevel: Gauge;
  private readonly gcPauses = new Float64Array(1024);
  private readonly gcKinds = new Uint8Array(1024);
  private gcCount = 0;
  private readonly gcObserver: PerformanceObserver;
  private rateWindowCycles = 0;
  private rateWindowStartNs = 0;

  constructor(
    private readonly loop: Loop,
    private readonly clock: Clock,
    private readonly memory: MemoryStats | undefined,
    /** how often flush exports (ns); samples accumulate in between */
    private readonly exportIntervalNs = 250e6,
    capacity = 8192,
  ) {
    this.pending = new Float64Array(capacity * COLUMNS);
    const registers = [this.registry];
    this.cycleSeconds = new Histogram({
      name: 'engram_cycle_seconds',
      help: 'wake to end of publish, per cycle',
      buckets: timeBuckets,
      registers,
    });
    this.latenessSeconds = new Histogram({
      name: 'engram_wake_lateness_seconds',
      help: 'wake time minus the tick deadline',
      buckets: timeBuckets,
      registers,
    });
    this.stageSeconds = new Histogram({
      name: 'engram_stage_seconds',
      help: 'time per cycle stage',
      labelNames: ['stage'],
      buckets: timeBuckets,
      registers,
    });
    this.gcPauseSeconds = new Histogram({
      name: 'engram_gc_pause_seconds',
      help: 'garbage collection pauses',
      labelNames: ['kind'],
      buckets: timeBuckets,
      registers,
    });
    const c = loop.counters;
    const counted: [string, string, () => number][] = [
      ['engram_cycles_total', 'cycles run', () => c.cycles],
      ['engram_skipped_ticks_total', 'ticks skipped after late cycles', () => c.skippedTicks],
      ['engram_overruns_total', 'cycles over the cycle budget', () => c.overruns],
      ['engram_deadline_misses_total', 'steps that returned after their deadline', () => c.deadlineMisses],
      ['engram_rejected_frames_total', 'frames rejected by the driver or the brain', () => this.rejectedFrames()],
      ['engram_held_actions_total', 'cycles that held the last action', () => c.heldActions],
      ['engram_safe_actions_total', 'cycles that published the safe action', () => c.safeActions],
      ['engram_maintenance_overruns_total', 'slack work that ran past its bound', () => c.maintenanceOverruns],
      ['engram_metric_samples_dropped_total', 'cycle samples not exported (no slack to drain)', () => this.dropped],
    ];
    for (const [name, help, read] of counted) {
      this.counters.set(name, { counter: new Counter({ name, help, registers }), read, last: 0 });
    }
    this.rate = new Gauge({ name: 'engram_rate_hz', help: 'cycles per second achieved', registers });
    this.memorySize = new Gauge({ name: 'engram_memory_experiences', help: 'experiences stored', registers });
    this.evictions = new Counter({ name: 'engram_evictions_total', help: 'experiences evicted', registers });
    this.heapBytes = new Gauge({ name: 'engram_heap_used_bytes', help: 'V8 heap in use', registers });
    this.effortLevel = new Gauge({ name: 'engram_effort_level', help: 'effort ladder rung (0 = full)', registers });
    new Gauge({
      name: 'engram_stage_budget_seconds',
      help: 'configured budget per stage',
      labelNames: ['stage'],
      registers,
      collect() {
        const budgets = loop.settings.stageBudgetsNs;
        for (const stage of stageNames) this.set({ stage }, budgets[stage] / 1e9);
      },
    });
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (this.gcCount >= this.gcPauses.length) continue;
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
        this.gcPauses[this.gcCount] = entry.duration / 1e3;
        this.gcKinds[this.gcCount] = kind;
        this.gcCount++;
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  private rejectedFrames(): number {
    return this.loop.counters.rejectedFrames + this.loop.driver.counters().framesRejected;
  }

  cycleDone(record: CycleRecord): void {
    if (this.pendingCount * COLUMNS >= this.pending.length) {
      this.dropped++;
      return;
    }
    const row = this.pendingCount * COLUMNS;
    const p = this.pending;
    p[row] = record.cycleNs;
    p[row + 1] = record.latenessNs;
    p[row + 2] = record.ingestNs;
    p[row + 3] = record.encodeNs;
    p[row + 4] = record.lookupNs + record.activationNs;
    p[row + 5] = record.planNs;
    p[row + 6] = record.publishNs + record.safetyNs;
    this.pendingCount++;
  }

  /** Moves pending samples into histograms (bounded by `untilNs`) and refreshes counters. */
  flush(untilNs: number): void {
    const now = this.clock.nowNs();
    if (now - this.lastExportNs < this.exportIntervalNs) return;
    const p = this.pending;
    let i = 0;
    for (; i < this.pendingCount; i++) {
      if ((i & 63) === 63 && this.clock.nowNs() >= untilNs) break;
      const row = i * COLUMNS;
      this.cycleSeconds.observe(p[row]! / 1e9);
      this.latenessSeconds.observe(p[row + 1]! / 1e9);
      for (let s = 0; s < stageNames.length; s++) {
        const seconds = p[row + 2 + s]! / 1e9;
        if (seconds > 0) this.stageSeconds.observe({ stage: stageNames[s]! }, seconds);
      }
    }
    if (i < this.pendingCount) {
      // Out of slack: keep the rest for the next flush (compacted to the front), export later.
      p.copyWithin(0, i * COLUMNS, this.pendingCount * COLUMNS);
      this.pendingCount -= i;
      return;
    }
    this.pendingCount = 0;
    this.lastExportNs = now;
    for (const entry of this.counters.values()) {
      const value = entry.read();
      if (value > entry.last) entry.counter.inc(value - entry.last);
      entry.last = value;
    }
    const cycles = this.loop.counters.cycles;
    if (this.rateWindowStartNs > 0 && now > this.rateWindowStartNs) {
      this.rate.set(((cycles - this.rateWindowCycles) * 1e9) / (now - this.rateWindowStartNs));
    }
    this.rateWindowCycles = cycles;
    this.rateWindowStartNs = now;
    if (this.memory) {
      this.memorySize.set(this.memory.experiences());
      const evicted = this.memory.evictions();
      if (evicted > this.lastEvictions) this.evictions.inc(evicted - this.lastEvictions);
      this.lastEvictions = evicted;
    }
    this.heapBytes.set(process.memoryUsage().heapUsed);
    this.effortLevel.set(this.loop.ladder.level);
    for (let g = 0; g < this.gcCount; g++) {
      const kind = this.gcKinds[g] === 1 ? 'minor' : this.gcKinds[g] === 2 ? 'major' : 'other';
      this.gcPauseSeconds.observe({ kind }, this.gcPauses[g]!);
    }
    this.gcCount = 0;
  }

  /** The text exposition (what the endpoint serves). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.gcObserver.disconnect();
  }
}

/** Serves GET /metrics. Resolves once listening; the address it bound to is returned. */
export async function serveMetrics(
  metrics: LoopMetrics,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url !== '/metrics' && request.url !== '/')) {
      response.writeHead(404).end('not found; try /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
      },
      (error: Error) => {
        response.writeHead(500).end(`${error.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/metrics` };
}
