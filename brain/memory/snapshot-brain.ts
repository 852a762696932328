/**
 * The brain's state as snapshot sections: the experiences (snapshot-store.ts), the normaliser's
 * statistics, the brain's progress counters (the step index that experiences' recency is measured
 * in), the store's free-slot order, the random streams and eviction scale ('brain-state'), deep
 * exploration's intrinsic returns and visit counts ('exploration', only when it is on), and the
 * HNSW index (snapshot-index.ts). The last four are optional: a file without them (format
 * version 1) restores, with the reason logged (free slots lowest first, streams from the seed,
 * intrinsic state from zero, the index rebuilt in slack time).
 *
 * Small sections are captured whole when the save begins (a copy of a few KiB) and handed out in
 * pieces, so they are consistent with themselves whatever the brain does between chunks.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, EventLog } from '../../runtime/contracts.js';
import type { Brain } from '../brain.js';
import type { Normaliser } from '../normalise.js';
import { Rng } from '../rng.js';
import type { SimilarityBackend } from '../similarity/backend.js';
import { SimilarityRegistry } from '../similarity/registry.js';
import type { SectionMeta, SectionWriter, SnapshotRestorePolicy, SnapshotSection } from './snapshot.js';
import { hnswSection } from './snapshot-index.js';
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

export const FREE_LIST_SECTION = 'free-list';

/** The store's free-slot stack (int32, bottom first): a restored store hands out slots in the same order. */
export function freeListSection(store: ExperienceStore): SnapshotSection {
  return {
    ...smallSection(FREE_LIST_SECTION, {
      capture() {
        const free = store.exportFreeList();
        return { meta: { free: free.length }, bytes: new Uint8Array(free.buffer, free.byteOffset, free.byteLength) };
      },
      incompatibility(_meta, byteLength) {
        return byteLength % 4 === 0 ? undefined : `section is ${byteLength} bytes, not a whole number of int32`;
      },
      restore(bytes) {
        const copy = new Int32Array(bytes.byteLength / 4);
        new Uint8Array(copy.buffer).set(bytes);
        store.restoreFreeList(copy);
      },
    }),
    optional: true,
  };
}

export const BRAIN_STATE_SECTION = 'brain-state';

/**
 * What the brain needs to continue as it would have: the state of each random stream (planner,
 * maintenance) and the eviction's return scale (float64 each). Also re-derives, from the restored
 * experiences, what is not saved: the local model's reward range (every stored reward is in the
 * store unless evicted, so the range can only be narrower than the original's) and the beacons
 * (planner.beacons: the best returns, offered again slot by slot, so the set is the one the
 * original would have picked from these experiences).
 */
export function brainStateSection(brain: Brain, onSkipped?: (reason: string) => void): SnapshotSection {
  const streams = brain.randomStreams();
  const values = streams.length * Rng.stateLength + 1;
  const rewardRange = (): void => {
    const store = brain.store;
    const beacons = brain.beacons;
    if (beacons !== null) {
      beacons.count = 0;
      beacons.scale = brain.returnScale;
    }
    for (let slot = 0; slot < store.capacity; slot++) {
      if (store.alive[slot] !== 1) continue;
      brain.local.observeReward(store.reward[slot]!);
      beacons?.consider(slot);
    }
  };
  return {
    ...smallSection(BRAIN_STATE_SECTION, {
      capture() {
        const state = new Float64Array(values);
        for (let i = 0; i < streams.length; i++) streams[i]!.saveState(state, i * Rng.stateLength);
        state[values - 1] = brain.returnScale;
        return { meta: { streams: streams.length }, bytes: new Uint8Array(state.buffer) };
      },
      incompatibility(meta, byteLength) {
        if (meta.streams !== streams.length)
          return `${String(meta.streams)} random streams in the snapshot, ${streams.length} here`;
        return byteLength === values * 8 ? undefined : `section is ${byteLength} bytes, expected ${values * 8}`;
      },
      restore(bytes) {
        const state = new Float64Array(values);
        new Uint8Array(state.buffer).set(bytes);
        for (let i = 0; i < streams.length; i++) streams[i]!.restoreState(state, i * Rng.stateLength);
        brain.returnScale = state[values - 1]!;
        rewardRange();
      },
    }),
    optional: true,
    skipped(reason) {
      rewardRange();
      onSkipped?.(reason);
    },
  };
}

export const EXPLORATION_SECTION = 'exploration';

/**
 * Deep exploration's state (exploration.intrinsicWeight > 0): the intrinsic return of every slot
 * (float32) then the visit count of every cell of the hashed grid (uint32). Streamed in chunks like
 * the store (4 MiB at 1e6 slots, plus 1 MiB of cells), each value copied whole; values written
 * between chunks are estimates that the next backups and visits correct anyway.
 */
