/**
 * The engram wire protocol, version 1 (docs/protocol.md is the reference; keep the two together).
 * Shared by the ZeroMQ driver (drivers/zmq) and what speaks it as a robot (drivers/driver-client.ts,
 * the simulator process in drivers/sim), which may not import each other's folders.
 * Every message is one ZeroMQ frame holding one msgpack map with `v` (version) and `type`.
 *
 *   robot -> engram (frames socket):  hello, frame
 *   engram -> robot (actions socket): welcome, reject, action
 *
 * Float vectors travel as msgpack `bin` holding little-endian float32 (what Python's
 * `array('f').tobytes()` and a Float32Array's bytes are); arrays of numbers and msgpackr's
 * typed-array extension are accepted as well. Validation is total: a message is either accepted
 * whole or rejected with one reason, never half-applied.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { ChannelSpec } from '../runtime/contracts.js';
import type { FrameAssembler } from './driver.js';

export const protocolVersion = 1;

/** Why a message was rejected. The index in this list is the reason code. */
export const rejectReasons = [
  /** larger than maxMessageBytes */
  'oversized',
  /** not decodable msgpack, trailing bytes, or more than one ZeroMQ frame */
  'malformed',
  /** decoded, but not a map with a string `type` */
  'notAMessage',
  /** `v` is not a version this engram speaks */
  'version',
  /** a `type` engram does not know */
  'unknownType',
  /** a required field is missing or has the wrong type */
  'badField',
  /** a frame from a session that has not completed the hello (or was replaced by a newer one) */
  'noHandshake',
  /** seq not greater than the last accepted frame's seq in this session */
  'outOfOrder',
  /** a channel name that is not in the config */
  'unknownChannel',
  /** a channel with the wrong number of values */
  'wrongSize',
  /** NaN or Infinity in a channel or the reward */
  'nonFinite',
  /** a hello whose channels or action size disagree with the config */
  'helloMismatch',
] as const;
export type RejectReason = (typeof rejectReasons)[number];
export const Reject: { readonly [K in RejectReason]: number } = Object.fromEntries(
  rejectReasons.map((reason, index) => [reason, index]),
) as { [K in RejectReason]: number };

/** What `decode` found. Non-negative values are reject reason codes. */
export const Decoded = { frame: -1, hello: -2 } as const;
export type DecodeResult = number;

export interface ChannelDeclaration {
  name: string;
  size: number;
}

/** A hello as decoded (filled into one reused object). */
export interface HelloMessage {
  session: number;
  client: string;
  channels: ChannelDeclaration[];
  actionSize: number;
}

/** The frame header decoded alongside the staged channel values. */
export interface FrameHeader {
  session: number;
  seq: number;
  stampNs: number;
  reward: number;
  episodeStart: boolean;
  estop: boolean;
}

/**
 * One decoder per driver. msgpackr allocates the decoded map and one small Buffer view per bin
 * value: once per message, the unavoidable cost of the library boundary (measured in
 * `engram bench transport`). Options: plain objects for maps; 64-bit integers as numbers.
 */
export function createUnpackr(): Unpackr {
  return new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
}

