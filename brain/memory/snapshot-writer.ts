/**
 * Writes a snapshot crash-safely and incrementally.
 *
 * `begin` opens `<path>.tmp` and fixes the header; `step(untilNs)` copies section chunks into one
 * preallocated buffer and appends them, stopping before `untilNs` (so slack-time saving never
 * makes a cycle overrun); the last step starts an fsync off the loop thread, and its completion
 * keeps the current snapshot as `<name>.prev.<ext>` (a hard link) and renames the temporary file
 * over `<path>` atomically, then fsyncs the directory. A crash at any point leaves the previous
 * good snapshot in place; a failed write (disk full) removes the temporary file and leaves both
 * good snapshots untouched.
 */
import {
  close as closeAsync,
  closeSync,
  fsync,
  fsyncSync,
  linkSync,
  open as openAsync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Action, Clock, CycleObserver, CycleRecord, EventLog, Frame } from '../../runtime/contracts.js';
import {
  previousSnapshotPath,
  type SectionEntry,
  type SectionWriter,
  SNAPSHOT_END_MAGIC,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  SNAPSHOT_PREAMBLE_BYTES,
  type SnapshotHeader,
  type SnapshotSection,
} from './snapshot.js';

export type SaveState =
  /** no save in progress (none begun, or the last one finished or failed) */
  | 'idle'
  /** appending section chunks in slack time */
  | 'writing'
  /** fsync, link and rename in flight off the loop thread */
  | 'committing';

export interface SnapshotWriterOptions {
  /** final path, e.g. memory/snapshot.bin */
  path: string;
  sections: readonly SnapshotSection[];
  clock: Clock;
  log: EventLog;
  configHash: string;
  /** most bytes appended per step, whatever the time left (default 1 MiB) */
  maxBytesPerStep?: number;
}

/** How the last finished save ended (for metrics, tests and the shutdown report). */
export type SaveOutcome =
  | { readonly ok: true; readonly path: string; readonly bytes: number; readonly durationNs: number }
  | { readonly ok: false; readonly path: string; readonly error: Error };

interface Progress {
  fd: number;
  sectionIndex: number;
  writer: SectionWriter | undefined;
  /** writers of the sections, begun together so their byte lengths match the header */
  writers: SectionWriter[];
  crcs: number[];
  crc: number;
  bytes: number;
  startedNs: number;
}

export class SnapshotWriter {
  readonly path: string;
  readonly tempPath: string;
  readonly previousPath: string;
  private readonly sections: readonly SnapshotSection[];
  private readonly clock: Clock;
  private readonly log: EventLog;
  private readonly configHash: string;
  private readonly maxBytesPerStep: number;
  private readonly chunk: Buffer;
  private progress: Progress | undefined;
  private committing = false;
  /** longest single chunk copy+write seen: a step does not start a chunk it cannot finish in time */
  private chunkCostNs = 0;
  private lastOutcome: SaveOutcome | undefined;
  /** saves finished ok / failed since construction */
  saved = 0;
  failed = 0;

  constructor(options: SnapshotWriterOptions) {
    this.path = options.path;
    this.tempPath = `${options.path}.tmp`;
    this.previousPath = previousSnapshotPath(options.path);
    this.sections = options.sections;
    this.clock = options.clock;
    this.log = options.log;
    this.configHash = options.configHash;
    this.maxBytesPerStep = options.maxBytesPerStep ?? 1 << 20;
    let largest = 4096;
    for (const section of this.sections) largest = Math.max(largest, section.maxChunkBytes);
    this.chunk = Buffer.alloc(largest);
  }

  state(): SaveState {
    return this.committing ? 'committing' : this.progress ? 'writing' : 'idle';
  }

  outcome(): SaveOutcome | undefined {
    return this.lastOutcome;
  }

