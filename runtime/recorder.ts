/**
 * The flight recorder: a CycleObserver that keeps every cycle's input frame, action, timings and
 * status in size-bounded rotating segment files (format: recorder-format.ts).
 *
 * On the loop thread `cycleDone` only copies numbers into preallocated typed-array rings (no
 * allocation, no I/O). `flush(untilNs)` encodes with msgpackr into pooled buffers in slack time;
 * full buffers (or one a second) go to a serial chain of asynchronous file operations, so no
 * open, write, fsync or close ever runs on the loop thread (a page-cache write stalls 2-15 ms at
 * p99 here). A crash loses at most the last second. When a write fails (disk full), the recorder
 * logs once, truncates the torn tail, drops cycles while paused (counted) and tries a fresh
 * segment later; the loop never sees an exception.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { Action, Clock, CycleObserver, CycleRecord, EventLog, Frame } from './contracts.js';
import {
  CYCLE_FIELD_COUNT,
  cycleFields,
  FRAME_PREFIX_BYTES,
  field,
  RECORDING_FORMAT,
  RECORDING_VERSION,
  type RecordingHeader,
  segmentIndex,
  segmentName,
} from './recorder-format.js';

export interface RecorderOptions {
  /** the recording: a directory that holds its segments (created; must not already hold segments) */
  directory: string;
  observationSize: number;
  actionSize: number;
  clock: Clock;
  log: EventLog;
  /** start a new segment once the current one reaches this size (default 64 MiB) */
  maxSegmentBytes?: number;
  /** keep at most this many segments, deleting the oldest (default 16; 0 keeps all) */
  maxSegments?: number;
  /** cycles buffered between flushes; when full, cycles are dropped and counted (default 4096) */
  bufferCycles?: number;
  /** after a failed write, wait this long before trying a new segment (default 5 s) */
  retryAfterMs?: number;
  /** written into every segment header (config hash, snapshot restored at start, seed...) */
  meta?: Record<string, string | number | boolean>;
}

export interface RecorderCounters {
  recorded: number;
  /** the buffer was full when the cycle ended (flush not called often enough) */
  droppedBufferFull: number;
  /** recording was paused after a write error */
  droppedPaused: number;
  writeErrors: number;
  bytesWritten: number;
  segmentsOpened: number;
}

/** Encoded bytes are shipped to the file in pieces of this size, or once a second. */
const shipBytes = 64 * 1024;
const shipIntervalNs = 1e9;
const bufferBytes = 256 * 1024;
const bufferCount = 4;

export class FlightRecorder implements CycleObserver {
  readonly directory: string;
  readonly counters: RecorderCounters = {
    recorded: 0,
    droppedBufferFull: 0,
    droppedPaused: 0,
    writeErrors: 0,
    bytesWritten: 0,
    segmentsOpened: 0,
  };
  private readonly observationSize: number;
  private readonly actionSize: number;
  private readonly clock: Clock;
  private readonly log: EventLog;
  private readonly maxSegmentBytes: number;
  private readonly maxSegments: number;
  private readonly capacity: number;
  private readonly retryAfterNs: number;
  private readonly meta: Record<string, string | number | boolean>;
  private readonly numbers: Float64Array;
  private readonly observations: Float32Array;
  private readonly actions: Float32Array;
  private readonly packr = new Packr({ useRecords: false });
  /** reused per encoded cycle (slack time): the numbers, then observation and action bytes */
  private readonly scratch: unknown[] = new Array(CYCLE_FIELD_COUNT + 2).fill(0);
  private head = 0;
  private pending = 0;

  // Encoding side (slack time, loop thread).
  private readonly freeBuffers: Buffer[] = [];
  private active: Buffer | undefined;
  private activeBytes = 0;
  private activeCycles = 0;
  /** segment the encoder is filling (1-based); its header goes first */
  private segment = 1;
  private headerPending = true;
  /** bytes shipped to the current segment so far (rotation is decided on these) */
  private segmentShippedBytes = 0;
  private lastShipNs = 0;

  // I/O side: one operation at a time, in order, off the loop thread.
  private io: Promise<void> = Promise.resolve();
  /** bumped by a failed operation: the operations queued behind it are skipped */
  private ioEpoch = 0;
  private handle: FileHandle | undefined;
  private handleSegment = 0;
  private handleBytes = 0;
  /** cycles shipped but not yet on disk */
  private cyclesInFlight = 0;
  /** segments written so far, oldest first (the oldest beyond maxSegments are deleted) */
  private readonly keptSegments: number[] = [];

