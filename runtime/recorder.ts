/**
 * The flight recorder: a CycleObserver that keeps every cycle's input frame, action, timings and
 * status in size-bounded rotating segment files (format: recorder-format.ts).
 *
 * On the loop thread `cycleDone` only copies numbers into preallocated typed-array rings (no
 * allocation, no I/O). `flush(untilNs)` encodes with msgpackr and appends in slack time. When a
 * write fails (disk full), the recorder logs once, truncates the torn tail, drops cycles while
 * paused (counted) and tries a fresh segment later; the loop never sees an exception.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
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

const writeBufferBytes = 1 << 20;

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
  private readonly writeBuffer = Buffer.alloc(writeBufferBytes);
  /** reused per encoded cycle (slack time): the numbers, then observation and action bytes */
  private readonly scratch: unknown[] = new Array(CYCLE_FIELD_COUNT + 2).fill(0);
  private head = 0;
  private pending = 0;
  private fd = -1;
  private segment = 0;
  private segmentPath = '';
  private segmentBytes = 0;
  private buffered = 0;
  /** cycles encoded into the write buffer but not yet written */
  private bufferedCycles = 0;
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
    this.observations.set(frame.observation, slot * this.observationSize);
    this.actions.set(action.values, slot * this.actionSize);
    this.pending++;
  }

  /** Slack time: encode and append buffered cycles until `untilNs`. */
  flush(untilNs: number): void {
    if (this.closed) return;
    if (this.paused) {
      if (this.clock.nowNs() < this.retryAtNs) return;
      this.paused = false;
      this.retrying = true;
    }
    while (this.pending > 0 && this.clock.nowNs() < untilNs) {
      if (this.fd < 0 && !this.openSegment()) return;
      if (!this.encodeOldest()) return;
      if (this.segmentBytes + this.buffered >= this.maxSegmentBytes) {
        if (!this.writeBuffered()) return;
        this.closeSegment();
      }
    }
    this.writeBuffered();
  }

  /** Writes everything buffered, fsyncs and closes (shutdown). */
  close(): void {
    if (this.closed) return;
    this.flush(Number.POSITIVE_INFINITY);
    if (this.fd >= 0) this.closeSegment();
    this.closed = true;
  }

  private encodeOldest(): boolean {
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
    this.bufferedCycles++;
    return true;
  }

  /** Copies a framed payload into the write buffer (writing the buffer out first when full). */
  private appendFrame(payload: Uint8Array): boolean {
    const needed = FRAME_PREFIX_BYTES + payload.byteLength;
    if (this.buffered + needed > this.writeBuffer.byteLength && !this.writeBuffered()) return false;
    if (needed > this.writeBuffer.byteLength) throw new Error(`a recorded cycle of ${needed} bytes exceeds the buffer`);
    this.writeBuffer.writeUInt32LE(payload.byteLength, this.buffered);
    this.writeBuffer.writeUInt32LE(crc32(payload), this.buffered + 4);
    this.writeBuffer.set(payload, this.buffered + FRAME_PREFIX_BYTES);
    this.buffered += needed;
    return true;
  }

  private writeBuffered(): boolean {
    if (this.buffered === 0 || this.fd < 0) return true;
    try {
      let done = 0;
      while (done < this.buffered) done += writeSync(this.fd, this.writeBuffer, done, this.buffered - done);
    } catch (error) {
      this.pause(error as Error);
      return false;
    }
    this.segmentBytes += this.buffered;
    this.counters.bytesWritten += this.buffered;
    this.counters.recorded += this.bufferedCycles;
    this.buffered = 0;
    this.bufferedCycles = 0;
    return true;
  }

  private openSegment(): boolean {
    this.segment++;
    this.segmentPath = join(this.directory, segmentName(this.segment));
    try {
      this.fd = openSync(this.segmentPath, 'wx');
    } catch (error) {
      this.pause(error as Error);
      return false;
    }
    this.segmentBytes = 0;
    this.counters.segmentsOpened++;
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
    if (!this.appendFrame(this.packr.pack(header)) || !this.writeBuffered()) return false;
    if (this.retrying) {
      this.retrying = false;
      this.log.info(
        { file: this.segmentPath, droppedWhilePaused: this.counters.droppedPaused },
        'recording resumed in a new segment',
      );
    }
    this.deleteOldSegments();
    return true;
  }

  private closeSegment(): void {
    try {
      fsyncSync(this.fd);
    } catch (error) {
      this.log.warn({ file: this.segmentPath, error: (error as Error).message }, 'fsync of a recording segment failed');
    }
    closeSync(this.fd);
    this.fd = -1;
  }

  private deleteOldSegments(): void {
    if (this.maxSegments <= 0) return;
    for (let old = this.segment - this.maxSegments; old >= 1; old--) {
      try {
        unlinkSync(join(this.directory, segmentName(old)));
      } catch {
        break; // already gone, and so are the older ones
      }
    }
  }

  /** A write failed (disk full...): keep the segment's good prefix, drop what is buffered, retry later. */
  private pause(error: Error): void {
    this.counters.writeErrors++;
    if (this.fd >= 0) {
      try {
        ftruncateSync(this.fd, this.segmentBytes);
      } catch {
        // the reader tolerates a torn last frame
      }
      try {
        closeSync(this.fd);
      } catch {
        // nothing more to do with this descriptor
      }
      this.fd = -1;
      // a segment that never got its header written is no segment: leave no empty file behind
      if (this.segmentBytes === 0) {
        try {
          unlinkSync(this.segmentPath);
        } catch {
          // already gone
        }
      }
    }
    this.counters.droppedPaused += this.pending + this.bufferedCycles;
    this.pending = 0;
    this.buffered = 0;
    this.bufferedCycles = 0;
    this.paused = true;
    this.retryAtNs = this.clock.nowNs() + this.retryAfterNs;
    if (this.retrying) {
      this.retrying = false;
      return; // still failing: counted in writeErrors, already logged when recording paused
    }
    this.log.error(
      { file: this.segmentPath, code: (error as NodeJS.ErrnoException).code, error: error.message },
      'recording paused: write failed; the loop keeps running and recording retries in a new segment',
    );
  }
}