  /** Starts a save (no-op while one is in progress). Returns false when it could not start. */
  begin(): boolean {
    if (this.state() !== 'idle') return false;
    const startedNs = this.clock.nowNs();
    const entries: SectionEntry[] = [];
    const writers: SectionWriter[] = [];
    for (const section of this.sections) {
      const begun = section.beginSave();
      entries.push({ name: section.name, byteLength: begun.byteLength, meta: begun.meta });
      writers.push(begun.writer);
    }
    const header: SnapshotHeader = {
      formatVersion: SNAPSHOT_FORMAT_VERSION,
      created: new Date().toISOString(),
      configHash: this.configHash,
      sections: entries,
    };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const preamble = Buffer.alloc(SNAPSHOT_PREAMBLE_BYTES);
    preamble.write(SNAPSHOT_MAGIC, 0, 'ascii');
    preamble.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
    preamble.writeUInt32LE(json.byteLength, 12);
    preamble.writeUInt32LE(crc32(json), 16);
    let fd = -1;
    try {
      fd = openSync(this.tempPath, 'w');
      writeSync(fd, preamble);
      writeSync(fd, json);
    } catch (error) {
      if (fd >= 0) closeSync(fd);
      this.fail(error as Error, false);
      return false;
    }
    this.progress = {
      fd,
      sectionIndex: 0,
      writer: writers[0],
      writers,
      crcs: [],
      crc: 0,
      bytes: preamble.byteLength + json.byteLength,
      startedNs,
    };
    return true;
  }

  /**
   * Appends chunks until `untilNs` (or the per-step byte bound). Returns the state afterwards.
   * Call from slack time; never blocks on fsync.
   */
  step(untilNs: number): SaveState {
    const progress = this.progress;
    if (!progress || this.committing) return this.state();
    let written = 0;
    try {
      while (written < this.maxBytesPerStep) {
        const before = this.clock.nowNs();
        if (before + this.chunkCostNs > untilNs) break;
        const writer = progress.writer;
        if (writer === undefined) {
          this.writeTrailer(progress);
          this.commit(progress);
          break;
        }
        const length = writer.next(this.chunk);
        if (length === 0) {
          progress.crcs.push(progress.crc);
          progress.crc = 0;
          progress.sectionIndex++;
          progress.writer = progress.writers[progress.sectionIndex];
          continue;
        }
        const piece = this.chunk.subarray(0, length);
        progress.crc = crc32(piece, progress.crc);
        writeSync(progress.fd, piece);
        progress.bytes += length;
        written += length;
        const cost = this.clock.nowNs() - before;
        if (cost > this.chunkCostNs) this.chunkCostNs = cost;
      }
    } catch (error) {
      this.abandon(progress, error as Error);
    }
    return this.state();
  }

  /**
   * Finishes a save synchronously (shutdown): begins one if none is in progress, writes the rest,
   * fsyncs, renames. Throws nothing; returns how it ended.
   */
  saveNow(): SaveOutcome {
    if (this.committing) throw new Error('saveNow while an asynchronous commit is in flight; await settle() first');
    if (!this.progress && !this.begin()) return this.lastOutcome!;
    const progress = this.progress!;
    try {
      for (;;) {
        const writer = progress.writer;
        if (writer === undefined) break;
        const length = writer.next(this.chunk);
        if (length === 0) {
          progress.crcs.push(progress.crc);
          progress.crc = 0;
          progress.sectionIndex++;
          progress.writer = progress.writers[progress.sectionIndex];
          continue;
        }
        const piece = this.chunk.subarray(0, length);
        progress.crc = crc32(piece, progress.crc);
        writeSync(progress.fd, piece);
        progress.bytes += length;
      }
      this.writeTrailer(progress);
      fsyncSync(progress.fd);
      closeSync(progress.fd);
      this.progress = undefined;
      this.install();
      this.succeed(progress);
    } catch (error) {
      this.abandon(progress, error as Error);
    }
    return this.lastOutcome!;
  }

