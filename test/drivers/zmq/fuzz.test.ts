/**
 * Fuzzing the inbound path: 100,000+ random and mutated messages through the driver's ingest
 * (decode, validate, commit), then a share of them over a real ipc socket. Zero crashes; each
 * message is accepted or rejected with a named reason; a rejected message leaves the latest slot
 * exactly as it was; an accepted frame's values are exactly what an independent msgpack decode
 * of the same bytes says.
 */
import { pack, unpack } from 'msgpackr';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EngramClient } from '../../../drivers/zmq/client.js';
import { ZmqDriver } from '../../../drivers/zmq/driver.js';
import { Decoded, protocolVersion, rejectReasons } from '../../../drivers/zmq/protocol.js';
import { systemClock } from '../../../runtime/clock.js';
import { type ChannelSpec, createFrame, Status } from '../../../runtime/contracts.js';
import { closeTracked, endpointsFor, sleep, track, waitFor } from './helpers.js';

const channels: ChannelSpec[] = [
  { name: 'a', size: 4, maxAgeMs: 0 },
  { name: 'b', size: 3, maxAgeMs: 0 },
];
const session = 4242;
const seed = Number(process.env.ENGRAM_FUZZ_SEED ?? 20261121);
const messages = Number(process.env.ENGRAM_FUZZ_MESSAGES ?? 120_000);

