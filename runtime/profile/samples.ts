/**
 * What is sampled over the session rather than per cycle, all off the hot path:
 * - on the loop thread, from the recorder's flush in slack time: the V8 heap (getHeapStatistics,
 *   no syscall); event-loop delay is monitored by libuv and read once at the end;
 * - in a worker thread: process RSS and the machine's CPU load and memory (systeminformation).
 *   systeminformation costs 30-300 µs of synchronous work per call and ~10 ms of callbacks
 *   (measured here), which must not land on the loop's thread. The worker writes rows into a
 *   SharedArrayBuffer; nothing crosses threads per sample.
 * Columns are preallocated; a full table stops sampling. Times are on process.hrtime, the
 * SystemClock the loop runs on.
 */
import { createRequire } from 'node:module';
import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { keepRowsBetween } from './columns.js';

export class HeapSampleTable {
  count = 0;
  readonly tNs: Float64Array;
  readonly heapUsedBytes: Float64Array;
  readonly heapTotalBytes: Float64Array;
  readonly externalBytes: Float64Array;

  constructor(readonly capacity: number) {
    this.tNs = new Float64Array(capacity);
    this.heapUsedBytes = new Float64Array(capacity);
    this.heapTotalBytes = new Float64Array(capacity);
    this.externalBytes = new Float64Array(capacity);
  }

  keepBetween(fromNs: number, toNs: number): void {
    const columns = [this.tNs, this.heapUsedBytes, this.heapTotalBytes, this.externalBytes];
    this.count = keepRowsBetween(this.count, this.tNs, columns, fromNs, toNs);
  }
}

/** Column order of a machine row in the shared buffer. */
const machineColumns = 5;

export class MachineSampleTable {
  count = 0;
  readonly tNs: Float64Array;
  /** this process's resident set */
  readonly rssBytes: Float64Array;
  /** all cores, 0..100, over the interval ending at this sample */
  readonly cpuLoadPercent: Float64Array;
  readonly memUsedBytes: Float64Array;
  readonly memAvailableBytes: Float64Array;

  constructor(readonly capacity: number) {
    this.tNs = new Float64Array(capacity);
    this.rssBytes = new Float64Array(capacity);
    this.cpuLoadPercent = new Float64Array(capacity);
    this.memUsedBytes = new Float64Array(capacity);
    this.memAvailableBytes = new Float64Array(capacity);
  }

  keepBetween(fromNs: number, toNs: number): void {
    const columns = [this.tNs, this.rssBytes, this.cpuLoadPercent, this.memUsedBytes, this.memAvailableBytes];
    this.count = keepRowsBetween(this.count, this.tNs, columns, fromNs, toNs);
  }
}

export interface LoopDelaySummary {
  meanNs: number;
  p50Ns: number;
  p99Ns: number;
  maxNs: number;
}

export interface SamplerOptions {
  /** heap interval (ms), taken in slack time: ~2 µs with warm caches, 20-100 µs cold (measured) */
  heapIntervalMs?: number;
  /** RSS, machine CPU and memory interval (ms, at least 200), taken by the worker */
  machineIntervalMs?: number;
  /** rows preallocated per table */
  capacity?: number;
}

/**
 * Plain JS evaluated in the worker (works from source and from dist/). control[0]: rows written,
 * control[1]: stop. systeminformation's first currentLoad() measures over 500 ms; later calls
 * report the load since the previous one (calls closer than 200 ms return the cached value).
 */
const machineWorkerSource = `
const { workerData } = require('node:worker_threads');
const si = require(workerData.systeminformation);
const control = new Int32Array(workerData.control);
const rows = new Float64Array(workerData.rows);
const { capacity, intervalMs } = workerData;
async function sample() {
  if (Atomics.load(control, 1) !== 0) return;
  try {
    const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
    const i = Atomics.load(control, 0);
    if (i < capacity) {
      const at = i * ${machineColumns};
      rows[at] = Number(process.hrtime.bigint());
      rows[at + 1] = process.memoryUsage.rss();
      rows[at + 2] = load.currentLoad;
      rows[at + 3] = mem.total - mem.available;
      rows[at + 4] = mem.available;
      Atomics.store(control, 0, i + 1);
    }
  } catch {}
  if (Atomics.load(control, 1) === 0) setTimeout(sample, intervalMs);
}
sample();
`;

