/**
 * A robot-side latency probe: connects like a robot, sends one frame per period (a smooth signal,
 * so a learning brain sees trajectories, not noise), waits for the action that answers it, and
 * records frame-to-action time (send to receipt, on this process's clock). `engram bench transport`
 * runs it as a separate process; it also works by hand against `engram run`:
 *
 *   node --import tsx drivers/zmq/probe.ts --frames tcp://127.0.0.1:5555 --actions tcp://127.0.0.1:5556 \
 *     --channel state:64 --action-size 4 --rate 500 --seconds 5
 *
 * Prints one JSON object (the ProbeResult) as the last line of stdout.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Push, Subscriber } from 'zeromq';
import { EngramClient } from './client.js';

export interface ProbeOptions {
  frames: string;
  actions: string;
  channels: { name: string; size: number }[];
  actionSize: number;
  rateHz: number;
  /** measured frames */
  count: number;
  /** frames sent first and not measured (JIT, connection warm-up) */
  warmup: number;
  /** how long to wait for each answer */
  timeoutMs: number;
}

export interface ProbeResult {
  sent: number;
  answered: number;
  missing: number;
  /** answers marked stale by engram */
  stale: number;
  /** frame-to-action times of the answered measured frames, ns */
  latenciesNs: number[];
  /** the seq of each of those frames (to pair with engram-side timings) */
  seqs: number[];
  rehellos: number;
}

const nowNs = () => Number(process.hrtime.bigint());
const sleepUntil = (targetNs: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, (targetNs - nowNs()) / 1e6)));

/**
 * The ZeroMQ floor, for comparison in the same run: raw messages of the same size to an echo
 * (PULL -> PUB that sends every message straight back), no protocol, no decoding. The first 4
 * bytes carry the seq.
 */
export async function runRawProbe(options: ProbeOptions & { messageBytes: number }): Promise<ProbeResult> {
  const push = new Push({ linger: 0, sendHighWaterMark: 64 });
  const sub = new Subscriber({ linger: 0 });
  sub.subscribe();
  push.connect(options.frames);
  sub.connect(options.actions);
  const message = Buffer.alloc(Math.max(4, options.messageBytes));
  const receiveSeq = async (seq: number, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      sub.receiveTimeout = Math.ceil(left);
      try {
        const [reply] = await sub.receive();
        if (reply && reply.length >= 4 && reply.readUInt32LE(0) === seq) return true;
      } catch {
        return false;
      }
    }
  };
  // the subscription joins late: ping until an echo comes back
  for (let attempt = 0; ; attempt++) {
    message.writeUInt32LE(0xffffffff - attempt, 0);
    await push.send(message);
    if (await receiveSeq(0xffffffff - attempt, 100)) break;
    if (attempt > 100) throw new Error(`no echo from ${options.frames}`);
  }
  const periodNs = 1e9 / options.rateHz;
  const latencies: number[] = [];
  const seqs: number[] = [];
  let missing = 0;
  let next = nowNs();
  const total = options.warmup + options.count;
  for (let k = 0; k < total; k++) {
    message.writeUInt32LE(k, 0);
    const sentNs = nowNs();
    await push.send(message);
    const answered = await receiveSeq(k, options.timeoutMs);
    const receivedNs = nowNs();
    if (k >= options.warmup) {
      if (answered) {
        latencies.push(receivedNs - sentNs);
        seqs.push(k);
      } else {
        missing++;
      }
    }
    next += periodNs;
    if (next > nowNs()) await sleepUntil(next);
    else next = nowNs();
  }
  push.close();
  sub.close();
  return { sent: total, answered: latencies.length, missing, stale: 0, latenciesNs: latencies, seqs, rehellos: 0 };
}

export async function runProbe(options: ProbeOptions): Promise<ProbeResult> {
  const client = new EngramClient({
    frames: options.frames,
    actions: options.actions,
    channels: options.channels,
    actionSize: options.actionSize,
    name: 'probe',
  });
  await client.connect(10_000);
  const values: Record<string, Float32Array> = {};
  for (const { name, size } of options.channels) values[name] = new Float32Array(size);
  const periodNs = 1e9 / options.rateHz;
  const latencies: number[] = [];
  const seqs: number[] = [];
  let missing = 0;
  let stale = 0;
  let next = nowNs();
  const total = options.warmup + options.count;
  for (let k = 0; k < total; k++) {
    const t = k * (periodNs / 1e9);
    for (const { name, size } of options.channels) {
      const vector = values[name]!;
      for (let i = 0; i < size; i++) vector[i] = Math.sin(t * (0.5 + (i % 7) * 0.3) + i);
    }
    const sentNs = nowNs();
    const seq = client.sendFrame(values, { reward: Math.cos(t), episodeStart: k % 1000 === 0 });
    const action = await client.actionFor(seq, options.timeoutMs);
    const receivedNs = nowNs();
    if (k >= options.warmup) {
      if (action?.frameSeq === seq) {
        latencies.push(receivedNs - sentNs);
        seqs.push(seq);
        if (action.stale) stale++;
      } else {
        missing++;
      }
    }
    next += periodNs;
    if (next > nowNs()) await sleepUntil(next);
    else next = nowNs(); // late: skip ahead rather than burst
  }
  client.close();
  return {
    sent: total,
    answered: latencies.length,
    missing,
    stale,
    latenciesNs: latencies,
    seqs,
    rehellos: client.rehellos,
  };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      frames: { type: 'string', default: 'tcp://127.0.0.1:5555' },
      actions: { type: 'string', default: 'tcp://127.0.0.1:5556' },
      channel: { type: 'string', multiple: true },
      'action-size': { type: 'string' },
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string' },
      count: { type: 'string' },
      warmup: { type: 'string', default: '200' },
      'timeout-ms': { type: 'string', default: '500' },
      raw: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || !values.channel || !values['action-size']) {
    process.stdout.write(
      'usage: probe --channel NAME:SIZE [...] --action-size N [--frames EP] [--actions EP] [--rate HZ] [--seconds S | --count N] [--warmup N] [--timeout-ms MS] [--raw BYTES: raw echo, no protocol]\n',
    );
    return values.help ? 0 : 2;
  }
  const rateHz = Number(values.rate);
  const count = values.count ? Number(values.count) : Math.round(rateHz * Number(values.seconds ?? 5));
  const probeOptions: ProbeOptions = {
    frames: values.frames,
    actions: values.actions,
    channels: values.channel.map((spec) => {
      const [name, size] = spec.split(':');
      return { name: name!, size: Number(size) };
    }),
    actionSize: Number(values['action-size']),
    rateHz,
    count,
    warmup: Number(values.warmup),
    timeoutMs: Number(values['timeout-ms']),
  };
  const result =
    values.raw === undefined
      ? await runProbe(probeOptions)
      : await runRawProbe({ ...probeOptions, messageBytes: Number(values.raw) });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`probe: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
