/**
 * Reads snapshots: `inspectSnapshot` verifies a file and says what it holds; `restoreSnapshot`
 * restores the newest usable one at start, falling back from `<path>` to the previous good one
 * and never silently starting empty when a snapshot was expected (SnapshotRestorePolicy).
 *
 * A file is verified completely (size, header, every section checksum) before any component's
 * state is touched, reading it in bounded pieces so a large memory needs no second copy in RAM.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { EventLog } from '../../runtime/contracts.js';
import {
  defaultRestorePolicy,
  previousSnapshotPath,
  type SectionEntry,
  type SectionSource,
  SNAPSHOT_END_BYTES,
  SNAPSHOT_END_MAGIC,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  SNAPSHOT_PREAMBLE_BYTES,
  SNAPSHOT_READABLE_VERSIONS,
  SnapshotError,
  type SnapshotHeader,
  type SnapshotRestorePolicy,
  type SnapshotSection,
  snapshotFileSize,
} from './snapshot.js';

export type ChecksumStatus = 'ok' | 'mismatch' | 'not-checked';

export interface SnapshotInfo {
  readonly file: string;
  readonly fileBytes: number;
  readonly header: SnapshotHeader;
  /** per section, in header order: where its payload starts in the file */
  readonly sectionOffsets: readonly number[];
  readonly checksum: ChecksumStatus;
  /** names of sections whose checksum did not match (empty when ok) */
  readonly damagedSections: readonly string[];
}

const verifyBufferBytes = 4 << 20;

/** Reads and validates the preamble and header of an open file; throws SnapshotError. */
function readHeader(file: string, fd: number): { header: SnapshotHeader; fileBytes: number; headerBytes: number } {
  const fileBytes = fstatSync(fd).size;
  if (fileBytes < SNAPSHOT_PREAMBLE_BYTES) {
    throw new SnapshotError(
      file,
      'truncated',
      `${fileBytes} bytes is shorter than the ${SNAPSHOT_PREAMBLE_BYTES}-byte preamble`,
    );
  }
  const preamble = Buffer.alloc(SNAPSHOT_PREAMBLE_BYTES);
  readSync(fd, preamble, 0, preamble.byteLength, 0);
  const magic = preamble.toString('latin1', 0, 8);
  if (magic !== SNAPSHOT_MAGIC) {
    throw new SnapshotError(file, 'not-a-snapshot', `starts with ${JSON.stringify(magic)}, expected ${SNAPSHOT_MAGIC}`);
  }
  const version = preamble.readUInt32LE(8);
  if (!SNAPSHOT_READABLE_VERSIONS.includes(version)) {
    throw new SnapshotError(
      file,
      'unsupported-version',
      `format version ${version}; this engram reads versions ${SNAPSHOT_READABLE_VERSIONS.join(' and ')} (writes ${SNAPSHOT_FORMAT_VERSION})`,
    );
  }
  const headerBytes = preamble.readUInt32LE(12);
  if (SNAPSHOT_PREAMBLE_BYTES + headerBytes > fileBytes) {
    throw new SnapshotError(
      file,
      'truncated',
      `the header claims ${headerBytes} bytes but the file has ${fileBytes - SNAPSHOT_PREAMBLE_BYTES} after the preamble`,
    );
  }
  const json = Buffer.alloc(headerBytes);
  readSync(fd, json, 0, headerBytes, SNAPSHOT_PREAMBLE_BYTES);
  if (crc32(json) !== preamble.readUInt32LE(16)) {
    throw new SnapshotError(file, 'corrupt-header', 'header checksum mismatch');
  }
  let header: SnapshotHeader;
  try {
    header = parseHeader(JSON.parse(json.toString('utf8')), version);
  } catch (error) {
    throw new SnapshotError(file, 'corrupt-header', (error as Error).message);
  }
  const expected = snapshotFileSize(headerBytes, header.sections);
  if (fileBytes < expected) {
    throw new SnapshotError(file, 'truncated', `${fileBytes} bytes, the header describes ${expected}`);
  }
  if (fileBytes > expected) {
    throw new SnapshotError(file, 'trailing-bytes', `${fileBytes} bytes, the header describes ${expected}`);
  }
  return { header, fileBytes, headerBytes };
}

