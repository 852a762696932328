/**
 * The stages of one cycle, in the order they run. One place for their names, so that the recorder,
 * the trace, the report, the summary and compare agree.
 */
import type { CycleRecord } from '../contracts.js';

/** Stages inside the cycle's measured total (wake to end of publish), in execution order. */
export const cycleStages = ['ingest', 'encode', 'lookup', 'activation', 'plan', 'safety', 'publish'] as const;
/** Every recorded stage: the in-cycle ones, then slack-time maintenance (after publish, outside cycleNs). */
export const stageNames = [...cycleStages, 'maintenance'] as const;
export type StageName = (typeof stageNames)[number];

/**
 * Reads a stage's duration from a record. A switch rather than a computed key so the hot path does
 * no string lookups and the compiler checks every name.
 */
export function stageNsOf(record: CycleRecord, stage: StageName): number {
  switch (stage) {
    case 'ingest':
      return record.ingestNs;
    case 'encode':
      return record.encodeNs;
    case 'lookup':
      return record.lookupNs;
    case 'activation':
      return record.activationNs;
    case 'plan':
      return record.planNs;
    case 'safety':
      return record.safetyNs;
    case 'publish':
      return record.publishNs;
    case 'maintenance':
      return record.maintenanceNs;
  }
}

/** Names for LookupPath codes, indexed by code. */
export const lookupPathNames = ['none', 'linear', 'hnsw', 'tensor'] as const;
