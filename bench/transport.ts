/**
 * `engram bench transport`: what the ZeroMQ transport adds to a cycle.
 *
 * 1. Decode throughput: frames/s that the driver's ingest (msgpackr decode, validation, copy into
 *    the latest slot) sustains, for a 64-float and a 256-float (~1 KB) frame, with GC counts.
 * 2. Frame-to-action latency: a robot-side probe (drivers/zmq/probe.ts) in a separate process sends
 *    a frame per period and times the answering action. engram's side answers each frame as it
 *    lands (driver input listener -> poll -> brain.step -> publish, then brain.maintain in the slack):
 *    the event-driven loop lock-step simulation uses. It drives poll/step/publish directly, not
 *    runtime/loop, so the figures are the transport plus the brain, without the tick's wake-up
 *    latency (bench loop measures that). Over ipc and tcp loopback, at 100 Hz and 500 Hz, with the
 *    brain learning (HNSW, memory filled to N = 1e5 first, storing and evicting every step).
 *    The brain step's own p99 is measured in the same runs: target p99(frame-to-action) <=
 *    p99(step) + 200 µs.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { Publisher, Pull } from 'zeromq';
import type { Brain } from '../brain/brain.js';
import { brainConfig } from '../brain/config.js';
import { createBrain } from '../brain/create.js';
import { SinglePathIndex } from '../brain/linear-index.js';
import type { VectorSource } from '../brain/memory/store.js';
import { hnswFactory } from '../brain/similarity/hnsw.js';
import { nodeScript } from '../drivers/driver-script.js';
import { EngramClient } from '../drivers/zmq/client.js';
import { ZmqDriver } from '../drivers/zmq/driver.js';
import type { ProbeResult } from '../drivers/zmq/probe.js';
import { createPackr, protocolVersion } from '../drivers/zmq/protocol.js';
import { numberFlag, parseCommandArgs, printJsonLast, type Subcommand, UsageError } from '../runtime/cli/args.js';
import { systemClock } from '../runtime/clock.js';
import {
  type ChannelSpec,
  createAction,
  createFrame,
  type Frame,
  LookupPath,
  Status,
  type StepTimings,
} from '../runtime/contracts.js';
import {
  type CpuLatencyHold,
  holdCpuLatency,
  loopThreads,
  readCpuLatency,
  setRealtimeScheduling,
} from '../runtime/scheduling.js';
import { python, pythonZmqMissing } from './lib/python.js';
import { describeMachine, machineLine, repoRoot, table, updateBenchmarksDoc, us, writeResult } from './lib/report.js';
import { type Distribution, distribution, GcCounter, median, nowNs } from './lib/stats.js';
import { realtimePermitted } from './timing.js';

const help = `usage: engram bench transport [options]

Frame-to-action latency over ZeroMQ (ipc and tcp loopback, 100 and 500 Hz) with the brain learning,
and the driver's decode throughput.

options:
  --n N              brain memory size before measuring (default 1e5)
  --controller LIST  brain,trivial (default both, side by side in one run; trivial: action = first
                     observation values, no learning: the transport on its own)
  --probe LIST       node,python (default both): the robot-side process that sends frames and
                     times actions. python is bench/zmq_probe.py with examples/python's client
                     (/usr/bin/python3 with python3-zmq and python3-msgpack; skipped, saying why,
                     when missing): a blocking client, as most robots are, and the libzmq floor
                     with no Node in it
  --transports LIST  ipc,tcp (default both)
  --rates LIST       Hz, comma separated (default 100,500)
  --seconds S        measured seconds per run (default 4)
  --repeats R        runs per transport and rate; p99 is the median over runs (default 3)
  --obs D            observation size (one channel 'state'; default 64)
  --actions A        action size (default 4)
  --scheduling LIST  normal,fifo (default normal): fifo runs each latency run under SCHED_FIFO 50,
                     as a robot would: engram's main thread (as timing.realtimePriority does in
                     engram run) and the whole probe and echo processes (chrt -f 50); both: the
                     runs interleaved, side by side
  --cpu-latency M    on (default where permitted): hold CPU wake-up latency at 0 µs during the
                     latency runs, floors included (/dev/cpu_dma_latency, as timing.cpuLatencyUs: 0
                     does in engram run); off: leave the machine's power management alone
  --no-doc           do not update docs/benchmarks.md
  --json             print one JSON object as the last line of stdout
  -h, --help         this text`;

const options = {
  n: { type: 'string' },
  controller: { type: 'string' },
  probe: { type: 'string' },
  transports: { type: 'string' },
  rates: { type: 'string' },
  seconds: { type: 'string' },
  repeats: { type: 'string' },
  obs: { type: 'string' },
  actions: { type: 'string' },
  'cpu-latency': { type: 'string' },
  scheduling: { type: 'string' },
  'no-doc': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const log = (line: string) => process.stderr.write(`${line}\n`);
const quiet = { info() {}, warn() {}, error() {} };

interface DecodeResult {
  floats: number;
  messageBytes: number;
  framesPerSecond: number;
  nsPerFrame: number;
  gcPer100k: number;
}

/** Ingest throughput: pre-encoded frames through driver.ingest (no sockets), median of 5 runs. */
async function measureDecode(floats: number): Promise<DecodeResult> {
  const channels: ChannelSpec[] = [{ name: 'state', size: floats, maxAgeMs: 0 }];
  const driver = new ZmqDriver({
    config: { frames: 'ipc:///unused-f', actions: 'ipc:///unused-a', maxMessageBytes: 1 << 20 },
    channels,
    actionSize: 1,
    clock: systemClock,
  });
  const packr = createPackr();
  const perPass = 10_000;
  const values = new Float32Array(floats);
  // Two sessions, alternating per pass: each pass's hello switches session, which restarts seq.
  const sets: Buffer[][] = [[], []];
  const hellos: Buffer[] = [];
  for (let session = 0; session < 2; session++) {
    hellos.push(
      Buffer.from(
        packr.pack({
          v: protocolVersion,
          type: 'hello',
          session,
          channels: [{ name: 'state', size: floats }],
          actionSize: 1,
        }),
      ),
    );
    for (let seq = 0; seq < perPass; seq++) {
      for (let i = 0; i < floats; i++) values[i] = Math.sin(seq * 0.01 + i);
      const message = packr.pack({
        v: protocolVersion,
        type: 'frame',
        session,
        seq,
        stamp: seq * 1e6,
        channels: { state: Buffer.from(values.buffer.slice(0)) },
        reward: 0.5,
      });
      sets[session]!.push(Buffer.from(message)); // own copy: msgpackr hands out views of a shared block
    }
  }
  const frame = createFrame(floats);
  const pass = (session: number) => {
    driver.ingest(hellos[session]!);
    const set = sets[session]!;
    for (let m = 0; m < perPass; m++) {
      driver.ingest(set[m]!);
      driver.poll(frame);
    }
  };
  const passes = 10;
  const runs = 5;
  pass(0);
  pass(1); // warm-up
  const rates: number[] = [];
  let gcTotal = 0;
  for (let run = 0; run < runs; run++) {
    const gc = new GcCounter().start();
    const t0 = nowNs();
    for (let p = 0; p < passes; p++) pass(p % 2);
    const elapsed = nowNs() - t0;
    gcTotal += (await gc.stop()).total;
    rates.push((passes * perPass) / (elapsed / 1e9));
  }
  const counters = driver.counters();
  if (counters.framesRejected !== 0 || counters.framesReceived !== (runs * passes + 2) * perPass) {
    throw new Error(`decode benchmark: ${counters.framesRejected} frames rejected; the benchmark is broken`);
  }
  const framesPerSecond = median(rates);
  return {
    floats,
    messageBytes: sets[0]![0]!.length,
    framesPerSecond,
    nsPerFrame: 1e9 / framesPerSecond,
    gcPer100k: (gcTotal / (runs * passes * perPass)) * 1e5,
  };
}