export function createPackr(): Packr {
  return new Packr({ useRecords: false });
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const isUint32 = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;

/**
 * Decodes robot -> engram messages: a frame's channels go into the assembler's staging buffer
 * (not committed: the driver commits after its own checks), a hello into `hello`.
 */
export class InboundDecoder {
  readonly header: FrameHeader = { session: 0, seq: 0, stampNs: 0, reward: 0, episodeStart: false, estop: false };
  readonly hello: HelloMessage = { session: 0, client: '', channels: [], actionSize: 0 };
  private readonly unpackr = createUnpackr();
  /** the staging floats as bytes, so a bin channel is one memcpy */
  private readonly stagingBytes: Uint8Array;

  constructor(
    private readonly assembler: FrameAssembler,
    private readonly maxMessageBytes: number,
  ) {
    const staging = assembler.staging;
    this.stagingBytes = new Uint8Array(staging.buffer, staging.byteOffset, staging.byteLength);
  }

  decode(bytes: Uint8Array): DecodeResult {
    if (bytes.byteLength > this.maxMessageBytes) return Reject.oversized;
    let message: unknown;
    try {
      // msgpackr throws on malformed input, and on trailing bytes when given the whole buffer.
      message = this.unpackr.unpack(bytes);
    } catch {
      return Reject.malformed;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message) || ArrayBuffer.isView(message)) {
      return Reject.notAMessage;
    }
    const map = message as Record<string, unknown>;
    if (typeof map.type !== 'string') return Reject.notAMessage;
    if (map.v !== protocolVersion) return Reject.version;
    if (map.type === 'frame') return this.decodeFrame(map);
    if (map.type === 'hello') return this.decodeHello(map);
    return Reject.unknownType;
  }

  private decodeFrame(map: Record<string, unknown>): DecodeResult {
    const { session, seq, stamp, channels } = map;
    const reward = map.reward ?? 0;
    const episodeStart = map.episodeStart ?? false;
    const estop = map.estop ?? false;
    if (!isUint32(session) || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
      return Reject.badField;
    }
    if (typeof stamp !== 'number' || typeof reward !== 'number') return Reject.badField;
    if (typeof episodeStart !== 'boolean' || typeof estop !== 'boolean') return Reject.badField;
    if (channels === null || typeof channels !== 'object' || Array.isArray(channels) || ArrayBuffer.isView(channels)) {
      return Reject.badField;
    }
    if (!Number.isFinite(stamp) || !Number.isFinite(reward)) return Reject.nonFinite;
    const assembler = this.assembler;
    const layout = assembler.layout;
    assembler.discard();
    let staged = 0;
    for (const name in channels) {
      if (!Object.hasOwn(channels, name)) continue;
      const index = layout.indexOf(name);
      if (index < 0) return Reject.unknownChannel;
      if (assembler.stagedChannels[index] === 1) return Reject.badField;
      const status = stageValues(
        (channels as Record<string, unknown>)[name],
        assembler.staging,
        layout.offsets[index]!,
        layout.channels[index]!.size,
        this.stagingBytes,
      );
      if (status >= 0) return status;
      assembler.stagedChannels[index] = 1;
      staged++;
    }
    if (staged === 0) return Reject.badField;
    const header = this.header;
    header.session = session;
    header.seq = seq;
    header.stampNs = stamp;
    header.reward = reward;
    header.episodeStart = episodeStart;
    header.estop = estop;
    return Decoded.frame;
  }

  private decodeHello(map: Record<string, unknown>): DecodeResult {
    const { session, channels, actionSize } = map;
    const client = map.client ?? '';
    if (!isUint32(session) || !isUint32(actionSize) || typeof client !== 'string' || !Array.isArray(channels)) {
      return Reject.badField;
    }
    if (channels.length > 4096) return Reject.badField;
    const declared: ChannelDeclaration[] = [];
    for (const entry of channels) {
      if (entry === null || typeof entry !== 'object') return Reject.badField;
      const { name, size } = entry as Record<string, unknown>;
      if (typeof name !== 'string' || !isUint32(size)) return Reject.badField;
      declared.push({ name, size });
    }
    this.hello.session = session;
    this.hello.client = client.slice(0, 200);
    this.hello.channels = declared;
    this.hello.actionSize = actionSize;
    return Decoded.hello;
  }
}

/**
 * Copies one channel's values into `out[offset .. offset+size)` after checking size and
 * finiteness. Returns -1 on success or a reject reason code. Values are checked as float32 (a
 * finite float64 beyond float32 range becomes Infinity and is rejected).
 */
export function stageValues(
  value: unknown,
  out: Float32Array,
  offset: number,
  size: number,
  outBytes: Uint8Array = new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
): number {
  if (Buffer.isBuffer(value)) {
    if (value.byteLength !== size * 4) return Reject.wrongSize;
    if (littleEndianHost) {
      // one memcpy into the staging floats, then a finiteness scan: ~4x faster than readFloatLE
      outBytes.set(value, offset * 4);
      for (let i = offset; i < offset + size; i++) if (!Number.isFinite(out[i]!)) return Reject.nonFinite;
      return -1;
    }
    for (let i = 0; i < size; i++) {
      const x = value.readFloatLE(i * 4);
      if (!Number.isFinite(x)) return Reject.nonFinite;
      out[offset + i] = x;
    }
    return -1;
  }
  if (value instanceof Float32Array) {
    if (value.length !== size) return Reject.wrongSize;
    for (let i = 0; i < size; i++) {
      const x = value[i]!;
      if (!Number.isFinite(x)) return Reject.nonFinite;
      out[offset + i] = x;
    }
    return -1;
  }
  if (Array.isArray(value)) {
    if (value.length !== size) return Reject.wrongSize;
    for (let i = 0; i < size; i++) {
      const x: unknown = value[i];
      if (typeof x !== 'number') return Reject.badField;
      const rounded = Math.fround(x);
      if (!Number.isFinite(rounded)) return Reject.nonFinite;
      out[offset + i] = rounded;
    }
    return -1;
  }
  return Reject.badField;
}

