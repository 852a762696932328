/**
 * The per-cycle part of a profile: a structure-of-arrays table allocated once at start and filled
 * from the loop without allocating. A full table counts dropped cycles instead of growing.
 */
import type { CycleRecord } from '../contracts.js';
import { type StageName, stageNames } from './stages.js';

export class CycleTable {
  /** rows filled so far */
  count = 0;
  /** cycles seen after the table was full */
  dropped = 0;
  readonly cycle: Float64Array;
  readonly dueNs: Float64Array;
  readonly wokeNs: Float64Array;
  readonly latenessNs: Float64Array;
  readonly skippedTicks: Uint32Array;
  readonly cycleNs: Float64Array;
  readonly overrun: Uint8Array;
  readonly stepStatus: Uint8Array;
  readonly lookupPath: Uint8Array;
  readonly effortLevel: Uint8Array;
  readonly frameSeq: Float64Array;
  readonly actionStale: Uint8Array;
  readonly safeAction: Uint8Array;
  /** one column per stage, same order as stageNames */
  readonly stages: Record<StageName, Float64Array>;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0)
      throw new RangeError(`cycle capacity must be > 0, got ${capacity}`);
    this.cycle = new Float64Array(capacity);
    this.dueNs = new Float64Array(capacity);
    this.wokeNs = new Float64Array(capacity);
    this.latenessNs = new Float64Array(capacity);
    this.skippedTicks = new Uint32Array(capacity);
    this.cycleNs = new Float64Array(capacity);
    this.overrun = new Uint8Array(capacity);
    this.stepStatus = new Uint8Array(capacity);
    this.lookupPath = new Uint8Array(capacity);
    this.effortLevel = new Uint8Array(capacity);
    this.frameSeq = new Float64Array(capacity);
    this.actionStale = new Uint8Array(capacity);
    this.safeAction = new Uint8Array(capacity);
    const stages = {} as Record<StageName, Float64Array>;
    for (const name of stageNames) stages[name] = new Float64Array(capacity);
    this.stages = stages;
    this.commitPages();
  }

  /**
   * Typed arrays start as untouched zero pages: the first write to each 4 KiB page would fault
   * inside a cycle (one fault per column every 512 rows). Writing every page now commits the
   * memory at start instead.
   */
  private commitPages(): void {
    const columns = [
      this.cycle,
      this.dueNs,
      this.wokeNs,
      this.latenessNs,
      this.skippedTicks,
      this.cycleNs,
      this.overrun,
      this.stepStatus,
      this.lookupPath,
      this.effortLevel,
      this.frameSeq,
      this.actionStale,
      this.safeAction,
      ...Object.values(this.stages),
    ];
    for (const column of columns) column.fill(0);
  }

  /** Copies one record into the next row. Hot path: field copies only. */
  append(record: CycleRecord): void {
    const i = this.count;
    if (i === this.capacity) {
      this.dropped++;
      return;
    }
    this.cycle[i] = record.cycle;
    this.dueNs[i] = record.dueNs;
    this.wokeNs[i] = record.wokeNs;
    this.latenessNs[i] = record.latenessNs;
    this.skippedTicks[i] = record.skippedTicks;
    this.cycleNs[i] = record.cycleNs;
    this.overrun[i] = record.overrun ? 1 : 0;
    this.stepStatus[i] = record.stepStatus;
    this.lookupPath[i] = record.lookupPath;
    this.effortLevel[i] = record.effortLevel;
    this.frameSeq[i] = record.frameSeq;
    this.actionStale[i] = record.actionStale ? 1 : 0;
    this.safeAction[i] = record.safeAction ? 1 : 0;
    const stages = this.stages;
    stages.ingest[i] = record.ingestNs;
    stages.encode[i] = record.encodeNs;
    stages.lookup[i] = record.lookupNs;
    stages.activation[i] = record.activationNs;
    stages.plan[i] = record.planNs;
    stages.safety[i] = record.safetyNs;
    stages.publish[i] = record.publishNs;
    stages.maintenance[i] = record.maintenanceNs;
    this.count = i + 1;
  }
}

/** Rows a session of `durationMs` at `periodNs` needs, with headroom for start-up and timing jitter. */
export function cycleCapacityFor(durationMs: number, periodNs: number): number {
  return Math.ceil(((durationMs * 1e6) / periodNs) * 1.05) + 256;
}
