/**
 * The profiler as a CycleObserver. On the loop, `cycleDone` copies the cycle record into
 * preallocated columns (no allocation, no clock read); GC events, memory, event-loop delay and
 * machine load are gathered off the hot path, and `flush` (slack time) only takes samples that are
 * due. `finish` hands back everything as one ProfileData for the writers.
 */
import {
  type Action,
  type Clock,
  type CycleObserver,
  type CycleRecord,
  createAction,
  createCycleRecord,
  createFrame,
  type Frame,
} from '../contracts.js';
import { CycleTable } from './cycles.js';
import { GcRecorder, type GcTable, performanceToClockOffsetNs } from './gc.js';
import type { HostDescription } from './host.js';
import {
  type HeapSampleTable,
  type LoopDelaySummary,
  type MachineSampleTable,
  Sampler,
  type SamplerOptions,
} from './samples.js';

/** Slack a heap sample needs before the bound (cold caches: up to ~100 µs measured). */
const heapSampleSlackNs = 150_000;

export interface SessionMeta {
  /** what ran: a config path, a task name, a benchmark */
  label: string;
  /** the loop's period and per-cycle budget (ns) */
  periodNs: number;
  budgetNs: number;
}

/** A finished profile: what the trace, report and summary are written from. */
export interface ProfileData {
  meta: SessionMeta & {
    /** session start and end on the loop clock (ns); every time in the tables is on this clock */
    startNs: number;
    endNs: number;
    /** wall-clock start, ISO 8601 */
    startedAt: string;
  };
  host: HostDescription;
  cycles: CycleTable;
  gc: GcTable;
  /** V8 heap and event-loop delay, sampled on the loop thread in slack time */
  heap: HeapSampleTable;
  /** RSS, machine CPU and memory, sampled by a worker thread */
  machine: MachineSampleTable;
  loopDelay: LoopDelaySummary;
}

export interface RecorderOptions extends SessionMeta {
  /** rows for cycles: see cycleCapacityFor */
  cycleCapacity: number;
  gcCapacity?: number;
  sampler?: SamplerOptions;
}

export class ProfileRecorder implements CycleObserver {
  readonly cycles: CycleTable;
  private readonly gc: GcRecorder;
  private readonly sampler: Sampler;
  private startNs = 0;
  private startedAt = '';
  private state: 'new' | 'recording' | 'finished' = 'new';
  /** the last record seen and its row, for its maintenance time (see takePreviousMaintenance) */
  private previous: CycleRecord | undefined;
  private previousRow = -1;

  constructor(
    private readonly clock: Clock,
    private readonly host: HostDescription,
    private readonly options: RecorderOptions,
  ) {
    this.cycles = new CycleTable(options.cycleCapacity);
    this.gc = new GcRecorder(options.gcCapacity);
    this.sampler = new Sampler(() => clock.nowNs(), options.sampler);
  }

  /** Starts GC observation and sampling; call before the loop's first cycle. */
  start(): void {
    if (this.state !== 'new') throw new Error('ProfileRecorder.start: already started');
    this.state = 'recording';
    this.startedAt = new Date().toISOString();
    this.warmUp();
    this.startNs = this.clock.nowNs();
    this.gc.start(performanceToClockOffsetNs(() => this.clock.nowNs()));
    this.sampler.start();
  }

  /**
   * Runs the copy path on a scratch record until V8 has optimised it, so the loop's first
   * cycles do not pay for the interpreter (measured: ~4 µs per cycleDone over a 250-cycle session
   * without this, ~0.2 µs warm), then empties the table.
   */
  private warmUp(): void {
    const scratch = createCycleRecord();
    const frame = createFrame(1);
    const action = createAction(1);
    for (let i = 0; i < 20_000; i++) {
      // Fractional values, as the loop's clock arithmetic produces: the record's fields take their
      // double representation now, rather than deoptimising the copy on the loop's first cycle.
      const value = i + 0.5;
      scratch.cycle = i;
      scratch.dueNs = value;
      scratch.wokeNs = value;
      scratch.latenessNs = value;
      scratch.ingestNs = value;
      scratch.encodeNs = value;
      scratch.lookupNs = value;
      scratch.activationNs = value;
      scratch.planNs = value;
      scratch.safetyNs = value;
      scratch.publishNs = value;
      scratch.maintenanceNs = value;
      scratch.cycleNs = value;
      scratch.frameSeq = value;
      scratch.overrun = (i & 1) === 0;
      this.cycleDone(scratch, frame, action);
      this.cycles.count = 0;
    }
    this.cycles.dropped = 0;
    this.previous = undefined;
    this.previousRow = -1;
  }

  cycleDone(record: CycleRecord, _frame: Frame, _action: Action): void {
    this.takePreviousMaintenance();
    const cycles = this.cycles;
    this.previousRow = cycles.count < cycles.capacity ? cycles.count : -1;
    this.previous = record;
    cycles.append(record);
  }

  /**
   * The loop measures a cycle's maintenance (slack work, including our flush) after its observers
   * ran, in the same ring record: read it back at the next cycle, while the ring has not yet
   * reused that record.
   */
  private takePreviousMaintenance(): void {
    const previous = this.previous;
    if (previous === undefined || this.previousRow < 0) return;
    this.cycles.stages.maintenance[this.previousRow] = previous.maintenanceNs;
  }

  /**
   * Slack time: takes a heap sample when one is due and the slack left can hold it (a cold sample
   * measured up to ~100 µs); otherwise it waits for a later cycle's slack.
   */
  flush(untilNs: number): void {
    const now = this.clock.nowNs();
    if (untilNs - now >= heapSampleSlackNs) this.sampler.poll(now);
  }

  /**
   * Stops observing and returns the session. The session spans the loop's cycles: from the first
   * cycle's due time to one period after the last wake (or start to now when no cycle ran).
   * GC events and samples outside it (start-up of the brain and drivers, shutdown) are dropped.
   */
  async finish(): Promise<ProfileData> {
    if (this.state !== 'recording') throw new Error(`ProfileRecorder.finish: recorder is ${this.state}`);
    this.state = 'finished';
    this.takePreviousMaintenance();
    const stoppedNs = this.clock.nowNs();
    const [loopDelay] = await Promise.all([this.sampler.stop(), this.gc.stop()]);
    const cycles = this.cycles;
    const last = cycles.count - 1;
    const startNs = last >= 0 ? Math.min(cycles.dueNs[0]!, cycles.wokeNs[0]!) : this.startNs;
    const endNs = last >= 0 ? cycles.wokeNs[last]! + Math.max(this.options.periodNs, cycles.cycleNs[last]!) : stoppedNs;
    this.gc.table.keepBetween(startNs, endNs);
    this.sampler.heap.keepBetween(startNs, endNs);
    this.sampler.machine.keepBetween(startNs, endNs);
    return {
      meta: {
        label: this.options.label,
        periodNs: this.options.periodNs,
        budgetNs: this.options.budgetNs,
        startNs,
        endNs,
        startedAt: this.startedAt,
      },
      host: this.host,
      cycles: this.cycles,
      gc: this.gc.table,
      heap: this.sampler.heap,
      machine: this.sampler.machine,
      loopDelay,
    };
  }
}