interface CyclePathResult {
  actionSize: number;
  publishNsP50: number;
  publishNsP99: number;
  pollNsP50: number;
  gcPer100kPublish: number;
  gcPer100kPoll: number;
}

/**
 * The per-cycle calls on their own: publish (encode into the preallocated message, msgpackr's
 * output buffer, ZeroMQ send) and poll without new input, on a started driver with a subscriber.
 */
async function measureCyclePath(actionSize: number, obs: number): Promise<CyclePathResult> {
  const driver = new ZmqDriver({
    config: { frames: 'tcp://127.0.0.1:*', actions: 'tcp://127.0.0.1:*', maxMessageBytes: 1 << 20 },
    channels: [{ name: 'state', size: obs, maxAgeMs: 0 }],
    actionSize,
    clock: systemClock,
  });
  await driver.start();
  const client = new EngramClient({ ...driver.boundEndpoints(), channels: [{ name: 'state', size: obs }], actionSize });
  await client.connect();
  const action = createAction(actionSize);
  const frame = createFrame(obs);
  const calls = 100_000;
  const publishNs = new Float64Array(calls);
  const pollNs = new Float64Array(calls);
  // in chunks, yielding between them so ZeroMQ's queue drains and the subscriber reads
  const chunk = 1000;
  const gcPublish = new GcCounter().start();
  for (let i = 0; i < calls; i++) {
    action.cycle = i;
    action.values[0] = i;
    const t0 = nowNs();
    driver.publish(action);
    publishNs[i] = nowNs() - t0;
    if (i % chunk === chunk - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  const publishGc = await gcPublish.stop();
  const gcPoll = new GcCounter().start();
  for (let i = 0; i < calls; i++) {
    const t0 = nowNs();
    driver.poll(frame);
    pollNs[i] = nowNs() - t0;
  }
  const pollGc = await gcPoll.stop();
  client.close();
  await driver.stop();
  const publish = distribution(publishNs);
  return {
    actionSize,
    publishNsP50: publish.p50,
    publishNsP99: publish.p99,
    pollNsP50: distribution(pollNs).p50,
    gcPer100kPublish: (publishGc.total / calls) * 1e5,
    gcPer100kPoll: (pollGc.total / calls) * 1e5,
  };
}

/** What the benchmark drives: the Brain, or a trivial stand-in (labelled as such in the results). */
interface Answerer {
  readonly label: string;
  step(frame: Frame, deadlineNs: number, out: Float32Array, timings: StepTimings): number;
  maintain(untilNs: number): void;
}

function trivialController(actionSize: number): Answerer {
  return {
    label: 'trivial (action = first observation values; no learning)',
    step(frame, _deadline, out) {
      for (let i = 0; i < actionSize; i++) out[i] = frame.observation[i % frame.observation.length]!;
      return Status.ok;
    },
    maintain() {},
  };
}

/** A learning brain with HNSW memory filled to `n` experiences through its own step + maintain. */
async function learningBrain(n: number, obs: number, actionSize: number): Promise<Answerer> {
  const config = brainConfig({
    seed: 1,
    memory: { capacity: n, maxMiB: 1e6, evictionsPerCycle: 1 },
    similarity: { k: 16 },
    planner: { candidates: 32 },
    normaliser: { warmupSteps: 1000 },
  });
  const brain: Brain = await createBrain(config, {
    observationSize: obs,
    actionSize,
    clock: systemClock,
    log: quiet,
    freeMemoryBytes: () => Number.POSITIVE_INFINITY,
    index: async (source: VectorSource) => {
      const { M, efConstruction, efSearch } = config.similarity.hnsw;
      const created = await hnswFactory({ M, efConstruction, efSearch, seed: 1 }).create(source);
      if (created instanceof Error) throw created;
      return new SinglePathIndex(created);
    },
  });
  const frame = createFrame(obs);
  const out = new Float32Array(actionSize);
  const timings: StepTimings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
  brain.setEffort({ candidates: 1, horizon: 1, ef: config.similarity.hnsw.efSearch });
  const started = nowNs();
  let lastReport = started;
  // The same smooth signal family the probe sends, nudged by the brain's own actions.
  for (let k = 0; brain.size() < n; k++) {
    const t = k * 0.01;
    for (let i = 0; i < obs; i++)
      frame.observation[i] = Math.sin(t * (0.5 + (i % 7) * 0.3) + i + 0.1 * out[i % actionSize]!);
    frame.reward = Math.cos(t);
    frame.episodeStart = k % 1000 === 0;
    frame.seq = k;
    brain.step(frame, Number.POSITIVE_INFINITY, out, timings);
    brain.maintain(Number.POSITIVE_INFINITY);
    if (nowNs() - lastReport > 10e9) {
      lastReport = nowNs();
      log(`  filling the brain: ${brain.size()} of ${n}`);
    }
  }
  log(`  brain filled to N=${brain.size()} in ${((nowNs() - started) / 1e9).toFixed(1)} s`);
  brain.setEffort({ candidates: 32, horizon: config.planner.horizon, ef: config.similarity.hnsw.efSearch });
  return {
    label: `Brain (HNSW, N=${n}, 32 candidates, learning: stores and evicts every step)`,
    step: (f, deadline, o, tm) => brain.step(f, deadline, o, tm),
    maintain: (until) => brain.maintain(until),
  };
}

/** The robot-side process that sends frames and times the answers. */
type ProbeKind = 'node' | 'python';
const probeKinds: readonly ProbeKind[] = ['node', 'python'];

/** How a latency run is scheduled: normal, or SCHED_FIFO for engram's main thread and the robot side. */
type Scheduling = 'normal' | 'fifo';
const schedulings: readonly Scheduling[] = ['normal', 'fifo'];
/** the FIFO priority of a `fifo` run (configs/zmq_robot.yaml's timing.realtimePriority) */
const FIFO_PRIORITY = 50;

const nodeProbe = nodeScript(import.meta.url, '../drivers/zmq/probe');
const pythonProbe = join(repoRoot, 'bench', 'zmq_probe.py');

function spawnProbeKind(kind: ProbeKind, args: string[], scheduling: Scheduling) {
  const [command, commandArgs] =
    kind === 'python'
      ? [python, [pythonProbe, ...args]]
      : [process.execPath, [...nodeProbe.nodeArgs, nodeProbe.path, ...args]];
  const [launcher, launcherArgs] =
    scheduling === 'fifo' ? ['chrt', ['-f', String(FIFO_PRIORITY), command, ...commandArgs]] : [command, commandArgs];
  return spawn(launcher, launcherArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `run` with this process's main thread under SCHED_FIFO when `scheduling` says so. */
async function scheduled<T>(scheduling: Scheduling, run: () => Promise<T>): Promise<T> {
  if (scheduling === 'normal') return run();
  if (!setRealtimeScheduling(FIFO_PRIORITY, loopThreads())) throw new Error('SCHED_FIFO refused (chrt -f failed)');
  try {
    return await run();
  } finally {
    setRealtimeScheduling(0, loopThreads());
  }
}

function runProbeProcess(kind: ProbeKind, args: string[], scheduling: Scheduling): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawnProbeKind(kind, args, scheduling);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`${kind} probe exited ${code}: ${stderr}${stdout}`));
      else resolve(JSON.parse(last) as ProbeResult);
    });
  });
}