/** mulberry32: a small seeded generator, so a failure can be replayed with ENGRAM_FUZZ_SEED. */
function rng(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(seed);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

function floats(n: number): Buffer {
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (random() - 0.5) * 10;
  return Buffer.from(values.buffer);
}

let seq = 1;
function validFrame(): Record<string, unknown> {
  const message: Record<string, unknown> = {
    v: protocolVersion,
    type: 'frame',
    session,
    seq: seq++,
    stamp: Date.now() * 1e6,
    channels: random() < 0.7 ? { a: floats(4), b: floats(3) } : random() < 0.5 ? { a: floats(4) } : { b: floats(3) },
  };
  if (random() < 0.5) message.reward = random();
  if (random() < 0.2) message.estop = random() < 0.5;
  if (random() < 0.2) message.episodeStart = true;
  if (random() < 0.1) (message.channels as Record<string, unknown>).a = Array.from(new Float32Array(floats(4).buffer));
  return message;
}

const weirdValues: unknown[] = [
  null,
  true,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1e300,
  'x',
  '',
  [],
  {},
  [1, 2, 3],
  Buffer.alloc(0),
  Buffer.alloc(12),
  Buffer.alloc(16, 0xff),
  new Float32Array([Number.NaN, 0, 0, 0]),
  JSON.parse('{"__proto__": {"a": 1}}'),
  2 ** 60,
  -(2 ** 40),
];

/** A structurally plausible message with one field broken. */
function semanticMutation(): Record<string, unknown> {
  const message = validFrame();
  const kind = int(10);
  if (kind === 0) message.v = pick([0, 2, '1', null, 1.5]);
  else if (kind === 1) message.type = pick(['frames', 'action', 'welcome', 'hello', 7, '']);
  else if (kind === 2)
    message[pick(['session', 'seq', 'stamp', 'reward', 'estop', 'episodeStart'])] = pick(weirdValues);
  else if (kind === 3) message.channels = pick(weirdValues);
  else if (kind === 4) {
    // a Map packs as a msgpack map with any keys, including ones that mean something to JS objects
    const map = new Map(Object.entries(message.channels as object));
    map.set(pick(['a', 'b', 'c', '__proto__', 'constructor', 'hasOwnProperty']), pick(weirdValues));
    message.channels = map;
  } else if (kind === 5) {
    const nan = new Float32Array(4).fill(1);
    nan[int(4)] = pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    (message.channels as Record<string, unknown>).a = Buffer.from(nan.buffer);
  } else if (kind === 6)
    message.seq = Math.max(0, seq - 2 - int(5)); // replayed or reordered
  else if (kind === 7) message.session = session + 1 + int(100);
  else if (kind === 8) (message.channels as Record<string, unknown>).b = floats(pick([0, 1, 2, 4, 100]));
  else delete message[pick(['v', 'type', 'session', 'seq', 'stamp', 'channels'])];
  return message;
}

/** A hello with one thing wrong (or, now and then, nothing: a valid hello of another session). */
function helloMutation(): Record<string, unknown> {
  const hello: Record<string, unknown> = {
    v: protocolVersion,
    type: 'hello',
    session: session + 1 + int(10),
    client: 'fuzz',
    channels: channels.map(({ name, size }) => ({ name, size })),
    actionSize: 2,
  };
  const kind = int(7);
  if (kind === 0) hello.channels = [{ name: 'a', size: 4 }];
  else if (kind === 1) hello.channels = [...channels.map(({ name, size }) => ({ name, size: size + 1 }))];
  else if (kind === 2) hello.actionSize = pick([0, 3, -1, 'two', 1.5]);
  else if (kind === 3) hello.channels = pick(weirdValues);
  else if (kind === 4) hello[pick(['session', 'client', 'actionSize', 'channels'])] = pick(weirdValues);
  else if (kind === 5)
    hello.channels = [
      { name: 'a', size: 4 },
      { name: 'a', size: 4 },
      { name: 'b', size: 3 },
    ];
  return hello;
}

function byteMutation(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const kind = int(5);
  if (kind === 0) {
    for (let k = 1 + int(4); k > 0; k--) copy[int(copy.length)] = int(256);
    return copy;
  }
  if (kind === 1) return copy.subarray(0, int(copy.length));
  if (kind === 2) return Buffer.concat([copy, Buffer.from([int(256), int(256)])]);
  if (kind === 3) {
    // splice a msgpack header that declares a huge container or string
    const header = pick([
      [0xdd, 0xff, 0xff, 0xff, 0xff],
      [0xdf, 0x7f, 0xff, 0xff, 0xff],
      [0xdb, 0xff, 0xff, 0xff, 0xf0],
      [0xc6, 0xff, 0xff, 0xff, 0xff],
      [0xc1],
      [0xd4, 0xff, 0x00],
    ]);
    const at = int(copy.length);
    return Buffer.concat([copy.subarray(0, at), Buffer.from(header), copy.subarray(at)]);
  }
  return copy.subarray(int(copy.length));
}

function randomBytes(): Buffer {
  const out = Buffer.alloc(int(64));
  for (let i = 0; i < out.length; i++) out[i] = int(256);
  return out;
}

function deepNesting(): Buffer {
  const depth = 1000 + int(100_000);
  const out = Buffer.alloc(depth + 1, 0x91); // fixarray of one element, nested
  out[depth] = 0x01;
  return out;
}

function nextMessage(): { bytes: Buffer; kind: string } {
  const roll = random();
  if (roll < 0.3) return { bytes: pack(validFrame()), kind: 'valid' };
  if (roll < 0.6) return { bytes: pack(semanticMutation()), kind: 'semantic' };
  if (roll < 0.85) return { bytes: byteMutation(pack(validFrame())), kind: 'bytes' };
  if (roll < 0.9) return { bytes: random() < 0.5 ? pack(helloMutation()) : byteMutation(helloBytes()), kind: 'hello' };
  if (roll < 0.98) return { bytes: randomBytes(), kind: 'random' };
  if (roll < 0.99) return { bytes: Buffer.alloc(5000 + int(5000), 0x90), kind: 'oversized' };
  return { bytes: deepNesting(), kind: 'nesting' };
}

/** What an independent decode says the accepted frame's channels are. */
function expectedChannels(bytes: Buffer): Record<string, number[]> {
  const message = unpack(bytes) as { channels: Record<string, unknown> };
  const out: Record<string, number[]> = {};
  for (const [name, value] of Object.entries(message.channels)) {
    out[name] = Buffer.isBuffer(value)
      ? Array.from(new Float32Array(Uint8Array.from(value).buffer))
      : Array.from(Float32Array.from(value as number[]));
  }
  return out;
}

function helloBytes(): Buffer {
  return pack({
    v: protocolVersion,
    type: 'hello',
    session,
    client: 'fuzz',
    channels: channels.map(({ name, size }) => ({ name, size })),
    actionSize: 2,
  });
}

test(`${messages} random and mutated messages: no crash, each accepted or rejected with a reason`, () => {
  const driver = new ZmqDriver({
    config: { frames: 'ipc:///unused-f', actions: 'ipc:///unused-a', maxMessageBytes: 4096 },
    channels,
    actionSize: 2,
    clock: systemClock,
  });
  assert.is(driver.ingest(helloBytes()), Decoded.hello);
  const frame = createFrame(7);
  const before = new Float32Array(7);
  const reasons = new Map<string, number>();
  const kinds = new Map<string, { accepted: number; rejected: number }>();
  let accepted = 0;
  let hellos = 0;
  for (let i = 0; i < messages; i++) {
    const { bytes, kind } = nextMessage();
    before.set(frame.observation);
    const result = driver.ingest(bytes);
    const tally = kinds.get(kind) ?? { accepted: 0, rejected: 0 };
    kinds.set(kind, tally);
    if (result === Decoded.frame) {
      accepted++;
      tally.accepted++;
      const polled = driver.poll(frame);
      // stale: a channel has not arrived yet since the session (re)started; still copied
      assert.ok(polled === Status.ok || polled === Status.stale, 'an accepted frame is pollable');
      // a byte flip can make a valid frame with a far larger seq; the generator continues after it
      seq = Math.max(seq, frame.seq + 1);
      const expected = expectedChannels(bytes);
      for (const [name, values] of Object.entries(expected)) {
        const offset = name === 'a' ? 0 : 4;
        for (let k = 0; k < values.length; k++) {
          if (frame.observation[offset + k] !== values[k]) {
            assert.unreachable(
              `message ${i} (${kind}): channel ${name}[${k}] ${frame.observation[offset + k]} != ${values[k]}`,
            );
          }
        }
      }
      for (let k = 0; k < 7; k++) assert.ok(Number.isFinite(frame.observation[k]!), 'accepted values are finite');
    } else if (result === Decoded.hello) {
      hellos++;
      tally.accepted++;
      // another session took over (as a restarted robot would): the generator's own session
      // greets again, which clears the slot, and the frame sequence starts over
      assert.is(driver.ingest(helloBytes()), Decoded.hello);
      seq = 1;
      assert.is(driver.poll(frame), Status.noInput, 'a new session starts with an empty slot');
    } else {
      tally.rejected++;
      const reason = rejectReasons[result];
      assert.ok(reason !== undefined, `message ${i} (${kind}) got result ${result}, neither accepted nor a reason`);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      assert.is(driver.poll(frame), Status.noInput, `message ${i} (${kind}) rejected (${reason}) but was applied`);
      for (let k = 0; k < 7; k++) {
        if (frame.observation[k] !== before[k]) assert.unreachable(`rejected message ${i} changed the frame`);
      }
    }
  }
  const counters = driver.counters();
  assert.is(counters.framesReceived, accepted);
  assert.is(counters.framesRejected, messages - accepted - hellos);
  // every kind of damage was exercised, and every reason below was seen at least once
  assert.ok((reasons.get('helloMismatch') ?? 0) > 0, 'hello mismatches were exercised');
  for (const reason of [
    'oversized',
    'malformed',
    'notAMessage',
    'version',
    'unknownType',
    'badField',
    'noHandshake',
    'outOfOrder',
    'unknownChannel',
    'wrongSize',
    'nonFinite',
  ]) {
    assert.ok((reasons.get(reason) ?? 0) > 0, `reason ${reason} was exercised`);
  }
  assert.ok((kinds.get('valid')?.accepted ?? 0) > messages * 0.25, 'valid frames are accepted');
  console.log(
    `seed ${seed}: ${accepted} frames accepted; rejected by reason ${JSON.stringify(Object.fromEntries(reasons))}`,
  );
});

test('the receive loop survives garbage over a real ipc socket and still accepts frames', async () => {
  const driver = new ZmqDriver({
    config: { ...endpointsFor('ipc'), maxMessageBytes: 4096 },
    channels,
    actionSize: 2,
    clock: systemClock,
  });
  track(driver);
  await driver.start();
  const client = track(
    new EngramClient({
      ...driver.boundEndpoints(),
      channels: channels.map(({ name, size }) => ({ name, size })),
      actionSize: 2,
    }),
  );
  await client.connect();
  const garbage = 5000;
  for (let i = 0; i < garbage; i++) {
    const bytes = nextMessage().bytes;
    // the client never blocks; when ZeroMQ's queue is full, wait for the receive loop to drain it
    while (
      !(await client.sendRaw(bytes).then(
        () => true,
        () => false,
      ))
    )
      await sleep(1);
  }
  await client.sendRaw(pack([1, 2, 3]));
  await waitFor(() => driver.counters().rejectedByReason.notAMessage! >= 1, 'the last garbage message');
  // The garbage held valid hellos of other sessions, which took over (as a restarted robot would);
  // the client is told (noHandshake), greets again and is heard.
  const frame = createFrame(7);
  const deadline = Date.now() + 5000;
  let polled: number = Status.noInput;
  while (polled !== Status.ok && Date.now() < deadline) {
    client.sendFrame({ a: [1, 2, 3, 4], b: [5, 6, 7] });
    await client.nextAction(20); // reads a noHandshake reject, if any, which arms the re-hello
    polled = driver.poll(frame);
  }
  assert.is(polled, Status.ok, 'a good frame is accepted after the garbage');
  assert.is(driver.activeSession(), client.session);
  assert.equal(Array.from(frame.observation), [1, 2, 3, 4, 5, 6, 7]);
});

test.after.each(closeTracked);

test.run();