  private paused = false;
  /** a retry after a failed write is under way: its failure is counted, not logged again */
  private retrying = false;
  private retryAtNs = 0;
  private closed = false;

  constructor(options: RecorderOptions) {
    this.directory = options.directory;
    this.observationSize = options.observationSize;
    this.actionSize = options.actionSize;
    this.clock = options.clock;
    this.log = options.log;
    this.maxSegmentBytes = options.maxSegmentBytes ?? 64 << 20;
    this.maxSegments = options.maxSegments ?? 16;
    this.capacity = options.bufferCycles ?? 4096;
    this.retryAfterNs = (options.retryAfterMs ?? 5000) * 1e6;
    this.meta = options.meta ?? {};
    this.numbers = new Float64Array(this.capacity * CYCLE_FIELD_COUNT);
    this.observations = new Float32Array(this.capacity * this.observationSize);
    this.actions = new Float32Array(this.capacity * this.actionSize);
    for (let i = 0; i < bufferCount; i++) this.freeBuffers.push(Buffer.alloc(bufferBytes));
    mkdirSync(this.directory, { recursive: true });
    const existing = readdirSync(this.directory).filter((name) => segmentIndex(name) !== undefined);
    if (existing.length > 0) {
      throw new Error(`recording directory ${this.directory} already holds segments; choose a new directory per run`);
    }
  }

  isPaused(): boolean {
    return this.paused;
  }

  /** Hot path: copy this cycle into the ring. No allocation, no I/O. */
  cycleDone(record: CycleRecord, frame: Frame, action: Action): void {
    if (this.paused || this.closed) {
      this.counters.droppedPaused++;
      return;
    }
    if (this.pending === this.capacity) {
      this.counters.droppedBufferFull++;
      return;
    }
    const slot = (this.head + this.pending) % this.capacity;
    const n = this.numbers;
    const b = slot * CYCLE_FIELD_COUNT;
    n[b + field.cycle] = record.cycle;
    n[b + field.dueNs] = record.dueNs;
    n[b + field.wokeNs] = record.wokeNs;
    n[b + field.latenessNs] = record.latenessNs;
    n[b + field.skippedTicks] = record.skippedTicks;
    n[b + field.ingestNs] = record.ingestNs;
    n[b + field.encodeNs] = record.encodeNs;
    n[b + field.lookupNs] = record.lookupNs;
    n[b + field.activationNs] = record.activationNs;
    n[b + field.planNs] = record.planNs;
    n[b + field.safetyNs] = record.safetyNs;
    n[b + field.publishNs] = record.publishNs;
    n[b + field.maintenanceNs] = record.maintenanceNs;
    n[b + field.cycleNs] = record.cycleNs;
    n[b + field.overrun] = record.overrun ? 1 : 0;
    n[b + field.stepStatus] = record.stepStatus;
    n[b + field.lookupPath] = record.lookupPath;
    n[b + field.effortLevel] = record.effortLevel;
    n[b + field.frameSeq] = record.frameSeq;
    n[b + field.actionStale] = record.actionStale ? 1 : 0;
    n[b + field.safeAction] = record.safeAction ? 1 : 0;
    n[b + field['frame.seq']] = frame.seq;
    n[b + field['frame.sourceStampNs']] = frame.sourceStampNs;
    n[b + field['frame.receivedNs']] = frame.receivedNs;
    n[b + field['frame.reward']] = frame.reward;
    n[b + field['frame.episodeStart']] = frame.episodeStart ? 1 : 0;
    n[b + field['frame.estop']] = frame.estop ? 1 : 0;
    n[b + field['action.cycle']] = action.cycle;
    n[b + field['action.frameSeq']] = action.frameSeq;
    n[b + field['action.stale']] = action.stale ? 1 : 0;
    n[b + field['action.publishedNs']] = action.publishedNs;
    n[b + field.priorSlackWork] = record.priorSlackWork;
    n[b + field.priorSlackWritesHeld] = record.priorSlackWritesHeld;
    n[b + field.stepWork] = record.stepWork;
    this.observations.set(frame.observation, slot * this.observationSize);
    this.actions.set(action.values, slot * this.actionSize);
    this.pending++;
  }