interface LatencyRun {
  frameToAction: Distribution;
  /** poll + brain.step (+ publish) inside engram, for the same frames */
  step: Distribution;
  /** per frame: frame-to-action minus engram's poll-to-publish time (the transport's own share) */
  overhead: Distribution;
  missing: number;
  stale: number;
}

function endpointsFor(transport: 'ipc' | 'tcp', name: string): { frames: string; actions: string } {
  return transport === 'tcp'
    ? { frames: 'tcp://127.0.0.1:*', actions: 'tcp://127.0.0.1:*' }
    : {
        frames: `ipc:///tmp/engram-bench-${name}-${process.pid}-f`,
        actions: `ipc:///tmp/engram-bench-${name}-${process.pid}-a`,
      };
}

/** A bare echo (PULL -> PUB, every message sent straight back, no decoding) in this process. */
async function nodeEcho(transport: 'ipc' | 'tcp') {
  const pull = new Pull({ linger: 0 });
  const pub = new Publisher({ linger: 0, sendTimeout: 0 });
  const endpoints = endpointsFor(transport, 'echo');
  await pull.bind(endpoints.frames);
  await pub.bind(endpoints.actions);
  const echoing = (async () => {
    try {
      for await (const [message] of pull) {
        try {
          pub.send(message!).catch(() => undefined);
        } catch {
          // dropped, as the driver would
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    endpoints: { frames: pull.lastEndpoint!, actions: pub.lastEndpoint! },
    async close() {
      pull.close();
      pub.close();
      await echoing;
    },
  };
}

/** The same echo in a Python process (bench/zmq_probe.py --echo): with a Python probe, no Node at all. */
async function pythonEcho(transport: 'ipc' | 'tcp', scheduling: Scheduling) {
  const wanted = endpointsFor(transport, 'pyecho');
  const child = spawnProbeKind(
    'python',
    ['--echo', '--frames', wanted.frames, '--actions', wanted.actions],
    scheduling,
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const endpoints = await new Promise<{ frames: string; actions: string }>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0]!;
      if (stdout.includes('\n')) resolve(JSON.parse(line) as { frames: string; actions: string });
    });
    child.on('close', (code) => reject(new Error(`python echo exited ${code}: ${stderr}`)));
  });
  return {
    endpoints,
    async close() {
      child.kill(); // the Python probe already sent 'quit'; this ends it after a Node probe too
      await closed;
    },
  };
}

