/**
 * Reads flight recordings (a segment directory, or one segment file) back into cycles, for replay
 * and tests. Damage is reported precisely: a torn last frame (crash or full disk while writing) is
 * a warning and the cycles before it are kept; a checksum mismatch or undecodable frame in the
 * middle is an error naming the file and byte offset.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { unpack } from 'msgpackr';
import {
  type Action,
  type CycleRecord,
  createAction,
  createCycleRecord,
  createFrame,
  type Frame,
  type LookupPathCode,
  type StatusCode,
} from './contracts.js';
import {
  CYCLE_FIELD_COUNT,
  cycleFields,
  FRAME_PREFIX_BYTES,
  field,
  RECORDING_FORMAT,
  RECORDING_VERSION,
  REQUIRED_FIELD_COUNT,
  type RecordingHeader,
  segmentIndex,
} from './recorder-format.js';

export class RecordingError extends Error {
  override name = 'RecordingError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`recording ${file}: ${detail}`);
  }
}

export interface RecordedCycle {
  readonly record: CycleRecord;
  readonly frame: Frame;
  readonly action: Action;
  /** segment file and byte offset of this cycle's frame (for divergence reports) */
  readonly file: string;
  readonly offset: number;
}

export interface RecordingContents {
  readonly header: RecordingHeader;
  readonly files: readonly string[];
  readonly cycles: readonly RecordedCycle[];
  /** tolerated damage (torn tails) and gaps in the cycle sequence, as sentences */
  readonly warnings: readonly string[];
}

/** Segment files of a recording path, in order. */
export function recordingFiles(path: string): string[] {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw new RecordingError(path, 'no such file or directory');
  }
  if (!isDirectory) return [path];
  const segments = readdirSync(path)
    .map((name) => ({ name, index: segmentIndex(name) }))
    .filter((entry): entry is { name: string; index: number } => entry.index !== undefined)
    .sort((a, b) => a.index - b.index);
  if (segments.length === 0) throw new RecordingError(path, 'directory holds no segment-*.engrec files');
  return segments.map((entry) => join(path, entry.name));
}

function parseHeader(file: string, value: unknown): RecordingHeader {
  const header = value as Partial<RecordingHeader> | null;
  if (header === null || typeof header !== 'object' || header.format !== RECORDING_FORMAT) {
    throw new RecordingError(file, `not a flight recording (no '${RECORDING_FORMAT}' header)`);
  }
  if (header.version !== RECORDING_VERSION) {
    throw new RecordingError(file, `recording version ${header.version}; this engram reads ${RECORDING_VERSION}`);
  }
  if (!Number.isInteger(header.observationSize) || !Number.isInteger(header.actionSize)) {
    throw new RecordingError(file, 'header lacks observationSize/actionSize');
  }
  const fields = header.fields ?? [];
  if (fields.length < REQUIRED_FIELD_COUNT || fields.length > CYCLE_FIELD_COUNT) {
    throw new RecordingError(
      file,
      `${fields.length} fields per cycle; this engram reads ${REQUIRED_FIELD_COUNT} to ${CYCLE_FIELD_COUNT}`,
    );
  }
  for (let i = 0; i < fields.length; i++) {
    if (fields[i] !== cycleFields[i]) {
      throw new RecordingError(file, `field ${i} is '${fields[i]}', expected '${cycleFields[i]}'`);
    }
  }
  return header as RecordingHeader;
}

function float32s(bytes: Uint8Array, length: number, into: Float32Array): void {
  if (bytes.byteLength !== length * 4) throw new Error(`expected ${length * 4} bytes, got ${bytes.byteLength}`);
  new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(bytes);
}