export function explorationSection(brain: Brain, onSkipped?: (reason: string) => void): SnapshotSection {
  const intrinsic = brain.intrinsicValue;
  const visits = brain.visitCounts;
  const chunkBytes = 128 * 1024;
  const cellsBytes = visits.byteLength;
  return {
    name: EXPLORATION_SECTION,
    maxChunkBytes: chunkBytes,
    optional: true,
    beginSave() {
      const parts = [
        Buffer.from(intrinsic.buffer, intrinsic.byteOffset, intrinsic.byteLength),
        Buffer.from(visits.buffer, visits.byteOffset, visits.byteLength),
      ];
      let part = 0;
      let at = 0;
      const writer: SectionWriter = {
        next(out) {
          while (part < parts.length && at >= parts[part]!.byteLength) {
            part++;
            at = 0;
          }
          if (part >= parts.length) return 0;
          const copied = parts[part]!.copy(out, 0, at, Math.min(at + out.byteLength, parts[part]!.byteLength));
          at += copied;
          return copied;
        },
      };
      const meta: SectionMeta = { slots: intrinsic.length, cells: visits.length };
      return { byteLength: intrinsic.byteLength + cellsBytes, meta, writer };
    },
    incompatibility(meta, byteLength) {
      const slots = meta.slots;
      if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 0) {
        return `slots ${String(slots)} is not a whole number`;
      }
      if (slots > intrinsic.length) return `the snapshot holds ${slots} slots but memory here has ${intrinsic.length}`;
      if (meta.cells !== visits.length)
        return `${String(meta.cells)} visit cells in the snapshot, ${visits.length} here`;
      if (byteLength !== slots * 4 + cellsBytes) {
        return `section is ${byteLength} bytes, expected ${slots * 4 + cellsBytes}`;
      }
      return undefined;
    },
    restore(source, meta) {
      const slots = meta.slots as number;
      intrinsic.fill(0);
      source.read(0, new Uint8Array(intrinsic.buffer, intrinsic.byteOffset, slots * 4));
      source.read(slots * 4, new Uint8Array(visits.buffer, visits.byteOffset, cellsBytes));
    },
    skipped(reason) {
      intrinsic.fill(0);
      visits.fill(0);
      onSkipped?.(reason);
    },
  };
}

export interface BrainSectionOptions {
  /** where a save writes the HNSW index file before copying it in (default: in the temp directory) */
  indexTempPath?: string;
  /** told why an optional section was skipped at restore */
  onSkipped?: (section: string, reason: string) => void;
  /** told when the HNSW index was loaded from the snapshot (with the slots repaired) */
  onIndexRestored?: (repaired: number) => void;
}

let tempIndexFiles = 0;

/** Every section of a brain's learned state, in file order (the HNSW index last: see snapshot-index.ts). */
export function brainSnapshotSections(brain: Brain, options: BrainSectionOptions = {}): SnapshotSection[] {
  const sections = [
    storeSection(brain.store),
    normaliserSection(brain.normaliser),
    progressSection(brain.counters),
    freeListSection(brain.store),
    brainStateSection(brain, (reason) => options.onSkipped?.(BRAIN_STATE_SECTION, reason)),
  ];
  const freeList = sections[3]!;
  sections[3] = { ...freeList, skipped: (reason) => options.onSkipped?.(FREE_LIST_SECTION, reason) };
  // only a brain that explores deeply has this state (its arrays are empty otherwise)
  if (brain.visitCounts.length > 0) {
    sections.push(explorationSection(brain, (reason) => options.onSkipped?.(EXPLORATION_SECTION, reason)));
  }
  const index = brain.index;
  if (index instanceof SimilarityRegistry && index.hnswForSnapshot() !== undefined) {
    sections.push(
      hnswSection({
        source: () => index.hnswForSnapshot(),
        tempPath: options.indexTempPath ?? join(tmpdir(), `engram-${process.pid}-${++tempIndexFiles}.hnsw.tmp`),
        onSkipped: (reason) => options.onSkipped?.('hnsw', reason),
        ...(options.onIndexRestored ? { onRestored: options.onIndexRestored } : {}),
      }),
    );
  }
  return sections;
}

/**
 * Inserts every live experience into `index` (after a restore: the index was built empty).
 * Returns how many were inserted. A registry whose HNSW index was just loaded from the snapshot
 * (snapshot-index.ts) takes it as built: only its other paths are filled here. Otherwise HNSW is
 * rebuilt (MEASUREMENTS.md: building 1e6 takes minutes; the registry does it in slack time).
 */
export function reindex(store: ExperienceStore, index: SimilarityBackend): number {
  const dim = store.contextDim;
  let inserted = 0;
  for (let slot = 0; slot < store.capacity; slot++) {
    if (store.alive[slot] !== 1) continue;
    index.upsert(slot, store.context.subarray(slot * dim, (slot + 1) * dim));
    inserted++;
  }
  if (index instanceof SimilarityRegistry && index.hnswForSnapshot()?.backend.takeImported()) {
    index.adoptRestored('hnsw');
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
  const skipped: { section: string; reason: string }[] = [];
  let indexRepaired = -1;
  const sections = brainSnapshotSections(brain, {
    onSkipped: (section, reason) => skipped.push({ section, reason }),
    onIndexRestored: (repaired) => {
      indexRepaired = repaired;
    },
  });
  const outcome = restoreSnapshot({ ...options, sections });
  if (outcome.kind === 'restored') {
    const file = outcome.info.file;
    for (const { section, reason } of skipped) {
      const consequence =
        section === 'hnsw'
          ? 'the HNSW index is rebuilt from the restored vectors in slack time'
          : section === FREE_LIST_SECTION
            ? 'free slots are handed out lowest first'
            : section === EXPLORATION_SECTION
              ? 'intrinsic returns and visit counts start from zero'
              : 'the random streams start from the seed';
      options.log.warn({ file, section, reason }, `snapshot section not restored: ${consequence}`);
    }
    const inserted = reindex(brain.store, brain.index);
    if (indexRepaired >= 0) {
      options.log.info(
        { experiences: inserted, repaired: indexRepaired, file },
        'similarity index restored from the snapshot (HNSW loaded, changed slots repaired)',
      );
    } else {
      options.log.info({ experiences: inserted, file }, 'similarity index rebuilt from the snapshot');
    }
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
    sections: brainSnapshotSections(brain, { indexTempPath: `${options.path}.hnsw.tmp` }),
    clock: options.clock,
    log: options.log,
    configHash: options.configHash,
  });
  return new PeriodicSnapshots(writer, options.clock, { everyNs: options.everyNs });
}
