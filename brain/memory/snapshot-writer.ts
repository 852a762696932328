/**
 * Writes a snapshot crash-safely and incrementally.
 *
 * `begin` opens `<path>.tmp` and fixes the header; `step(untilNs)` copies section chunks into a few
 * preallocated buffers and hands them to the threadpool as positional writes, stopping before
 * `untilNs` (measured: a 128 KiB write to the page cache takes ~50 µs at the median but 2-15 ms
 * at p99 on this machine, too long for the loop thread). Once all is written an fsync runs off the
 * loop thread too, and its completion
 * keeps the current snapshot as `<name>.prev.<ext>` (a hard link) and renames the temporary file
 * over `<path>` atomically, then fsyncs the directory. A crash at any point leaves the previous
 * good snapshot in place; a failed write (disk full) removes the temporary file and leaves both
 * good snapshots untouched.
 */
import {
  close,
  closeSync,
  fsync,
  fsyncSync,
  link,
  linkSync,
  open,
  openSync,
  rename,
  renameSync,
  unlink,
  unlinkSync,
  write,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
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
  /** sections prepare off the loop thread (an index file being written); capture follows in a step */
  | 'preparing'
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
  /** most bytes appended per step, whatever the time left (default 1 MiB: about 100 MiB/s at 100 Hz) */
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
  /** file position of the next chunk (all payload is produced in order) */
  position: number;
  /** asynchronous writes issued and not yet completed */
  inFlight: number;
  /** the first write error reported by a completion; the save is abandoned once nothing is in flight */
  writeError: Error | undefined;
  /** every section produced and the trailer issued */
  produced: boolean;
  startedNs: number;
}

const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);
const openAsync = promisify(open);
const unlinkAsync = promisify(unlink);
const linkAsync = promisify(link);
const renameAsync = promisify(rename);

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

function shortWrite(written: number, length: number): Error {
  return Object.assign(new Error(`short write: ${written} of ${length} bytes (disk full?)`), { code: 'ENOSPC' });
}

/** Chunk buffers: filled on the loop thread while earlier ones are written by the threadpool (8 x 128 KiB). */
const BUFFERS = 8;