function decodeCycle(header: RecordingHeader, value: unknown, file: string, offset: number): RecordedCycle {
  // Recordings from before a field was appended have fewer numbers: those read as NaN.
  const count = header.fields.length;
  if (!Array.isArray(value) || value.length !== count + 2) throw new Error('not a cycle entry');
  const n = (index: number): number => {
    if (index >= count) return Number.NaN;
    const number = value[index];
    if (typeof number !== 'number') throw new Error(`field ${cycleFields[index]} is not a number`);
    return number;
  };
  const record = createCycleRecord();
  record.cycle = n(field.cycle);
  record.dueNs = n(field.dueNs);
  record.wokeNs = n(field.wokeNs);
  record.latenessNs = n(field.latenessNs);
  record.skippedTicks = n(field.skippedTicks);
  record.ingestNs = n(field.ingestNs);
  record.encodeNs = n(field.encodeNs);
  record.lookupNs = n(field.lookupNs);
  record.activationNs = n(field.activationNs);
  record.planNs = n(field.planNs);
  record.safetyNs = n(field.safetyNs);
  record.publishNs = n(field.publishNs);
  record.maintenanceNs = n(field.maintenanceNs);
  record.cycleNs = n(field.cycleNs);
  record.overrun = n(field.overrun) === 1;
  record.stepStatus = n(field.stepStatus) as StatusCode;
  record.lookupPath = n(field.lookupPath) as LookupPathCode;
  record.effortLevel = n(field.effortLevel);
  record.frameSeq = n(field.frameSeq);
  record.actionStale = n(field.actionStale) === 1;
  record.safeAction = n(field.safeAction) === 1;
  const frame = createFrame(header.observationSize);
  frame.seq = n(field['frame.seq']);
  frame.sourceStampNs = n(field['frame.sourceStampNs']);
  frame.receivedNs = n(field['frame.receivedNs']);
  frame.reward = n(field['frame.reward']);
  frame.episodeStart = n(field['frame.episodeStart']) === 1;
  frame.estop = n(field['frame.estop']) === 1;
  const action = createAction(header.actionSize);
  action.cycle = n(field['action.cycle']);
  action.frameSeq = n(field['action.frameSeq']);
  action.stale = n(field['action.stale']) === 1;
  action.publishedNs = n(field['action.publishedNs']);
  record.priorSlackWork = n(field.priorSlackWork);
  record.priorSlackWritesHeld = n(field.priorSlackWritesHeld);
  record.stepWork = n(field.stepWork);
  float32s(value[count] as Uint8Array, header.observationSize, frame.observation);
  float32s(value[count + 1] as Uint8Array, header.actionSize, action.values);
  return { record, frame, action, file, offset };
}

/** Reads a whole recording. Throws RecordingError for damage that is not a torn tail. */
export function readRecording(path: string): RecordingContents {
  const files = recordingFiles(path);
  const cycles: RecordedCycle[] = [];
  const warnings: string[] = [];
  let first: RecordingHeader | undefined;
  for (const file of files) {
    const bytes = readFileSync(file);
    let header: RecordingHeader | undefined;
    let offset = 0;
    while (offset < bytes.byteLength) {
      if (offset + FRAME_PREFIX_BYTES > bytes.byteLength) {
        warnings.push(`${file}: torn frame at byte ${offset} (the write was interrupted); ignored`);
        break;
      }
      const length = bytes.readUInt32LE(offset);
      const end = offset + FRAME_PREFIX_BYTES + length;
      if (end > bytes.byteLength) {
        warnings.push(`${file}: torn frame at byte ${offset} (the write was interrupted); ignored`);
        break;
      }
      const payload = bytes.subarray(offset + FRAME_PREFIX_BYTES, end);
      if (crc32(payload) !== bytes.readUInt32LE(offset + 4)) {
        throw new RecordingError(file, `checksum mismatch in the frame at byte ${offset}`);
      }
      let value: unknown;
      try {
        value = unpack(payload);
      } catch (error) {
        throw new RecordingError(file, `undecodable frame at byte ${offset}: ${(error as Error).message}`);
      }
      if (header === undefined) {
        header = parseHeader(file, value);
        if (first === undefined) first = header;
        else if (header.observationSize !== first.observationSize || header.actionSize !== first.actionSize) {
          throw new RecordingError(file, 'segment sizes differ from the first segment');
        }
      } else {
        try {
          cycles.push(decodeCycle(header, value, file, offset));
        } catch (error) {
          throw new RecordingError(file, `bad cycle at byte ${offset}: ${(error as Error).message}`);
        }
      }
      offset = end;
    }
    if (header === undefined) warnings.push(`${basename(file)}: empty segment (no header)`);
  }
  if (first === undefined) throw new RecordingError(path, 'no readable segment header');
  for (let i = 1; i < cycles.length; i++) {
    const gap = cycles[i]!.record.cycle - cycles[i - 1]!.record.cycle;
    if (gap !== 1 && cycles[i]!.record.skippedTicks + 1 !== gap) {
      warnings.push(
        `cycles ${cycles[i - 1]!.record.cycle + 1}..${cycles[i]!.record.cycle - 1} are missing (recording paused or dropped)`,
      );
    }
  }
  return { header: first, files, cycles, warnings };
}