export class Sampler {
  readonly heap: HeapSampleTable;
  readonly machine: MachineSampleTable;
  private readonly heapIntervalNs: number;
  private readonly machineIntervalMs: number;
  private lastHeapNs = Number.NEGATIVE_INFINITY;
  /**
   * Event-loop delay over the whole session, read once at the end: reading its mean costs ~60 µs
   * and a reset ~30 µs (measured), too much for slack time every interval.
   */
  private readonly loopDelay: ELDHistogram;
  private worker: Worker | undefined;
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly rows: Float64Array;

  constructor(
    private readonly nowNs: () => number,
    options: SamplerOptions = {},
  ) {
    this.heapIntervalNs = (options.heapIntervalMs ?? 500) * 1e6;
    this.machineIntervalMs = Math.max(200, options.machineIntervalMs ?? 250);
    const capacity = options.capacity ?? 100_000;
    this.heap = new HeapSampleTable(capacity);
    this.machine = new MachineSampleTable(capacity);
    this.rows = new Float64Array(new SharedArrayBuffer(capacity * machineColumns * 8));
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
  }

  start(): void {
    this.loopDelay.enable();
    this.poll(this.nowNs());
    this.worker = new Worker(machineWorkerSource, {
      eval: true,
      workerData: {
        systeminformation: createRequire(import.meta.url).resolve('systeminformation'),
        control: this.control.buffer,
        rows: this.rows.buffer,
        capacity: this.machine.capacity,
        intervalMs: this.machineIntervalMs,
      },
    });
    // The worker must never keep the process alive on its own.
    this.worker.unref();
  }

  /** Takes a heap sample when one is due; called from slack time with the loop's latest time. */
  poll(nowNs: number): void {
    if (nowNs - this.lastHeapNs < this.heapIntervalNs) return;
    this.lastHeapNs = nowNs;
    const table = this.heap;
    const i = table.count;
    if (i === table.capacity) return;
    const heap = getHeapStatistics();
    table.tNs[i] = nowNs;
    table.heapUsedBytes[i] = heap.used_heap_size;
    table.heapTotalBytes[i] = heap.total_heap_size;
    table.externalBytes[i] = heap.external_memory;
    table.count = i + 1;
  }

  async stop(): Promise<LoopDelaySummary> {
    this.lastHeapNs = Number.NEGATIVE_INFINITY; // one last heap sample, now
    this.poll(this.nowNs());
    Atomics.store(this.control, 1, 1);
    await this.worker?.terminate();
    this.copyMachineRows();
    this.loopDelay.disable();
    const all = this.loopDelay;
    const empty = all.count === 0;
    return {
      meanNs: empty ? 0 : all.mean,
      p50Ns: empty ? 0 : all.percentile(50),
      p99Ns: empty ? 0 : all.percentile(99),
      maxNs: empty ? 0 : all.max,
    };
  }

  private copyMachineRows(): void {
    const table = this.machine;
    const count = Math.min(Atomics.load(this.control, 0), table.capacity);
    const rows = this.rows;
    for (let i = 0; i < count; i++) {
      const at = i * machineColumns;
      table.tNs[i] = rows[at]!;
      table.rssBytes[i] = rows[at + 1]!;
      table.cpuLoadPercent[i] = rows[at + 2]!;
      table.memUsedBytes[i] = rows[at + 3]!;
      table.memAvailableBytes[i] = rows[at + 4]!;
    }
    table.count = count;
  }
}