/** Checks a hello against the config. Returns undefined when it matches, else what differs. */
export function helloMismatch(
  hello: HelloMessage,
  channels: readonly ChannelSpec[],
  actionSize: number,
): string | undefined {
  const problems: string[] = [];
  if (hello.actionSize !== actionSize) problems.push(`actionSize ${hello.actionSize}, engram expects ${actionSize}`);
  const declared = new Map(hello.channels.map((c) => [c.name, c.size]));
  if (declared.size !== hello.channels.length) problems.push('a channel is declared twice');
  for (const channel of channels) {
    const size = declared.get(channel.name);
    if (size === undefined) problems.push(`missing channel '${channel.name}' (size ${channel.size})`);
    else if (size !== channel.size)
      problems.push(`channel '${channel.name}' has size ${size}, expected ${channel.size}`);
  }
  for (const name of declared.keys()) {
    if (!channels.some((c) => c.name === name)) problems.push(`unknown channel '${name}'`);
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}

/** Server messages as a client sees them. */
export type OutboundMessage =
  | {
      type: 'welcome';
      session: number;
      channels: { name: string; size: number; maxAgeMs: number }[];
      actionSize: number;
      server: string;
    }
  | { type: 'reject'; session: number; reason: string; detail: string }
  | {
      type: 'action';
      session: number;
      cycle: number;
      frameSeq: number;
      stale: boolean;
      stampNs: number;
      values: Float32Array;
    };

/**
 * Encodes actions into a preallocated message object whose `values` is a Buffer view over a
 * preallocated Float32Array: per publish, only msgpackr's output Buffer is new (it packs into
 * a shared block and hands out views; ZeroMQ may send it zero-copy, so it must not be reused).
 */
export class ActionEncoder {
  readonly values: Float32Array;
  private readonly message: {
    v: number;
    type: 'action';
    session: number;
    cycle: number;
    frameSeq: number;
    stale: boolean;
    stamp: number;
    values: Buffer;
  };
  private readonly packr = createPackr();

  constructor(actionSize: number) {
    this.values = new Float32Array(actionSize);
    this.message = {
      v: protocolVersion,
      type: 'action',
      session: 0,
      cycle: 0,
      frameSeq: -1,
      stale: true,
      stamp: 0,
      values: Buffer.from(this.values.buffer, this.values.byteOffset, this.values.byteLength),
    };
  }

  encode(
    session: number,
    cycle: number,
    frameSeq: number,
    stale: boolean,
    stampNs: number,
    values: Float32Array,
  ): Buffer {
    const m = this.message;
    m.session = session;
    m.cycle = cycle;
    m.frameSeq = frameSeq;
    m.stale = stale;
    m.stamp = stampNs;
    this.values.set(values);
    return this.packr.pack(m);
  }
}

export function encodeWelcome(
  packr: Packr,
  session: number,
  channels: readonly ChannelSpec[],
  actionSize: number,
  server: string,
): Buffer {
  return packr.pack({
    v: protocolVersion,
    type: 'welcome',
    session,
    channels: channels.map((c) => ({ name: c.name, size: c.size, maxAgeMs: c.maxAgeMs })),
    actionSize,
    server,
  });
}

export function encodeReject(packr: Packr, session: number, reason: RejectReason, detail: string): Buffer {
  return packr.pack({ v: protocolVersion, type: 'reject', session, reason, detail });
}

export function encodeHello(
  packr: Packr,
  session: number,
  channels: readonly ChannelDeclaration[],
  actionSize: number,
  client: string,
): Buffer {
  return packr.pack({
    v: protocolVersion,
    type: 'hello',
    session,
    client,
    channels: channels.map((c) => ({ name: c.name, size: c.size })),
    actionSize,
  });
}

/** Decodes engram -> robot messages (client side). Returns undefined for anything not understood. */
export function decodeOutbound(unpackr: Unpackr, bytes: Uint8Array): OutboundMessage | undefined {
  let message: unknown;
  try {
    message = unpackr.unpack(bytes);
  } catch {
    return undefined;
  }
  if (message === null || typeof message !== 'object') return undefined;
  const m = message as Record<string, unknown>;
  if (m.v !== protocolVersion || typeof m.session !== 'number') return undefined;
  if (m.type === 'action') {
    const raw = m.values;
    if (!Buffer.isBuffer(raw) || raw.byteLength % 4 !== 0) return undefined;
    const values = new Float32Array(raw.byteLength / 4);
    for (let i = 0; i < values.length; i++) values[i] = raw.readFloatLE(i * 4);
    return {
      type: 'action',
      session: m.session,
      cycle: Number(m.cycle),
      frameSeq: Number(m.frameSeq),
      stale: m.stale === true,
      stampNs: Number(m.stamp),
      values,
    };
  }
  if (m.type === 'welcome') {
    return {
      type: 'welcome',
      session: m.session,
      channels: (m.channels as { name: string; size: number; maxAgeMs: number }[]) ?? [],
      actionSize: Number(m.actionSize),
      server: String(m.server ?? ''),
    };
  }
  if (m.type === 'reject') {
    return { type: 'reject', session: m.session, reason: String(m.reason), detail: String(m.detail ?? '') };
  }
  return undefined;
}