export class SnapshotWriter {
  readonly path: string;
  readonly tempPath: string;
  readonly previousPath: string;
  private readonly sections: readonly SnapshotSection[];
  private readonly clock: Clock;
  private readonly log: EventLog;
  private readonly configHash: string;
  private readonly maxBytesPerStep: number;
  private readonly buffers: Buffer[] = [];
  /** buffers not in flight (indices into `buffers`) */
  private readonly freeBuffers: number[] = [];
  private progress: Progress | undefined;
  private committing = false;
  /** sections' prepare() in flight (undefined: none); 'ready' once they resolved, 'failed' with the error */
  private preparation: { state: 'pending' | 'ready' | 'failed'; error?: Error } | undefined;
  /** estimated cost of producing one chunk (recent maximum, decaying): a step does not start a chunk it cannot finish in time */
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
    for (let i = 0; i < BUFFERS; i++) {
      this.buffers.push(Buffer.alloc(largest));
      this.freeBuffers.push(i);
    }
  }

  state(): SaveState {
    return this.committing ? 'committing' : this.progress ? 'writing' : this.preparation ? 'preparing' : 'idle';
  }

  outcome(): SaveOutcome | undefined {
    return this.lastOutcome;
  }

  /**
   * Starts a save (no-op while one is in progress; returns false then). The section state is
   * captured now; the temporary file is opened and its header written off the loop thread.
   */
  begin(): boolean {
    if (this.state() !== 'idle') return false;
    const preparing = this.sections.filter((section) => section.prepare !== undefined);
    if (preparing.length > 0) {
      // Sections with off-thread work first (an index file written by a worker thread); the
      // capture and the header follow in a later step(), in slack time.
      const preparation: { state: 'pending' | 'ready' | 'failed'; error?: Error } = { state: 'pending' };
      this.preparation = preparation;
      Promise.all(preparing.map((section) => section.prepare!())).then(
        () => {
          preparation.state = 'ready';
        },
        (error: Error) => {
          preparation.state = 'failed';
          preparation.error = error;
        },
      );
      return true;
    }
    this.open();
    return true;
  }

  /** Captures the sections, opens the temporary file and writes the header (off the loop thread). */
  private open(): void {
    const { progress, header } = this.prepare(-1);
    progress.inFlight = 1; // the open and the header write
    this.progress = progress;
    open(this.tempPath, 'w', (openError, fd) => {
      if (openError) {
        progress.inFlight--;
        progress.writeError = openError;
        return;
      }
      progress.fd = fd;
      write(fd, header, 0, header.byteLength, 0, (error, written) => {
        progress.inFlight--;
        if (error || written !== header.byteLength)
          progress.writeError = error ?? shortWrite(written, header.byteLength);
      });
    });
  }

  /** The header bytes and a fresh progress record (sections begun: their byte lengths are fixed). */
  private prepare(fd: number): { progress: Progress; header: Buffer } {
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
    const bytes = Buffer.alloc(SNAPSHOT_PREAMBLE_BYTES + json.byteLength);
    bytes.write(SNAPSHOT_MAGIC, 0, 'ascii');
    bytes.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
    bytes.writeUInt32LE(json.byteLength, 12);
    bytes.writeUInt32LE(crc32(json), 16);
    json.copy(bytes, SNAPSHOT_PREAMBLE_BYTES);
    const progress: Progress = {
      fd,
      sectionIndex: 0,
      writer: writers[0],
      writers,
      crcs: [],
      crc: 0,
      position: bytes.byteLength,
      inFlight: 0,
      writeError: undefined,
      produced: false,
      startedNs,
    };
    return { progress, header: bytes };
  }

  /**
   * Copies section chunks into free buffers and hands them to the threadpool (positional writes),
   * until `untilNs` or the per-step byte bound. The loop thread only copies and checksums: a
   * write that stalls in the page cache stalls a threadpool thread, not the loop. When everything
   * is written, an fsync, the link of the previous snapshot and the rename follow, also off the
   * loop thread. Returns the state afterwards.
   */
  step(untilNs: number): SaveState {
    const preparation = this.preparation;
    if (preparation !== undefined && this.progress === undefined) {
      if (preparation.state === 'pending') return this.state();
      this.preparation = undefined;
      if (preparation.state === 'failed') {
        this.fail(preparation.error!, false);
        return this.state();
      }
      if (this.clock.nowNs() >= untilNs) {
        this.preparation = preparation; // capture in the next window
        return this.state();
      }
      this.open();
      return this.state();
    }
    const progress = this.progress;
    if (!progress || this.committing) return this.state();
    if (progress.writeError) {
      if (progress.inFlight === 0) this.abandon(progress, progress.writeError);
      return this.state();
    }
    if (progress.fd < 0) return this.state(); // the temporary file is still being opened
    let produced = 0;
    while (!progress.produced && produced < this.maxBytesPerStep && this.freeBuffers.length > 0) {
      const before = this.clock.nowNs();
      if (before + 1.5 * this.chunkCostNs > untilNs) {
        // Not enough time for a chunk at the estimated cost (with a margin). Let the estimate
        // decay, so that one slow chunk does not stop saving for good.
        this.chunkCostNs *= 0.9;
        break;
      }
      const index = this.freeBuffers.pop()!;
      const buffer = this.buffers[index]!;
      const length = this.produce(progress, buffer);
      if (length === 0) {
        this.freeBuffers.push(index);
        continue;
      }
      this.issue(progress, index, length);
      produced += length;
      const cost = this.clock.nowNs() - before;
      this.chunkCostNs = cost > this.chunkCostNs ? cost : 0.95 * this.chunkCostNs + 0.05 * cost;
    }
    if (progress.produced && progress.inFlight === 0 && !progress.writeError) this.commit(progress);
    return this.state();
  }

  /**
   * Fills `buffer` with the next piece of the file (section payload, or at the end the trailer);
   * returns its length, 0 when a section just ended (call again). Sets `produced` after the trailer.
   */
  private produce(progress: Progress, buffer: Buffer): number {
    const writer = progress.writer;
    if (writer === undefined) {
      const trailerLength = 4 * progress.crcs.length + SNAPSHOT_END_MAGIC.length;
      for (let i = 0; i < progress.crcs.length; i++) buffer.writeUInt32LE(progress.crcs[i]!, 4 * i);
      buffer.write(SNAPSHOT_END_MAGIC, 4 * progress.crcs.length, 'ascii');
      progress.produced = true;
      return trailerLength;
    }
    const length = writer.next(buffer);
    if (length === 0) {
      progress.crcs.push(progress.crc);
      progress.crc = 0;
      progress.sectionIndex++;
      progress.writer = progress.writers[progress.sectionIndex];
      return 0;
    }
    progress.crc = crc32(buffer.subarray(0, length), progress.crc);
    return length;
  }

  private issue(progress: Progress, index: number, length: number): void {
    const position = progress.position;
    progress.position += length;
    progress.inFlight++;
    write(progress.fd, this.buffers[index]!, 0, length, position, (error, written) => {
      progress.inFlight--;
      this.freeBuffers.push(index);
      if (!progress.writeError && (error || written !== length)) {
        progress.writeError = error ?? shortWrite(written, length);
      }
    });
  }

  /**
   * Finishes a save synchronously (shutdown): begins one if none is in progress, writes the rest,
   * fsyncs, renames. Call after settle() when steps were taken. Never throws for I/O; returns how
   * it ended.
   */
  saveNow(): SaveOutcome {
    if (this.committing || (this.progress && this.progress.inFlight > 0)) {
      throw new Error('saveNow while asynchronous writes are in flight; await settle() first');
    }
    if (this.progress?.writeError) this.abandon(this.progress, this.progress.writeError);
    if (this.preparation !== undefined) throw new Error('saveNow while sections prepare; await settle() first');
    if (!this.progress) {
      try {
        for (const section of this.sections) section.prepareSync?.();
      } catch (error) {
        this.fail(error as Error, false);
        return this.lastOutcome!;
      }
      const { progress, header } = this.prepare(-1);
      try {
        progress.fd = openSync(this.tempPath, 'w');
        writeSync(progress.fd, header, 0, header.byteLength, 0);
      } catch (error) {
        if (progress.fd >= 0) closeSync(progress.fd);
        this.fail(error as Error, progress.fd >= 0);
        return this.lastOutcome!;
      }
      this.progress = progress;
    }
    const progress = this.progress;
    const buffer = this.buffers[0]!;
    try {
      while (!progress.produced) {
        const length = this.produce(progress, buffer);
        if (length === 0) continue;
        const written = writeSync(progress.fd, buffer, 0, length, progress.position);
        if (written !== length)
          throw Object.assign(new Error(`short write: ${written} of ${length} bytes`), { code: 'ENOSPC' });
        progress.position += length;
      }
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

  /**
   * Drops a save in progress (after settle(): nothing in flight): closes and removes its temporary
   * file without counting or logging a failure. Returns whether there was one. The snapshots on
   * disk are untouched.
   */
  discard(): boolean {
    if (this.preparation !== undefined && this.preparation.state !== 'pending' && !this.progress) {
      this.preparation = undefined;
      this.endSections();
      return true;
    }
    const progress = this.progress;
    if (!progress) return false;
    if (this.committing || progress.inFlight > 0) {
      throw new Error('discard while asynchronous writes are in flight; await settle() first');
    }
    if (progress.fd >= 0) {
      try {
        closeSync(progress.fd);
      } catch {
        // already closed
      }
    }
    this.progress = undefined;
    try {
      unlinkSync(this.tempPath);
    } catch {
      // nothing to remove
    }
    this.endSections();
    return true;
  }

  private endSections(): void {
    for (const section of this.sections) section.saveEnded?.();
  }

  /** Resolves when no asynchronous write or commit is in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (
      this.committing ||
      this.preparation?.state === 'pending' ||
      (this.progress !== undefined && this.progress.inFlight > 0)
    ) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * Off the loop thread: fsync, keep the current snapshot as the previous one (hard link), rename
   * the new one over it, fsync the directory. Metadata calls can stall too, so none runs here.
   */
  private commit(progress: Progress): void {
    this.committing = true;
    this.progress = undefined;
    this.commitAsync(progress).then(
      () => {
        this.committing = false;
        this.succeed(progress);
      },
      (error: Error) => {
        this.committing = false;
        this.fail(error, true);
      },
    );
  }

  private async commitAsync(progress: Progress): Promise<void> {
    try {
      await fsyncAsync(progress.fd);
    } finally {
      await closeAsync(progress.fd);
    }
    await unlinkAsync(this.previousPath).catch(ignoreMissing);
    await linkAsync(this.path, this.previousPath).catch(ignoreMissing);
    await renameAsync(this.tempPath, this.path);
    try {
      const directory = await openAsync(dirname(this.path), 'r');
      try {
        await fsyncAsync(directory);
      } finally {
        await closeAsync(directory);
      }
    } catch {
      // Some filesystems refuse a directory fsync; the rename itself is atomic.
    }
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
    this.endSections();
    this.saved++;
    this.lastOutcome = {
      ok: true,
      path: this.path,
      bytes: progress.position,
      durationNs: this.clock.nowNs() - progress.startedNs,
    };
  }

  private abandon(progress: Progress, error: Error): void {
    if (progress.fd >= 0) {
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
    this.endSections();
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
    const state = this.writer.state();
    if (state === 'writing' || state === 'preparing') this.writer.step(until);
  }

  /**
   * Shutdown: a fresh save of the state now, synchronously. A periodic save still in progress is
   * dropped first: its header and small sections (counts, normaliser, step counter) were captured
   * when it began, older than the blocks it would copy now, and the last save should be exact.
   */
  async saveNow(): Promise<SaveOutcome> {
    await this.writer.settle();
    this.writer.discard();
    return this.writer.saveNow();
  }
}
