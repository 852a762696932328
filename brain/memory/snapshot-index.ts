/**
 * The HNSW index as a snapshot section ('hnsw', optional), so a restart does not rebuild it (a
 * rebuild costs 300-400 µs per experience at d = 64: minutes at 1e6, in slack time).
 *
 * Saving: hnswlib writes its index only to a file, so `prepare` has the backend write
 * `<snapshot>.hnsw.tmp` from hnswlib's worker thread (the backend applies nothing meanwhile, see
 * hnsw.ts); the section then streams that file in 128 KiB chunks and, at its end, a bitmap of the
 * slots whose index entry may differ from the experiences saved before it (queued when the export
 * began, or changed since). It is the last section, so the bitmap is captured after every block of
 * the experiences was copied.
 *
 * Payload: the hnswlib index file (meta.indexBytes), then ceil(capacity / 8) bitmap bytes.
 * Restoring copies the index bytes to a temporary file (hnswlib reads files only), loads it and
 * repairs only the marked slots. When the section is missing, was saved before the index was
 * built, or was built with other parameters, it is skipped with the reason, and the registry
 * rebuilds the index in slack time as before.
 */
import {
  close,
  closeSync,
  fstat,
  fstatSync,
  mkdtempSync,
  open,
  openSync,
  readSync,
  rmSync,
  unlink,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HnswBackend } from '../similarity/hnsw.js';
import type { SectionMeta, SectionWriter, SnapshotSection } from './snapshot.js';

export const HNSW_SECTION = 'hnsw';

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const chunkBytes = 128 * 1024;
const restoreCopyBytes = 4 << 20;

export interface HnswSectionOptions {
  /** the HNSW backend and whether it is built (called when a save prepares) */
  source: () => { backend: HnswBackend; built: boolean } | undefined;
  /** where the index file is written while saving (default: `<snapshotPath>.hnsw.tmp`) */
  tempPath: string;
  /** called with the reason when a restore skips the section (the index is then rebuilt) */
  onSkipped?: (reason: string) => void;
  /** called after the index was loaded from the section, with the slots repaired */
  onRestored?: (repaired: number) => void;
}

interface Prepared {
  backend: HnswBackend;
  file: string;
  fd: number;
  bytes: number;
}

function bitmapBytes(capacity: number): number {
  return Math.ceil(capacity / 8);
}