/**
 * The ZeroMQ floor in the same run: a probe against a bare echo, with messages of the frame's
 * size. The echo runs in Node (this process) or in Python.
 */
async function measureRawEcho(
  transport: 'ipc' | 'tcp',
  rateHz: number,
  seconds: number,
  messageBytes: number,
  server: ProbeKind,
  probe: ProbeKind,
  scheduling: Scheduling,
): Promise<LatencyRun> {
  const echo = server === 'node' ? await nodeEcho(transport) : await pythonEcho(transport, scheduling);
  let result: ProbeResult;
  try {
    const args = [
      ...['--frames', echo.endpoints.frames, '--actions', echo.endpoints.actions, '--channel', 'raw:1'],
      ...['--action-size', '1', '--rate', String(rateHz), '--count', String(Math.round(rateHz * seconds))],
      ...['--warmup', '200', '--timeout-ms', '500', '--raw', String(messageBytes)],
    ];
    result = await scheduled(scheduling, () => runProbeProcess(probe, args, scheduling));
  } finally {
    await echo.close();
  }
  const none = distribution([0]);
  const latencies = distribution(result.latenciesNs);
  return { frameToAction: latencies, step: none, overhead: latencies, missing: result.missing, stale: 0 };
}

async function measureLatency(
  transport: 'ipc' | 'tcp',
  rateHz: number,
  seconds: number,
  answerer: Answerer,
  obs: number,
  actionSize: number,
  probe: ProbeKind,
  scheduling: Scheduling,
): Promise<LatencyRun> {
  const endpoints = endpointsFor(transport, 'driver');
  const driver = new ZmqDriver({
    config: { ...endpoints, maxMessageBytes: 1 << 20 },
    channels: [{ name: 'state', size: obs, maxAgeMs: 0 }],
    actionSize,
    clock: systemClock,
  });
  await driver.start();
  const frame = createFrame(obs);
  const action = createAction(actionSize);
  const timings: StepTimings = { encodeNs: 0, lookupNs: 0, activationNs: 0, planNs: 0, lookupPath: LookupPath.none };
  const periodNs = 1e9 / rateHz;
  const warmup = 200;
  const count = Math.round(rateHz * seconds);
  // engram-side time per frame seq (the probe's session numbers frames from 0)
  const stepBySeq = new Float64Array(count + warmup + 16).fill(Number.NaN);
  let cycle = 0;
  driver.setInputListener(() => {
    const t0 = nowNs();
    if (driver.poll(frame) === Status.noInput) return;
    answerer.step(frame, t0 + periodNs / 2, action.values, timings);
    action.cycle = cycle++;
    action.frameSeq = frame.seq;
    action.stale = false;
    action.publishedNs = nowNs();
    driver.publish(action);
    const t1 = nowNs();
    if (frame.seq < stepBySeq.length) stepBySeq[frame.seq] = t1 - t0;
    answerer.maintain(t1 + periodNs / 4);
  });
  const bound = driver.boundEndpoints();
  const args = [
    ...['--frames', bound.frames, '--actions', bound.actions, '--channel', `state:${obs}`],
    ...['--action-size', String(actionSize), '--rate', String(rateHz), '--count', String(count)],
    ...['--warmup', String(warmup), '--timeout-ms', '500'],
  ];
  const result = await scheduled(scheduling, () => runProbeProcess(probe, args, scheduling));
  driver.setInputListener(undefined);
  await driver.stop();
  // pair each answered frame with engram's own time for it
  const steps: number[] = [];
  const overheads: number[] = [];
  for (let i = 0; i < result.seqs.length; i++) {
    const step = stepBySeq[result.seqs[i]!]!;
    if (Number.isNaN(step)) continue;
    steps.push(step);
    overheads.push(result.latenciesNs[i]! - step);
  }
  return {
    frameToAction: distribution(result.latenciesNs),
    step: distribution(steps),
    overhead: distribution(overheads),
    missing: result.missing,
    stale: result.stale,
  };
}

