/**
 * The brain's state as snapshot sections: the experiences (snapshot-store.ts), the normaliser's
 * statistics, and the brain's progress counters (the step index that experiences' recency is
 * measured in). After a restore the similarity index is rebuilt from the restored vectors.
 *
 * Small sections are captured whole when the save begins (a copy of a few KiB) and handed out in
 * pieces, so they are consistent with themselves whatever the brain does between chunks.
 */
import type { Clock, EventLog } from '../../runtime/contracts.js';
import type { Brain } from '../brain.js';
import type { Normaliser } from '../normalise.js';
import type { SimilarityBackend } from '../similarity/backend.js';
import type { SectionMeta, SectionWriter, SnapshotRestorePolicy, SnapshotSection } from './snapshot.js';
import { type RestoreOutcome, restoreSnapshot } from './snapshot-reader.js';
import { storeSection } from './snapshot-store.js';
import { PeriodicSnapshots, SnapshotWriter } from './snapshot-writer.js';
import type { ExperienceStore } from './store.js';

/** What a small section does: capture its bytes at once, check compatibility, apply. */
export interface SmallSectionParts {
  capture(): { meta: SectionMeta; bytes: Uint8Array };
  incompatibility(meta: SectionMeta, byteLength: number): string | undefined;
  restore(bytes: Uint8Array, meta: SectionMeta): void;
}

export function smallSection(name: string, parts: SmallSectionParts): SnapshotSection {
  return {
    name,
    maxChunkBytes: 64 * 1024,
    beginSave() {
      const { meta, bytes } = parts.capture();
      let at = 0;
      const writer: SectionWriter = {
        next(out) {
          const length = Math.min(out.byteLength, bytes.byteLength - at);
          out.set(bytes.subarray(at, at + length));
          at += length;
          return length;
        },
      };
      return { byteLength: bytes.byteLength, meta, writer };
    },
    incompatibility: parts.incompatibility,
    restore(source, meta) {
      const bytes = new Uint8Array(source.byteLength);
      source.read(0, bytes);
      parts.restore(bytes, meta);
    },
  };
}

export const NORMALISER_SECTION = 'normaliser';

/** mean and m2 (float64 each, dim values), count in meta. */
export function normaliserSection(normaliser: Normaliser): SnapshotSection {
  const dim = normaliser.dim;
  return smallSection(NORMALISER_SECTION, {
    capture() {
      const values = new Float64Array(2 * dim);
      values.set(normaliser.mean, 0);
      values.set(normaliser.m2, dim);
      return { meta: { dim, count: normaliser.count }, bytes: new Uint8Array(values.buffer) };
    },
    incompatibility(meta, byteLength) {
      if (meta.dim !== dim) return `dim is ${String(meta.dim)} in the snapshot, ${dim} here`;
      if (byteLength !== 16 * dim) return `section is ${byteLength} bytes, expected ${16 * dim}`;
      return undefined;
    },
    restore(bytes, meta) {
      const values = new Float64Array(bytes.buffer, bytes.byteOffset, 2 * dim);
      normaliser.restore(values.subarray(0, dim), values.subarray(dim), meta.count as number);
    },
  });
}

export const PROGRESS_SECTION = 'progress';

/** The brain's step counter: experiences' createdAt/lastAccess are step indices, so it continues. */
export function progressSection(counters: { steps: number; stored: number; evictions: number }): SnapshotSection {
  return smallSection(PROGRESS_SECTION, {
    capture() {
      const values = new Float64Array([counters.steps, counters.stored, counters.evictions]);
      return { meta: { steps: counters.steps }, bytes: new Uint8Array(values.buffer) };
    },
    incompatibility(_meta, byteLength) {
      return byteLength === 24 ? undefined : `section is ${byteLength} bytes, expected 24`;
    },
    restore(bytes) {
      const values = new Float64Array(bytes.buffer, bytes.byteOffset, 3);
      counters.steps = values[0]!;
      counters.stored = values[1]!;
      counters.evictions = values[2]!;
    },
  });
}

/** Every section of a brain's learned state, in file order. */
export function brainSnapshotSections(brain: Brain): SnapshotSection[] {
  return [storeSection(brain.store), normaliserSection(brain.normaliser), progressSection(brain.counters)];
}

/**
 * Inserts every live experience into `index` (after a restore: the index was built empty).
 * Returns how many were inserted. For HNSW this is the slow path (MEASUREMENTS.md: building 1e6
 * takes minutes); docs/persistence.md compares it with loading a saved index.
 */
export function reindex(store: ExperienceStore, index: SimilarityBackend): number {
  const dim = store.contextDim;
  let inserted = 0;
  for (let slot = 0; slot < store.capacity; slot++) {
    if (store.alive[slot] !== 1) continue;
    index.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
    inserted++;
  }
  return inserted;
}

export interface BrainRestoreOptions {
  path: string;
  log: EventLog;
  policy?: SnapshotRestorePolicy;
  /** hash of the brain config now (a different saved hash is logged) */
  configHash?: string;
}

/**
 * Start-up: restores the newest usable snapshot into `brain` (falling back to the previous good
 * one, as the policy allows) and rebuilds its similarity index from the restored vectors.
 * Throws SnapshotRestoreError when the policy forbids starting empty.
 */
export function restoreBrain(brain: Brain, options: BrainRestoreOptions): RestoreOutcome {
  const outcome = restoreSnapshot({ ...options, sections: brainSnapshotSections(brain) });
  if (outcome.kind === 'restored') {
    const inserted = reindex(brain.store, brain.index);
    options.log.info({ experiences: inserted, file: outcome.info.file }, 'similarity index rebuilt from the snapshot');
  }
  return outcome;
}

export interface BrainSnapshotOptions {
  path: string;
  /** save this often (ns) in slack time */
  everyNs: number;
  clock: Clock;
  log: EventLog;
  configHash: string;
}

/** The observer that saves `brain` periodically in slack time; call saveNow() at shutdown. */
export function periodicBrainSnapshots(brain: Brain, options: BrainSnapshotOptions): PeriodicSnapshots {
  const writer = new SnapshotWriter({
    path: options.path,
    sections: brainSnapshotSections(brain),
    clock: options.clock,
    log: options.log,
    configHash: options.configHash,
  });
  return new PeriodicSnapshots(writer, options.clock, { everyNs: options.everyNs });
}