  /** Slack time: encode buffered cycles until `untilNs`; ship what is due to the I/O chain. */
  flush(untilNs: number): void {
    if (this.closed) return;
    if (this.paused) {
      if (this.clock.nowNs() < this.retryAtNs) return;
      this.paused = false;
      this.retrying = true;
    }
    while (this.pending > 0 && this.clock.nowNs() < untilNs) {
      if (!this.encodeOldest()) break; // every buffer is on its way to the disk
    }
    const now = this.clock.nowNs();
    if (this.activeBytes >= shipBytes || (this.activeBytes > 0 && now - this.lastShipNs >= shipIntervalNs)) this.ship();
  }

  /** Ships everything, fsyncs and closes the segment; resolves when it is on disk (shutdown). */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.pending > 0 && !this.paused) {
      this.flush(Number.POSITIVE_INFINITY);
      if (this.pending > 0) await this.io; // wait for a free buffer
    }
    if (this.activeBytes > 0 && !this.paused) this.ship();
    // paused by a failed write: what is still buffered cannot be written now
    this.counters.droppedPaused += this.pending + this.activeCycles;
    this.pending = 0;
    this.closed = true;
    this.enqueue(() => this.closeHandle());
    await this.io;
  }

  /** Resolves when every operation queued so far has finished (tests). */
  async settle(): Promise<void> {
    await this.io;
  }

  /** Encodes the oldest buffered cycle (after the segment header when one is due). */
  private encodeOldest(): boolean {
    if (this.headerPending) {
      const header: RecordingHeader = {
        format: RECORDING_FORMAT,
        version: RECORDING_VERSION,
        observationSize: this.observationSize,
        actionSize: this.actionSize,
        fields: cycleFields,
        created: new Date().toISOString(),
        segment: this.segment,
        meta: this.meta,
      };
      if (!this.appendFrame(this.packr.pack(header))) return false;
      this.headerPending = false;
    }
    const slot = this.head;
    const base = slot * CYCLE_FIELD_COUNT;
    const scratch = this.scratch;
    for (let i = 0; i < CYCLE_FIELD_COUNT; i++) scratch[i] = this.numbers[base + i];
    scratch[CYCLE_FIELD_COUNT] = Buffer.from(
      this.observations.buffer,
      this.observations.byteOffset + slot * this.observationSize * 4,
      this.observationSize * 4,
    );
    scratch[CYCLE_FIELD_COUNT + 1] = Buffer.from(
      this.actions.buffer,
      this.actions.byteOffset + slot * this.actionSize * 4,
      this.actionSize * 4,
    );
    if (!this.appendFrame(this.packr.pack(scratch))) return false;
    this.head = (this.head + 1) % this.capacity;
    this.pending--;
    this.activeCycles++;
    if (this.segmentShippedBytes + this.activeBytes >= this.maxSegmentBytes) {
      this.ship();
      this.enqueue(() => this.closeHandle());
      this.segment++;
      this.headerPending = true;
      this.segmentShippedBytes = 0;
    }
    return true;
  }

  /** Copies a framed payload into the active buffer (shipping it first when full). */
  private appendFrame(payload: Uint8Array): boolean {
    const needed = FRAME_PREFIX_BYTES + payload.byteLength;
    if (needed > bufferBytes)
      throw new Error(`a recorded cycle of ${needed} bytes exceeds the ${bufferBytes}-byte buffer`);
    if (this.active && this.activeBytes + needed > bufferBytes) this.ship();
    if (!this.active) {
      const buffer = this.freeBuffers.pop();
      if (!buffer) return false;
      this.active = buffer;
      this.activeBytes = 0;
      this.activeCycles = 0;
    }
    const buffer = this.active;
    buffer.writeUInt32LE(payload.byteLength, this.activeBytes);
    buffer.writeUInt32LE(crc32(payload), this.activeBytes + 4);
    buffer.set(payload, this.activeBytes + FRAME_PREFIX_BYTES);
    this.activeBytes += needed;
    return true;
  }

  /** Hands the active buffer to the I/O chain: opened (new segment) and written in order. */
  private ship(): void {
    const buffer = this.active;
    if (!buffer || this.activeBytes === 0) return;
    const length = this.activeBytes;
    const cycles = this.activeCycles;
    const segment = this.segment;
    this.active = undefined;
    this.activeBytes = 0;
    this.activeCycles = 0;
    this.segmentShippedBytes += length;
    this.lastShipNs = this.clock.nowNs();
    this.cyclesInFlight += cycles;
    this.enqueue(async () => {
      if (!this.handle || this.handleSegment !== segment) await this.openSegment(segment);
      const { bytesWritten } = await this.handle!.write(buffer, 0, length, this.handleBytes);
      if (bytesWritten !== length) {
        throw Object.assign(new Error(`short write: ${bytesWritten} of ${length} bytes`), { code: 'ENOSPC' });
      }
      this.handleBytes += length;
      this.counters.bytesWritten += length;
      this.counters.recorded += cycles;
      this.cyclesInFlight -= cycles;
      if (this.retrying) {
        this.retrying = false;
        this.log.info(
          { file: this.segmentPath(segment), droppedWhilePaused: this.counters.droppedPaused },
          'recording resumed in a new segment',
        );
      }
    }, buffer);
  }

  /** Queues an operation behind the others; a failure pauses recording and cancels the queue. */
  private enqueue(operation: () => Promise<void>, buffer?: Buffer): void {
    const epoch = this.ioEpoch;
    this.io = this.io.then(async () => {
      try {
        if (epoch === this.ioEpoch) await operation();
      } catch (error) {
        await this.pause(error as Error);
      } finally {
        if (buffer) this.freeBuffers.push(buffer);
      }
    });
  }

  private segmentPath(segment: number): string {
    return join(this.directory, segmentName(segment));
  }

  private async openSegment(segment: number): Promise<void> {
    await this.closeHandle();
    this.handle = await open(this.segmentPath(segment), 'wx');
    this.handleSegment = segment;
    this.handleBytes = 0;
    this.counters.segmentsOpened++;
    this.keptSegments.push(segment);
    while (this.maxSegments > 0 && this.keptSegments.length > this.maxSegments) {
      await unlink(this.segmentPath(this.keptSegments.shift()!)).catch(() => undefined);
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    this.handle = undefined;
    try {
      await handle.sync();
    } catch (error) {
      this.log.warn(
        { file: this.segmentPath(this.handleSegment), error: (error as Error).message },
        'fsync of a recording segment failed',
      );
    } finally {
      await handle.close();
    }
  }

  /**
   * A file operation failed (disk full...): keep the segment's good prefix, drop what is queued and
   * buffered (counted), pause, and retry in a new segment later. Runs on the I/O chain.
   */
  private async pause(error: Error): Promise<void> {
    // Synchronously first: from here on flush() ships nothing until the retry time.
    this.counters.writeErrors++;
    this.ioEpoch++;
    this.paused = true;
    this.retryAtNs = this.clock.nowNs() + this.retryAfterNs;
    this.counters.droppedPaused += this.cyclesInFlight + this.pending + this.activeCycles;
    this.cyclesInFlight = 0;
    this.pending = 0;
    if (this.active) this.freeBuffers.push(this.active);
    this.active = undefined;
    this.activeBytes = 0;
    this.activeCycles = 0;
    const handle = this.handle;
    const handleSegment = this.handleSegment;
    const handleBytes = this.handleBytes;
    const failedPath = this.segmentPath(handleSegment || this.segment);
    this.handle = undefined;
    this.segment = Math.max(this.segment, handleSegment) + 1;
    this.headerPending = true;
    this.segmentShippedBytes = 0;
    const logIt = !this.retrying;
    this.retrying = false;
    if (logIt) {
      this.log.error(
        { file: failedPath, code: (error as NodeJS.ErrnoException).code, error: error.message },
        'recording paused: write failed; the loop keeps running and recording retries in a new segment',
      );
    } // else still failing on a retry: counted in writeErrors, already logged when recording paused
    if (handle) {
      await handle.truncate(handleBytes).catch(() => undefined);
      await handle.close().catch(() => undefined);
      // a segment that never got its header written is no segment: leave no empty file behind
      if (handleBytes === 0) {
        await unlink(failedPath).catch(() => undefined);
        if (this.keptSegments.at(-1) === handleSegment) this.keptSegments.pop();
      }
    }
  }
}