function parseList(value: string | undefined, fallback: string, flag: string): string[] {
  const list = (value ?? fallback)
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  if (list.length === 0) throw new UsageError(`--${flag} needs at least one value`);
  return list;
}

/** The bare-echo rows: the floor, not engram. */
const isFloor = (controller: string) => controller.startsWith('raw-');

interface LatencyRow {
  controller: string;
  probe: ProbeKind;
  scheduling: Scheduling;
  transport: string;
  rateHz: number;
  frameToActionP50Ns: number;
  frameToActionP99Ns: number;
  frameToActionMaxNs: number;
  stepP50Ns: number;
  stepP99Ns: number;
  /** p99(frame-to-action) - p99(step): the issue's criterion (target <= 200 µs) */
  overheadP99Ns: number;
  /** frame by frame, frame-to-action minus engram's own poll-to-publish time */
  pairedOverheadP50Ns: number;
  pairedOverheadP99Ns: number;
  p99PerRunNs: number[];
  missing: number;
  stale: number;
  meetsTarget: boolean;
}

export const command: Subcommand = {
  name: 'bench transport',
  summary: 'frame-to-action latency over ZeroMQ and decode throughput',
  help,
  async run(argv) {
    const parsed = parseCommandArgs(argv, options, help);
    if (!parsed) return 0;
    const { values } = parsed;
    const n = numberFlag(values.n, 'n', 1e5);
    const controllers = parseList(values.controller, 'brain,trivial', 'controller');
    for (const c of controllers) {
      if (c !== 'brain' && c !== 'trivial')
        throw new UsageError(`--controller expects brain and/or trivial, got '${c}'`);
    }
    const transports = parseList(values.transports, 'ipc,tcp', 'transports');
    for (const t of transports) if (t !== 'ipc' && t !== 'tcp') throw new UsageError(`unknown transport '${t}'`);
    const rates = parseList(values.rates, '100,500', 'rates').map((r) => numberFlag(r, 'rates', 100));
    const seconds = numberFlag(values.seconds, 'seconds', 4);
    const repeats = numberFlag(values.repeats, 'repeats', 3);
    const obs = numberFlag(values.obs, 'obs', 64);
    const actionSize = numberFlag(values.actions, 'actions', 4);
    const requestedProbes = parseList(values.probe, 'node,python', 'probe');
    for (const p of requestedProbes) {
      if (!probeKinds.includes(p as ProbeKind)) throw new UsageError(`--probe expects node and/or python, got '${p}'`);
    }
    let probes = requestedProbes as ProbeKind[];
    const pythonSkipped = probes.includes('python') ? pythonZmqMissing() : undefined;
    if (pythonSkipped !== undefined) {
      if (probes.length === 1) throw new Error(`--probe python cannot run: ${pythonSkipped}`);
      log(`python probe skipped: ${pythonSkipped}`);
      probes = probes.filter((p) => p !== 'python');
    }
    const chosenSchedulings = parseList(values.scheduling, 'normal', 'scheduling') as Scheduling[];
    for (const x of chosenSchedulings) {
      if (!schedulings.includes(x)) throw new UsageError(`--scheduling expects normal and/or fifo, got '${x}'`);
    }
    if (chosenSchedulings.includes('fifo') && !realtimePermitted()) {
      throw new Error('--scheduling fifo: SCHED_FIFO is not permitted here (chrt -f 50 failed)');
    }
    const cpuLatencyMode = values['cpu-latency'] ?? (readCpuLatency() instanceof Error ? 'off' : 'on');
    if (cpuLatencyMode !== 'on' && cpuLatencyMode !== 'off') throw new UsageError('--cpu-latency expects on or off');
    const loadBefore = os.loadavg()[0]!;

    log('decode throughput (driver.ingest + poll, no sockets)');
    const decode: DecodeResult[] = [];
    for (const floats of [obs, 256]) {
      const result = await measureDecode(floats);
      decode.push(result);
      log(
        `  ${floats} floats (${result.messageBytes} B): ${Math.round(result.framesPerSecond)} frames/s, ${us(result.nsPerFrame)} µs/frame, ${result.gcPer100k.toFixed(1)} GCs per 100k`,
      );
    }

    log('per-cycle calls (publish with a subscriber; poll with nothing new)');
    const cyclePath = await measureCyclePath(actionSize, obs);
    log(
      `  publish p50 ${us(cyclePath.publishNsP50)} µs, p99 ${us(cyclePath.publishNsP99)} µs, ${cyclePath.gcPer100kPublish.toFixed(1)} GCs per 100k; poll p50 ${us(cyclePath.pollNsP50)} µs, ${cyclePath.gcPer100kPoll.toFixed(1)} GCs per 100k`,
    );

    const latency: LatencyRow[] = [];
    const labels: Record<string, string> = {};
    const summarise = (
      controller: string,
      probe: ProbeKind,
      scheduling: Scheduling,
      transport: string,
      rate: number,
      runs: LatencyRun[],
    ): LatencyRow => {
      const f2aP99 = median(runs.map((x) => x.frameToAction.p99));
      const stepP99 = median(runs.map((x) => x.step.p99));
      const floor = isFloor(controller);
      const row: LatencyRow = {
        controller,
        probe,
        scheduling,
        transport,
        rateHz: rate,
        frameToActionP50Ns: median(runs.map((x) => x.frameToAction.p50)),
        frameToActionP99Ns: f2aP99,
        frameToActionMaxNs: Math.max(...runs.map((x) => x.frameToAction.max)),
        stepP50Ns: median(runs.map((x) => x.step.p50)),
        stepP99Ns: stepP99,
        overheadP99Ns: f2aP99 - stepP99,
        pairedOverheadP50Ns: median(runs.map((x) => x.overhead.p50)),
        pairedOverheadP99Ns: median(runs.map((x) => x.overhead.p99)),
        p99PerRunNs: runs.map((x) => x.frameToAction.p99),
        missing: runs.reduce((sum, x) => sum + x.missing, 0),
        stale: runs.reduce((sum, x) => sum + x.stale, 0),
        meetsTarget: !floor && f2aP99 <= stepP99 + 200_000,
      };
      log(
        `  ${probe} probe${scheduling === 'fifo' ? ' (FIFO)' : ''}, ${transport} ${rate} Hz: frame-to-action p50 ${us(row.frameToActionP50Ns)} µs, p99 ${us(row.frameToActionP99Ns)} µs, max ${us(row.frameToActionMaxNs)} µs; step p99 ${us(row.stepP99Ns)} µs; per frame f2a - step p50 ${us(row.pairedOverheadP50Ns)} µs, p99 ${us(row.pairedOverheadP99Ns)} µs; missing ${row.missing}${row.meetsTarget || floor ? '' : ' (misses the target)'}`,
      );
      return row;
    };
    /**
     * Every transport and rate, the runs of each probe and scheduling interleaved so that their
     * figures are side by side.
     */
    const measureAll = async (
      controller: string,
      withProbes: readonly ProbeKind[],
      once: (transport: 'ipc' | 'tcp', rate: number, probe: ProbeKind, scheduling: Scheduling) => Promise<LatencyRun>,
    ) => {
      for (const transport of transports as ('ipc' | 'tcp')[]) {
        for (const rate of rates) {
          const key = (scheduling: Scheduling, probe: ProbeKind) => `${scheduling} ${probe}`;
          const runs = new Map<string, LatencyRun[]>();
          for (const scheduling of chosenSchedulings) {
            for (const probe of withProbes) runs.set(key(scheduling, probe), []);
          }
          for (let r = 0; r < repeats; r++) {
            for (const scheduling of chosenSchedulings) {
              for (const probe of withProbes) {
                runs.get(key(scheduling, probe))!.push(await once(transport, rate, probe, scheduling));
              }
            }
          }
          for (const scheduling of chosenSchedulings) {
            for (const probe of withProbes) {
              latency.push(
                summarise(controller, probe, scheduling, transport, rate, runs.get(key(scheduling, probe))!),
              );
            }
          }
        }
      }
    };

    // machine-wide while held: engram, its I/O threads and the probe all wake from polling CPUs
    let cpuLatency: CpuLatencyHold | undefined;
    if (cpuLatencyMode === 'on') {
      const held = holdCpuLatency(0);
      if (held instanceof Error) throw new Error(`bench transport --cpu-latency on: ${held.message}`);
      cpuLatency = held;
      log('holding CPU wake-up latency at 0 µs for the latency runs');
    }
    try {
      const frameBytes = decode[0]!.messageBytes;
      labels['raw-node'] =
        `bare ZeroMQ echo in Node (zeromq.js PULL -> PUB, no protocol, no decoding) of ${frameBytes}-byte messages`;
      log(`frame-to-action floor: ${labels['raw-node']}`);
      await measureAll('raw-node', probes, (transport, rate, probe, scheduling) =>
        measureRawEcho(transport, rate, seconds, frameBytes, 'node', probe, scheduling),
      );
      if (probes.includes('python')) {
        labels['raw-python'] =
          `the same echo in Python (pyzmq), probed from Python: libzmq's floor on this machine, no Node anywhere`;
        log(`frame-to-action floor: ${labels['raw-python']}`);
        await measureAll('raw-python', ['python'], (transport, rate, probe, scheduling) =>
          measureRawEcho(transport, rate, seconds, frameBytes, 'python', probe, scheduling),
        );
      }
      for (const controllerName of controllers) {
        const answerer =
          controllerName === 'brain' ? await learningBrain(n, obs, actionSize) : trivialController(actionSize);
        labels[controllerName] = answerer.label;
        log(`frame-to-action with ${answerer.label}`);
        await measureAll(controllerName, probes, (transport, rate, probe, scheduling) =>
          measureLatency(transport, rate, seconds, answerer, obs, actionSize, probe, scheduling),
        );
      }
    } finally {
      cpuLatency?.release();
    }
    const loadAfter = os.loadavg()[0]!;

    const machine = describeMachine();
    const result = {
      controllers: labels,
      n: controllers.includes('brain') ? n : 0,
      observationSize: obs,
      actionSize,
      seconds,
      repeats,
      probes,
      cpuLatencyHeldUs: cpuLatency ? cpuLatency.us : null,
      schedulings: chosenSchedulings,
      ...(pythonSkipped === undefined ? {} : { pythonProbeSkipped: pythonSkipped }),
      loadAverage1m: { before: loadBefore, after: loadAfter },
      loop: 'event-driven: driver input listener -> poll -> step -> publish, then maintain (not runtime/loop)',
      decode,
      cyclePath,
      latency,
    };
    const path = writeResult('transport', result);
    if (!values['no-doc']) {
      const command = `engram bench transport ${argv.filter((a) => a !== '--json').join(' ')}`.trim();
      updateBenchmarksDoc(
        'transport',
        [
          '## Transport (ZeroMQ)',
          '',
          `\`${command}\` on ${machineLine(machine)}; 1-minute load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (other work shared the 2 cores).`,
          '',
          `Frame-to-action: a robot-side probe process sends one ${obs}-float frame per period and times the action that answers it. Probes: **node** (drivers/zmq/probe.ts, zeromq.js: an event-loop client) and **python** (bench/zmq_probe.py with examples/python/engram_client.py, pyzmq: a blocking client, as most robots are)${pythonSkipped === undefined ? '' : ` (python skipped here: ${pythonSkipped})`}. engram answers each frame as it lands (driver input listener -> poll -> step -> publish; maintain after publishing), driven directly by the benchmark, not through runtime/loop's ticks (a fixed-rate loop adds up to one period of waiting). Servers: ${Object.entries(
            labels,
          )
            .map(([k, v]) => `**${k}**: ${v}`)
            .join(
              '; ',
            )}. p50/p99 are medians over ${repeats} runs of ${seconds} s, the probes' runs interleaved; max over all runs. "step" is poll + step + publish inside engram for the same frames. The target: f2a p99 <= step p99 + 200 µs. "per-frame transport" is, frame by frame, frame-to-action minus engram's own poll-to-publish time: what ZeroMQ, decoding and both processes' wake-ups add. The **raw-** rows are the floor measured in the same run, with messages of the frame's size; **raw-python** has no Node in it at all, so it is what libzmq and this machine's wake-ups cost before engram does anything. The driver's own cost is the difference between the trivial rows and the raw-node rows. ${cpuLatency ? 'CPU wake-up latency was held at 0 µs during every latency run, floors included (`timing.cpuLatencyUs: 0`, /dev/cpu_dma_latency: idle CPUs poll instead of halting).' : "CPU wake-up latency was left to the machine's power management (`--cpu-latency off`)."}${chosenSchedulings.includes('fifo') ? ` "FIFO ${FIFO_PRIORITY}": engram's main thread under SCHED_FIFO ${FIFO_PRIORITY} during the run (as \`timing.realtimePriority\` sets it in engram run; its ZeroMQ I/O thread stays under normal scheduling) and the probe and Python echo processes whole (\`chrt -f ${FIFO_PRIORITY}\`), the runs of both schedulings interleaved; "normal": no real-time priority anywhere.` : ' No real-time priority anywhere (`--scheduling fifo` measures it).'}`,
          '',
          table(
            [
              'server',
              'probe',
              'scheduling',
              'transport',
              'rate',
              'f2a p50 µs',
              'f2a p99 µs',
              'f2a max µs',
              'step p50 / p99 µs',
              'p99 f2a − p99 step µs',
              'per-frame transport p50 / p99 µs',
              'missing',
              'target',
            ],
            latency.map((row) => [
              row.controller,
              row.probe,
              row.scheduling === 'fifo' ? `FIFO ${FIFO_PRIORITY}` : 'normal',
              row.transport,
              `${row.rateHz} Hz`,
              us(row.frameToActionP50Ns),
              us(row.frameToActionP99Ns),
              us(row.frameToActionMaxNs),
              isFloor(row.controller) ? '—' : `${us(row.stepP50Ns)} / ${us(row.stepP99Ns)}`,
              isFloor(row.controller) ? '—' : us(row.overheadP99Ns),
              `${us(row.pairedOverheadP50Ns)} / ${us(row.pairedOverheadP99Ns)}`,
              row.missing,
              isFloor(row.controller) ? '—' : row.meetsTarget ? 'met' : 'missed',
            ]),
          ),
          '',
          "Decode throughput: pre-encoded frames through the driver's ingest (msgpackr decode, validation, one memcpy per channel into the staging slot, commit) and poll, no sockets; median of 5 runs of 100k frames.",
          '',
          table(
            ['floats', 'message bytes', 'frames/s', 'µs/frame', 'GCs per 100k'],
            decode.map((d) => [
              d.floats,
              d.messageBytes,
              Math.round(d.framesPerSecond),
              us(d.nsPerFrame),
              d.gcPer100k.toFixed(1),
            ]),
          ),
          '',
          `Per-cycle calls: \`publish\` of a ${actionSize}-value action (preallocated message object; msgpackr's output buffer and ZeroMQ's send promise are the only allocations) p50 ${us(cyclePath.publishNsP50)} µs, p99 ${us(cyclePath.publishNsP99)} µs, ${cyclePath.gcPer100kPublish.toFixed(1)} GCs per 100k calls; \`poll\` with nothing new p50 ${us(cyclePath.pollNsP50)} µs, ${cyclePath.gcPer100kPoll.toFixed(1)} GCs per 100k (GCs are process-wide, so they include the receive loop's).`,
        ].join('\n'),
      );
    }
    log(`wrote ${path}`);
    if (values.json) printJsonLast({ benchmark: 'transport', machine, ...result });
    return 0;
  },
};