  /** Resolves when no asynchronous commit is in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.committing) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  private writeTrailer(progress: Progress): void {
    const trailer = Buffer.alloc(4 * progress.crcs.length + SNAPSHOT_END_MAGIC.length);
    for (let i = 0; i < progress.crcs.length; i++) trailer.writeUInt32LE(progress.crcs[i]!, 4 * i);
    trailer.write(SNAPSHOT_END_MAGIC, 4 * progress.crcs.length, 'ascii');
    writeSync(progress.fd, trailer);
    progress.bytes += trailer.byteLength;
  }

  /** fsync off the loop thread, then link + rename (fast metadata calls) and a directory fsync. */
  private commit(progress: Progress): void {
    this.committing = true;
    this.progress = undefined;
    fsync(progress.fd, (syncError) => {
      closeAsync(progress.fd, () => {
        if (syncError) {
          this.committing = false;
          this.abandon(progress, syncError, false);
          return;
        }
        try {
          this.install();
        } catch (error) {
          this.committing = false;
          this.abandon(progress, error as Error, false);
          return;
        }
        openAsync(dirname(this.path), 'r', (openError, dirFd) => {
          if (openError) {
            this.committing = false;
            this.succeed(progress);
            return;
          }
          fsync(dirFd, () => {
            closeAsync(dirFd, () => {
              this.committing = false;
              this.succeed(progress);
            });
          });
        });
      });
    });
  }

  /** Keeps the current snapshot as the previous one, then renames the new one over it atomically. */
  private install(): void {
    try {
      unlinkSync(this.previousPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    try {
      linkSync(this.path, this.previousPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    renameSync(this.tempPath, this.path);
  }

  private succeed(progress: Progress): void {
    this.saved++;
    this.lastOutcome = {
      ok: true,
      path: this.path,
      bytes: progress.bytes,
      durationNs: this.clock.nowNs() - progress.startedNs,
    };
  }

  private abandon(progress: Progress, error: Error, closeFd = true): void {
    if (closeFd) {
      try {
        closeSync(progress.fd);
      } catch {
        // already closed: the error being reported is the one that matters
      }
    }
    this.progress = undefined;
    this.fail(error, true);
  }

  private fail(error: Error, removeTemp: boolean): void {
    if (removeTemp) {
      try {
        unlinkSync(this.tempPath);
      } catch {
        // nothing to remove
      }
    }
    this.failed++;
    this.lastOutcome = { ok: false, path: this.path, error };
    this.log.error(
      { file: this.tempPath, code: (error as NodeJS.ErrnoException).code, error: error.message },
      'snapshot save failed; the previous snapshots are untouched',
    );
  }
}

export interface PeriodicSnapshotOptions {
  /** start a save this often (ns on the writer's clock), measured from the previous start */
  everyNs: number;
  /** leave this much of each slack window unused, for the observers after this one (ns) */
  reserveNs?: number;
}

/**
 * Saves periodically in slack time: a CycleObserver whose `flush` starts a save when one is due and
 * advances it by whatever the slack window allows, so no cycle waits for the disk. `cycleDone`
 * does nothing (the state lives in the sections). A failed save (disk full) is logged by the
 * writer and retried at the next period; the previous snapshots stay.
 */
export class PeriodicSnapshots implements CycleObserver {
  private nextStartNs: number;
  private readonly everyNs: number;
  private readonly reserveNs: number;

  constructor(
    readonly writer: SnapshotWriter,
    private readonly clock: Clock,
    options: PeriodicSnapshotOptions,
  ) {
    this.everyNs = options.everyNs;
    this.reserveNs = options.reserveNs ?? 0;
    this.nextStartNs = clock.nowNs() + options.everyNs;
  }

  cycleDone(_record: CycleRecord, _frame: Frame, _action: Action): void {}

  flush(untilNs: number): void {
    const until = untilNs - this.reserveNs;
    const now = this.clock.nowNs();
    if (now >= until) return;
    if (this.writer.state() === 'idle' && now >= this.nextStartNs) {
      this.nextStartNs = now + this.everyNs;
      if (!this.writer.begin()) return;
    }
    if (this.writer.state() === 'writing') this.writer.step(until);
  }

  /** Shutdown: finish (or make) a save synchronously. */
  async saveNow(): Promise<SaveOutcome> {
    await this.writer.settle();
    return this.writer.saveNow();
  }
}