function parseHeader(value: unknown, version: number): SnapshotHeader {
  const record = value as Partial<SnapshotHeader> | null;
  if (record === null || typeof record !== 'object') throw new Error('header is not an object');
  if (typeof record.created !== 'string') throw new Error('header.created is not a string');
  if (typeof record.configHash !== 'string') throw new Error('header.configHash is not a string');
  if (!Array.isArray(record.sections)) throw new Error('header.sections is not an array');
  const sections: SectionEntry[] = [];
  for (const entry of record.sections as unknown[]) {
    const section = entry as Partial<SectionEntry> | null;
    if (section === null || typeof section !== 'object' || typeof section.name !== 'string') {
      throw new Error('a section entry has no name');
    }
    if (typeof section.byteLength !== 'number' || !Number.isSafeInteger(section.byteLength) || section.byteLength < 0) {
      throw new Error(`section ${section.name} has an invalid byteLength`);
    }
    sections.push({ name: section.name, byteLength: section.byteLength, meta: section.meta ?? {} });
  }
  return {
    formatVersion: version,
    created: record.created,
    configHash: record.configHash,
    sections,
  };
}

function verifyOpen(file: string, fd: number, checkSums: boolean): SnapshotInfo {
  const { header, fileBytes, headerBytes } = readHeader(file, fd);
  const sectionOffsets: number[] = [];
  let offset = SNAPSHOT_PREAMBLE_BYTES + headerBytes;
  for (const section of header.sections) {
    sectionOffsets.push(offset);
    offset += section.byteLength;
  }
  const trailer = Buffer.alloc(4 * header.sections.length + SNAPSHOT_END_BYTES);
  readSync(fd, trailer, 0, trailer.byteLength, offset);
  const endMagic = trailer.toString('latin1', 4 * header.sections.length);
  if (endMagic !== SNAPSHOT_END_MAGIC) {
    throw new SnapshotError(
      file,
      'checksum-mismatch',
      `end marker is ${JSON.stringify(endMagic)}, expected ${SNAPSHOT_END_MAGIC}`,
    );
  }
  const damaged: string[] = [];
  if (checkSums) {
    const buffer = Buffer.allocUnsafe(Math.min(verifyBufferBytes, Math.max(1, fileBytes)));
    for (let s = 0; s < header.sections.length; s++) {
      const section = header.sections[s]!;
      let crc = 0;
      for (let done = 0; done < section.byteLength; ) {
        const length = Math.min(buffer.byteLength, section.byteLength - done);
        const read = readSync(fd, buffer, 0, length, sectionOffsets[s]! + done);
        if (read !== length) throw new SnapshotError(file, 'truncated', `short read in section ${section.name}`);
        crc = crc32(buffer.subarray(0, length), crc);
        done += length;
      }
      if (crc !== trailer.readUInt32LE(4 * s)) damaged.push(section.name);
    }
  }
  return {
    file,
    fileBytes,
    header,
    sectionOffsets,
    checksum: checkSums ? (damaged.length === 0 ? 'ok' : 'mismatch') : 'not-checked',
    damagedSections: damaged,
  };
}

function openSnapshot(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SnapshotError(file, 'missing', 'no such file');
    throw new SnapshotError(file, 'io-error', (error as Error).message);
  }
}

/**
 * Verifies `file` and describes it. Structural problems (not a snapshot, truncated, bad header)
 * throw SnapshotError; checksum mismatches are reported in the result so inspect can show them.
 */
export function inspectSnapshot(file: string, options: { checkSums?: boolean } = {}): SnapshotInfo {
  const fd = openSnapshot(file);
  try {
    return verifyOpen(file, fd, options.checkSums ?? true);
  } finally {
    closeSync(fd);
  }
}

/**
 * Why a section of the file cannot be restored into the given components (undefined if it can),
 * and the optional sections that will be skipped, with why.
 */
function compatibilityProblem(
  info: SnapshotInfo,
  sections: readonly SnapshotSection[],
): { problem: string | undefined; skipped: Map<SnapshotSection, string> } {
  const problems: string[] = [];
  const skipped = new Map<SnapshotSection, string>();
  for (const section of sections) {
    const index = info.header.sections.findIndex((entry) => entry.name === section.name);
    if (index < 0) {
      const why = `it has no '${section.name}' section (format version ${info.header.formatVersion})`;
      if (section.optional) skipped.set(section, why);
      else problems.push(why);
      continue;
    }
    const entry = info.header.sections[index]!;
    const problem = section.incompatibility(entry.meta, entry.byteLength);
    if (problem) {
      if (section.optional) skipped.set(section, `section '${section.name}': ${problem}`);
      else problems.push(`section '${section.name}': ${problem}`);
    }
  }
  return { problem: problems.length > 0 ? problems.join('; ') : undefined, skipped };
}

