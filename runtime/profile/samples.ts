/**
 * What is sampled over the session rather than per cycle: the process's heap and RSS, event-loop
 * delay, and the machine's CPU load and memory (systeminformation). Sampling happens off the hot
 * path: from a timer when the event loop is free, and from the recorder's flush in slack time when
 * the loop keeps the event loop busy. Columns are preallocated; a full table stops sampling.
 */
import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import si from 'systeminformation';
import { keepRowsBetween } from './columns.js';

export class ProcessSampleTable {
  count = 0;
  readonly tNs: Float64Array;
  readonly heapUsedBytes: Float64Array;
  readonly heapTotalBytes: Float64Array;
  readonly rssBytes: Float64Array;
  readonly externalBytes: Float64Array;
  /** event-loop delay over the interval ending at this sample (ns) */
  readonly loopDelayMeanNs: Float64Array;
  readonly loopDelayMaxNs: Float64Array;

  constructor(readonly capacity: number) {
    this.tNs = new Float64Array(capacity);
    this.heapUsedBytes = new Float64Array(capacity);
    this.heapTotalBytes = new Float64Array(capacity);
    this.rssBytes = new Float64Array(capacity);
    this.externalBytes = new Float64Array(capacity);
    this.loopDelayMeanNs = new Float64Array(capacity);
    this.loopDelayMaxNs = new Float64Array(capacity);
  }

  keepBetween(fromNs: number, toNs: number): void {
    const columns = [
      this.tNs,
      this.heapUsedBytes,
      this.heapTotalBytes,
      this.rssBytes,
      this.externalBytes,
      this.loopDelayMeanNs,
      this.loopDelayMaxNs,
    ];
    this.count = keepRowsBetween(this.count, this.tNs, columns, fromNs, toNs);
  }
}

export class MachineSampleTable {
  count = 0;
  readonly tNs: Float64Array;
  /** all cores, 0..100 */
  readonly cpuLoadPercent: Float64Array;
  readonly memUsedBytes: Float64Array;
  readonly memAvailableBytes: Float64Array;

  constructor(readonly capacity: number) {
    this.tNs = new Float64Array(capacity);
    this.cpuLoadPercent = new Float64Array(capacity);
    this.memUsedBytes = new Float64Array(capacity);
    this.memAvailableBytes = new Float64Array(capacity);
  }

  keepBetween(fromNs: number, toNs: number): void {
    const columns = [this.tNs, this.cpuLoadPercent, this.memUsedBytes, this.memAvailableBytes];
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
  /** process memory and event-loop delay interval (ms) */
  processIntervalMs?: number;
  /** machine CPU and memory interval (ms); systeminformation reads /proc asynchronously */
  machineIntervalMs?: number;
  /** rows preallocated per table */
  capacity?: number;
}

export class Sampler {
  readonly process: ProcessSampleTable;
  readonly machine: MachineSampleTable;
  private readonly processIntervalNs: number;
  private readonly machineIntervalNs: number;
  private readonly processIntervalMs: number;
  private lastProcessNs = Number.NEGATIVE_INFINITY;
  private lastMachineNs = Number.NEGATIVE_INFINITY;
  private machineInFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** reset at every process sample: the delay over that interval */
  private readonly loopDelay: ELDHistogram;
  /** never reset: the whole session (histograms of this kind cannot be merged) */
  private readonly loopDelayAll: ELDHistogram;
  /** the first machine sample only primes systeminformation's CPU counters */
  private machinePrimed = false;

  constructor(
    private readonly nowNs: () => number,
    options: SamplerOptions = {},
  ) {
    this.processIntervalMs = options.processIntervalMs ?? 100;
    this.processIntervalNs = this.processIntervalMs * 1e6;
    this.machineIntervalNs = (options.machineIntervalMs ?? 500) * 1e6;
    const capacity = options.capacity ?? 100_000;
    this.process = new ProcessSampleTable(capacity);
    this.machine = new MachineSampleTable(capacity);
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelayAll = monitorEventLoopDelay({ resolution: 10 });
  }

  start(): void {
    this.loopDelay.enable();
    this.loopDelayAll.enable();
    this.poll(this.nowNs());
    this.timer = setInterval(() => this.poll(this.nowNs()), this.processIntervalMs);
    this.timer.unref();
  }

  /** Takes the samples that are due. Cheap when none is; called from timers and slack time. */
  poll(nowNs: number): void {
    if (nowNs - this.lastProcessNs >= this.processIntervalNs) {
      this.lastProcessNs = nowNs;
      this.sampleProcess(nowNs);
    }
    if (this.machineInFlight === undefined && nowNs - this.lastMachineNs >= this.machineIntervalNs) {
      this.lastMachineNs = nowNs;
      this.machineInFlight = this.sampleMachine().finally(() => {
        this.machineInFlight = undefined;
      });
    }
  }

  async stop(): Promise<LoopDelaySummary> {
    if (this.timer) clearInterval(this.timer);
    this.lastProcessNs = Number.NEGATIVE_INFINITY; // one last process sample, now
    this.poll(this.nowNs());
    await this.machineInFlight;
    this.loopDelay.disable();
    this.loopDelayAll.disable();
    const all = this.loopDelayAll;
    const empty = all.count === 0;
    return {
      meanNs: empty ? 0 : all.mean,
      p50Ns: empty ? 0 : all.percentile(50),
      p99Ns: empty ? 0 : all.percentile(99),
      maxNs: empty ? 0 : all.max,
    };
  }

  private sampleProcess(nowNs: number): void {
    const table = this.process;
    const i = table.count;
    if (i === table.capacity) return;
    const memory = process.memoryUsage();
    table.tNs[i] = nowNs;
    table.heapUsedBytes[i] = memory.heapUsed;
    table.heapTotalBytes[i] = memory.heapTotal;
    table.rssBytes[i] = memory.rss;
    table.externalBytes[i] = memory.external;
    const delay = this.loopDelay;
    table.loopDelayMeanNs[i] = delay.count > 0 ? delay.mean : 0;
    table.loopDelayMaxNs[i] = delay.count > 0 ? delay.max : 0;
    delay.reset();
    table.count = i + 1;
  }

  private async sampleMachine(): Promise<void> {
    const [load, memory] = await Promise.all([si.currentLoad(), si.mem()]);
    if (!this.machinePrimed) {
      // currentLoad() reports the load since its previous call; the first call has no interval.
      this.machinePrimed = true;
      return;
    }
    const table = this.machine;
    const i = table.count;
    if (i === table.capacity) return;
    table.tNs[i] = this.nowNs();
    table.cpuLoadPercent[i] = load.currentLoad;
    table.memUsedBytes[i] = memory.total - memory.available;
    table.memAvailableBytes[i] = memory.available;
    table.count = i + 1;
  }
}
