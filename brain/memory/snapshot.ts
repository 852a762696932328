/**
 * The snapshot file format: one place for its layout, its errors and the section interface through
 * which each component (experience store, normaliser, index, ...) contributes its own state.
 *
 * Layout (all integers little-endian):
 *
 *   0   8 bytes  magic "ENGRAMSN"
 *   8   u32      format version
 *   12  u32      header length H (bytes of UTF-8 JSON)
 *   16  u32      CRC-32 of the header JSON
 *   20  H bytes  header JSON: created, config hash, and per section: name, byteLength, meta
 *   ..  section payloads, back to back, in header order
 *   ..  u32 per section: CRC-32 of its payload
 *   ..  8 bytes  end magic "ENGRAMEN"
 *
 * The header fixes the exact file size, so truncation is named as such; per-section checksums say
 * which part is damaged. Nothing is applied to live state until every checksum has been verified.
 */
import { createHash } from 'node:crypto';

export const SNAPSHOT_MAGIC = 'ENGRAMSN';
export const SNAPSHOT_END_MAGIC = 'ENGRAMEN';
/**
 * Version 2 added the sections 'free-list', 'brain-state' and 'hnsw' (all optional); the sections of
 * version 1 ('experiences', 'normaliser', 'progress') are byte-identical. A version-1 file is
 * therefore read as a version-2 file without those sections (docs/persistence.md, Migration).
 */
export const SNAPSHOT_FORMAT_VERSION = 2;
/** Versions this engram reads. */
export const SNAPSHOT_READABLE_VERSIONS: readonly number[] = [1, 2];
/** magic + version + header length + header CRC */
export const SNAPSHOT_PREAMBLE_BYTES = 20;
export const SNAPSHOT_END_BYTES = 8;

/** Small per-section facts stored in the header (counts, dims, layout): shown by `engram inspect`. */
export type SectionMeta = Record<string, number | string | boolean>;

export interface SectionEntry {
  readonly name: string;
  readonly byteLength: number;
  readonly meta: SectionMeta;
}

export interface SnapshotHeader {
  readonly formatVersion: number;
  /** ISO time the save began */
  readonly created: string;
  /** hash of the configuration that produced the state (see configHash) */
  readonly configHash: string;
  readonly sections: readonly SectionEntry[];
}

/**
 * Sequential producer of one section's bytes during a save. `next` writes the next piece into
 * `out` (starting at 0) and returns how many bytes it wrote; 0 means the section is complete.
 * Each piece is copied in one call, so it is consistent with itself even though the brain keeps
 * learning between calls (see docs/persistence.md on fuzzy snapshots).
 */
export interface SectionWriter {
  next(out: Uint8Array): number;
}

/** Random access to one section's verified bytes during a restore. */
export interface SectionSource {
  readonly byteLength: number;
  /** where the section's bytes lie in the snapshot file (verified), for readers that take a file region */
  readonly location?: { readonly file: string; readonly offset: number };
  /** Fills `into` with the section's bytes starting at `offset` (within the section). */
  read(offset: number, into: Uint8Array): void;
}

/**
 * What a component implements to be saved and restored. A save calls `beginSave` once (fixing
 * the byte length and meta), then pulls bytes through the returned writer in slack time.
 * A restore calls `incompatibility` with the saved meta before touching anything, then `restore`.
 */
export interface SnapshotSection {
  readonly name: string;
  /**
   * An optional section may be missing from a file or incompatible with this component: the rest
   * restores, and `skipped(reason)` is called instead of refusing the file (the index is rebuilt,
   * the random streams start from the seed...).
   */
  readonly optional?: boolean;
  skipped?(reason: string): void;
  /**
   * Work before the section can be captured, off the loop thread (an index file written by a
   * worker thread): the writer waits for it before the save begins. `prepareSync` does the same at
   * shutdown.
   */
  prepare?(): Promise<void>;
  prepareSync?(): void;
  /** the save ended (written, failed or dropped): remove temporary files */
  saveEnded?(): void;
  /** largest piece `next` may write; the writer's buffer is at least this big */
  readonly maxChunkBytes: number;
  beginSave(): { byteLength: number; meta: SectionMeta; writer: SectionWriter };
  /** why the saved section cannot be restored into this component (dims differ...), or undefined */
  incompatibility(meta: SectionMeta, byteLength: number): string | undefined;
  restore(source: SectionSource, meta: SectionMeta): void;
}

/** What went wrong with one snapshot file; the message names the file and the problem. */
export type SnapshotProblem =
  | 'missing'
  | 'truncated'
  | 'not-a-snapshot'
  | 'unsupported-version'
  | 'corrupt-header'
  | 'checksum-mismatch'
  | 'trailing-bytes'
  | 'incompatible'
  | 'io-error';

export class SnapshotError extends Error {
  override name = 'SnapshotError';
  constructor(
    readonly file: string,
    readonly problem: SnapshotProblem,
    detail: string,
  ) {
    super(`snapshot ${file}: ${problem}: ${detail}`);
  }
}

/** Path of the previous good snapshot kept beside `path` (snapshot.bin -> snapshot.prev.bin). */
export function previousSnapshotPath(path: string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  return dot > slash + 1 ? `${path.slice(0, dot)}.prev${path.slice(dot)}` : `${path}.prev`;
}

/** Total file size implied by a header of `headerBytes` bytes describing `sections`. */
export function snapshotFileSize(headerBytes: number, sections: readonly { byteLength: number }[]): number {
  let payload = 0;
  for (const section of sections) payload += section.byteLength;
  return SNAPSHOT_PREAMBLE_BYTES + headerBytes + payload + 4 * sections.length + SNAPSHOT_END_BYTES;
}

/**
 * A stable short hash of a configuration (keys sorted, so key order does not matter). Stored in
 * every snapshot; a restore under a different hash is allowed but logged.
 */
export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * How a restore at start behaves when no usable snapshot is found. The runtime's config section
 * `snapshot` maps onto this (docs/persistence.md).
 */
export interface SnapshotRestorePolicy {
  /** no snapshot file exists yet (first boot): start empty, or refuse */
  readonly onMissing: 'start-empty' | 'fail';
  /** snapshot files exist but none is usable (all corrupt or incompatible): refuse, or start empty */
  readonly onUnusable: 'fail' | 'start-empty';
}

export const defaultRestorePolicy: SnapshotRestorePolicy = { onMissing: 'start-empty', onUnusable: 'fail' };
