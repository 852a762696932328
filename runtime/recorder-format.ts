/**
 * The flight-recording format, shared by the recorder (writes) and the reader (replay, tests).
 *
 * A recording is a directory of segment files `segment-000001.engrec`, `segment-000002.engrec`...
 * Each segment is a sequence of frames: u32 LE payload length, u32 LE CRC-32 of the payload, then
 * the payload (msgpack). The first frame of a segment is its header (RecordingHeader); every
 * other frame is one cycle: an array of the numbers in `cycleFields` order, then the observation
 * and the action values as raw little-endian float32 bytes (bit-exact, NaN payloads and -0 kept).
 */

export const RECORDING_FORMAT = 'engram-recording';
export const RECORDING_VERSION = 1;
export const FRAME_PREFIX_BYTES = 8;
export const SEGMENT_PREFIX = 'segment-';
export const SEGMENT_SUFFIX = '.engrec';

export function segmentName(index: number): string {
  return `${SEGMENT_PREFIX}${String(index).padStart(6, '0')}${SEGMENT_SUFFIX}`;
}

/** Segment number of a file name, or undefined when it is not a segment. */
export function segmentIndex(name: string): number | undefined {
  if (!name.startsWith(SEGMENT_PREFIX) || !name.endsWith(SEGMENT_SUFFIX)) return undefined;
  const index = Number(name.slice(SEGMENT_PREFIX.length, -SEGMENT_SUFFIX.length));
  return Number.isInteger(index) && index > 0 ? index : undefined;
}

/**
 * The numbers recorded per cycle, in order: the CycleRecord, then the frame's scalars, then the
 * action's. Booleans are 0/1. Appending is compatible; reordering needs a new version.
 */
export const cycleFields = [
  'cycle',
  'dueNs',
  'wokeNs',
  'latenessNs',
  'skippedTicks',
  'ingestNs',
  'encodeNs',
  'lookupNs',
  'activationNs',
  'planNs',
  'safetyNs',
  'publishNs',
  'maintenanceNs',
  'cycleNs',
  'overrun',
  'stepStatus',
  'lookupPath',
  'effortLevel',
  'frameSeq',
  'actionStale',
  'safeAction',
  'frame.seq',
  'frame.sourceStampNs',
  'frame.receivedNs',
  'frame.reward',
  'frame.episodeStart',
  'frame.estop',
  'action.cycle',
  'action.frameSeq',
  'action.stale',
  'action.publishedNs',
  // appended: recordings written before them lack them (the reader fills NaN)
  'priorSlackWork',
  'priorSlackWritesHeld',
  'stepWork',
] as const;

/** Fields every version-1 recording has; later ones were appended and may be missing. */
export const REQUIRED_FIELD_COUNT = 31;

export type CycleField = (typeof cycleFields)[number];

/** Index of each field in a recorded cycle's number array. */
export const field = Object.fromEntries(cycleFields.map((name, index) => [name, index])) as {
  readonly [K in CycleField]: number;
};

export const CYCLE_FIELD_COUNT = cycleFields.length;

export interface RecordingHeader {
  readonly format: typeof RECORDING_FORMAT;
  readonly version: number;
  readonly observationSize: number;
  readonly actionSize: number;
  readonly fields: readonly string[];
  /** ISO time the segment was opened */
  readonly created: string;
  /** 1-based segment number within the recording */
  readonly segment: number;
  /** free-form facts the runtime attaches: config hash, the snapshot restored at start, task, seed */
  readonly meta: Readonly<Record<string, string | number | boolean>>;
}