export function hnswSection(options: HnswSectionOptions): SnapshotSection {
  let prepared: Prepared | undefined;
  // Each save writes its own file (<tempPath>.<n>), so removing the last one (asynchronously) can
  // never remove the next one.
  let saves = 0;
  const removeTemp = (): void => {
    if (prepared === undefined) return;
    const { fd, file } = prepared;
    prepared = undefined;
    close(fd, () => unlink(file, () => {}));
  };

  return {
    name: HNSW_SECTION,
    optional: true,
    maxChunkBytes: chunkBytes,

    async prepare() {
      removeTemp();
      const current = options.source();
      if (current === undefined || !current.built || current.backend.isExporting()) return;
      const file = `${options.tempPath}.${++saves}`;
      try {
        await current.backend.beginExport(file);
        const fd = await openAsync(file, 'r');
        const stats = await fstatAsync(fd);
        prepared = { backend: current.backend, file, fd, bytes: stats.size };
      } catch (error) {
        unlink(file, () => {});
        throw error;
      }
    },

    prepareSync() {
      removeTemp();
      const current = options.source();
      if (current === undefined || !current.built || current.backend.isExporting()) return;
      const file = `${options.tempPath}.${++saves}`;
      current.backend.exportSync(file);
      const fd = openSync(file, 'r');
      prepared = { backend: current.backend, file, fd, bytes: fstatSync(fd).size };
    },

    saveEnded() {
      removeTemp();
    },

    beginSave() {
      const current = prepared;
      if (current === undefined) {
        const writer: SectionWriter = { next: () => 0 };
        return { byteLength: 0, meta: { built: false }, writer };
      }
      const { backend, fd, bytes } = current;
      const capacity = backend.capacity;
      const bitmap = new Uint8Array(bitmapBytes(capacity));
      let at = 0;
      let bitmapAt = -1;
      const writer: SectionWriter = {
        next(out) {
          if (at < bytes) {
            const length = Math.min(out.byteLength, bytes - at);
            // A page-cache read of the file hnswlib just wrote (128 KiB: tens of µs).
            let done = 0;
            while (done < length) {
              const read = readSync(fd, out, done, length - done, at + done);
              if (read === 0) throw new Error(`short read of ${current.file} at ${at + done}`);
              done += read;
            }
            at += length;
            return length;
          }
          if (bitmapAt < 0) {
            // Captured now, after every earlier section's bytes: marks what changed since the export.
            backend.dirtyBits(bitmap);
            bitmapAt = 0;
          }
          const length = Math.min(out.byteLength, bitmap.byteLength - bitmapAt);
          out.set(bitmap.subarray(bitmapAt, bitmapAt + length));
          bitmapAt += length;
          return length;
        },
      };
      const parameters = backend.parameters;
      const meta: SectionMeta = {
        built: true,
        dim: parameters.dim,
        M: parameters.M,
        efConstruction: parameters.efConstruction,
        capacity,
        indexBytes: bytes,
        live: backend.size(),
      };
      return { byteLength: bytes + bitmap.byteLength, meta, writer };
    },

    incompatibility(meta, byteLength) {
      if (meta.built !== true) return 'the index was not built yet when the snapshot was taken';
      const current = options.source();
      if (current === undefined) return 'this brain has no HNSW path';
      const parameters = current.backend.parameters;
      const problems: string[] = [];
      for (const key of ['dim', 'M', 'efConstruction'] as const) {
        if (meta[key] !== parameters[key])
          problems.push(`${key} is ${String(meta[key])} in the snapshot, ${parameters[key]} here`);
      }
      const capacity = meta.capacity;
      const indexBytes = meta.indexBytes;
      if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1) {
        problems.push(`capacity ${String(capacity)} is not a positive integer`);
      } else if (capacity > current.backend.capacity) {
        problems.push(`the index holds up to ${capacity} slots, capacity here is ${current.backend.capacity}`);
      } else if (typeof indexBytes !== 'number' || byteLength !== indexBytes + bitmapBytes(capacity)) {
        problems.push(`section is ${byteLength} bytes, the meta describes ${String(indexBytes)} + bitmap`);
      }
      return problems.length > 0 ? problems.join('; ') : undefined;
    },

    restore(source, meta) {
      const current = options.source();
      if (current === undefined) throw new Error('this brain has no HNSW path');
      const indexBytes = meta.indexBytes as number;
      const bitmap = new Uint8Array(source.byteLength - indexBytes);
      source.read(indexBytes, bitmap);
      if (source.location !== undefined && current.backend.canImportFromRegion()) {
        // In place: hnswlib's loader reads the section inside the snapshot file (verified already).
        const region = { offset: source.location.offset, length: indexBytes };
        const { repaired } = current.backend.importIndex(source.location.file, bitmap, region);
        options.onRestored?.(repaired);
        return;
      }
      // hnswlib-node reads whole files only: copy the index out to a temporary file first.
      const dir = mkdtempSync(join(tmpdir(), 'engram-hnsw-restore-'));
      const file = join(dir, 'index.hnsw');
      try {
        const fd = openSync(file, 'w');
        try {
          const buffer = new Uint8Array(Math.min(restoreCopyBytes, Math.max(1, indexBytes)));
          for (let at = 0; at < indexBytes; ) {
            const length = Math.min(buffer.byteLength, indexBytes - at);
            const piece = buffer.subarray(0, length);
            source.read(at, piece);
            for (let done = 0; done < length; ) done += writeSync(fd, piece, done, length - done);
            at += length;
          }
        } finally {
          closeSync(fd);
        }
        const { repaired } = current.backend.importIndex(file, bitmap);
        options.onRestored?.(repaired);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },

    skipped(reason) {
      options.onSkipped?.(reason);
    },
  };
}