/** Restores `sections` from one verified file (throws SnapshotError when it is not usable). */
export function restoreFromFile(file: string, sections: readonly SnapshotSection[]): SnapshotInfo {
  const fd = openSnapshot(file);
  try {
    const info = verifyOpen(file, fd, true);
    if (info.checksum !== 'ok') {
      throw new SnapshotError(file, 'checksum-mismatch', `damaged section(s): ${info.damagedSections.join(', ')}`);
    }
    const { problem, skipped } = compatibilityProblem(info, sections);
    if (problem) throw new SnapshotError(file, 'incompatible', problem);
    for (const section of sections) {
      const skip = skipped.get(section);
      if (skip !== undefined) {
        section.skipped?.(skip);
        continue;
      }
      const index = info.header.sections.findIndex((entry) => entry.name === section.name);
      const entry = info.header.sections[index]!;
      const start = info.sectionOffsets[index]!;
      const source: SectionSource = {
        byteLength: entry.byteLength,
        location: { file, offset: start },
        read(offset, into) {
          if (offset < 0 || offset + into.byteLength > entry.byteLength) {
            throw new RangeError(`read past the end of section ${entry.name}`);
          }
          for (let done = 0; done < into.byteLength; ) {
            const read = readSync(fd, into, done, into.byteLength - done, start + offset + done);
            if (read === 0) throw new SnapshotError(file, 'truncated', `short read in section ${entry.name}`);
            done += read;
          }
        },
      };
      if (!section.optional) {
        section.restore(source, entry.meta);
        continue;
      }
      // An optional section that fails to apply (a library refusing its file) is skipped, not fatal:
      // the required sections are in already.
      try {
        section.restore(source, entry.meta);
      } catch (error) {
        if (error instanceof SnapshotError) throw error;
        section.skipped?.(`section '${section.name}' could not be applied: ${(error as Error).message}`);
      }
    }
    return info;
  } finally {
    closeSync(fd);
  }
}

export type RestoreOutcome =
  | {
      readonly kind: 'restored';
      readonly info: SnapshotInfo;
      readonly fellBack: boolean;
      readonly problems: readonly SnapshotError[];
    }
  | {
      readonly kind: 'empty';
      readonly reason: 'no-snapshot' | 'all-unusable';
      readonly problems: readonly SnapshotError[];
    };

/** No usable snapshot and the policy forbids starting empty. */
export class SnapshotRestoreError extends Error {
  override name = 'SnapshotRestoreError';
  constructor(
    message: string,
    readonly problems: readonly SnapshotError[],
  ) {
    super(message);
  }
}

export interface RestoreOptions {
  path: string;
  sections: readonly SnapshotSection[];
  log: EventLog;
  policy?: SnapshotRestorePolicy;
  /** hash of the configuration now; a different saved hash is logged, not refused */
  configHash?: string;
}

/**
 * Restores the newest usable snapshot: `path`, else its previous good one. Every unusable file is
 * logged with its name and problem. Starting empty is decided by `policy`, never by accident.
 */
export function restoreSnapshot(options: RestoreOptions): RestoreOutcome {
  const { path, sections, log } = options;
  const policy = options.policy ?? defaultRestorePolicy;
  const problems: SnapshotError[] = [];
  const candidates = [path, previousSnapshotPath(path)];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    try {
      const info = restoreFromFile(file, sections);
      const fellBack = file !== path;
      if (fellBack) log.warn({ file, skipped: problems.map((p) => p.message) }, 'restored the previous good snapshot');
      else log.info({ file, created: info.header.created }, 'snapshot restored');
      if (options.configHash !== undefined && options.configHash !== info.header.configHash) {
        log.warn(
          { file, saved: info.header.configHash, now: options.configHash },
          'snapshot was saved under a different configuration',
        );
      }
      return { kind: 'restored', info, fellBack, problems };
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      log.error({ file: error.file, problem: error.problem, error: error.message }, 'snapshot unusable');
      problems.push(error);
    }
  }
  if (problems.length === 0) {
    if (policy.onMissing === 'fail') {
      throw new SnapshotRestoreError(
        `no snapshot at ${path} (nor ${previousSnapshotPath(path)}) and snapshot.onMissing is 'fail'`,
        problems,
      );
    }
    log.info({ file: path }, 'no snapshot yet: starting with an empty memory');
    return { kind: 'empty', reason: 'no-snapshot', problems };
  }
  const summary = problems.map((problem) => problem.message).join('\n  ');
  if (policy.onUnusable === 'fail') {
    throw new SnapshotRestoreError(
      `no usable snapshot; refusing to start empty (snapshot.onUnusable is 'fail'):\n  ${summary}`,
      problems,
    );
  }
  log.warn({ files: problems.map((p) => p.file) }, 'no usable snapshot: starting EMPTY as configured (onUnusable)');
  return { kind: 'empty', reason: 'all-unusable', problems };
}
