/**
 * The simulator as a separate process that speaks the wire protocol exactly as a robot does
 * (drivers/driver-client.ts): it connects to engram, says hello with the channels engram's config
 * names (default: one channel 'observation'; the observation vector is split across them in order),
 * sends a frame per control step and applies the actions it gets back.
 *
 * - lockstep: deterministic and as fast as engram answers. The episode sequence is the one
 *   runtime/cli/sim/lockstep.ts plays in-process (first frame with episodeStart and reward 0; each
 *   answer steps the physics; the final frame is shown and its answer discarded), so with the same
 *   seed and brain the returns are identical.
 * - realtime: the task's control rate. Each tick applies the newest action received (held when none
 *   came; zeros before the first) and sends the next frame; late answers are counted, not waited for.
 *
 * Run: node --import tsx drivers/sim/server.ts --task pendulum_swingup --seed 1 \
 *        --frames tcp://127.0.0.1:5555 --actions tcp://127.0.0.1:5556 --mode lockstep --episodes 3
 * Prints one JSON object (SimServerSummary) as the last line of stdout.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Environment } from '../../sim/environment.js';
import { resolveTask } from '../../sim/task-module.js';
import { type ClientAction, EngramClient } from '../driver-client.js';

export type SimMode = 'lockstep' | 'realtime';

export interface SimServerOptions {
  task: string;
  seed: number;
  frames: string;
  actions: string;
  mode: SimMode;
  /** episodes to play (whole episodes) */
  episodes: number;
  /** stop after this many control steps even mid-episode (a partial episode's return is not listed) */
  maxSteps?: number;
  /** how the observation vector is split into named channels, in order (default one 'observation') */
  channels?: { name: string; size: number }[];
  /** lock-step: how long to wait for an answer before sending the frame again (ms) */
  answerTimeoutMs?: number;
}

export interface SimServerSummary {
  task: string;
  seed: number;
  mode: SimMode;
  returns: number[];
  steps: number;
  /** lock-step: frames sent again after an answer timed out (engram restarted or slow) */
  resends: number;
  /** realtime: ticks whose frame had not been answered by the next tick */
  lateAnswers: number;
  seconds: number;
}

export async function runSimServer(options: SimServerOptions): Promise<SimServerSummary> {
  const task = await resolveTask(options.task);
  const channels = options.channels ?? [{ name: 'observation', size: task.observationSize }];
  let total = 0;
  for (const channel of channels) total += channel.size;
  if (total !== task.observationSize) {
    throw new Error(
      `task '${task.name}' observes ${task.observationSize} values; the channels (${channels.map((c) => `${c.name}:${c.size}`).join(', ')}) add up to ${total}`,
    );
  }
  const env = await Environment.create(task, options.seed);
  const client = new EngramClient({
    frames: options.frames,
    actions: options.actions,
    channels,
    actionSize: task.actionSize,
    name: `sim ${task.name} seed ${options.seed}`,
  });
  const started = process.hrtime.bigint();
  try {
    await client.connect(30_000);
    const summary =
      options.mode === 'lockstep'
        ? await lockstep(env, client, options, new ObservationChannels(channels, task.observationSize))
        : await realtime(env, client, options, new ObservationChannels(channels, task.observationSize));
    return { ...summary, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    client.close();
    env.dispose();
  }
}

type Played = Omit<SimServerSummary, 'seconds'>;

/** The observation as float32, and named views of it per channel (made once, reused per frame). */
class ObservationChannels {
  readonly all: Float32Array;
  readonly byName: Record<string, Float32Array> = {};
  constructor(channels: { name: string; size: number }[], size: number) {
    this.all = new Float32Array(size);
    let offset = 0;
    for (const { name, size: channelSize } of channels) {
      this.byName[name] = this.all.subarray(offset, offset + channelSize);
      offset += channelSize;
    }
  }
}

async function lockstep(
  env: Environment,
  client: EngramClient,
  options: SimServerOptions,
  observation: ObservationChannels,
): Promise<Played> {
  const returns: number[] = [];
  let steps = 0;
  let resends = 0;
  const show = (reward: number, episodeStart: boolean) => {
    observation.all.set(env.observation);
    return client.sendFrame(observation.byName, { reward, episodeStart });
  };
  /** Sends the frame and waits for its answer, sending it again (a new seq) if none comes. */
  const answerTo = async (reward: number, episodeStart: boolean): Promise<ClientAction> => {
    for (;;) {
      const seq = show(reward, episodeStart);
      const action = await client.actionFor(seq, options.answerTimeoutMs ?? 2000);
      if (action?.frameSeq === seq) return action;
      resends++;
    }
  };
  const maxSteps = options.maxSteps ?? Number.POSITIVE_INFINITY;
  while (returns.length < options.episodes && steps < maxSteps) {
    env.reset();
    let action = await answerTo(0, true);
    while (!env.done && steps < maxSteps) {
      const reward = env.step(action.values);
      steps++;
      action = await answerTo(reward, false);
    }
    if (env.done) returns.push(env.episodeReturn);
  }
  return { task: env.task.name, seed: options.seed, mode: 'lockstep', returns, steps, resends, lateAnswers: 0 };
}

async function realtime(
  env: Environment,
  client: EngramClient,
  options: SimServerOptions,
  observation: ObservationChannels,
): Promise<Played> {
  const periodNs = env.task.controlTimestep * 1e9;
  const held = new Float32Array(env.task.actionSize);
  let lastSentSeq = -1;
  let lastAnsweredSeq = -1;
  let receiving = true;
  // Actions arrive on their own schedule; the newest one is what the next tick applies.
  const receiver = (async () => {
    while (receiving) {
      const action = await client.nextAction(50);
      if (action && action.frameSeq >= lastAnsweredSeq) {
        held.set(action.values);
        lastAnsweredSeq = action.frameSeq;
      }
    }
  })();
  const returns: number[] = [];
  let steps = 0;
  let lateAnswers = 0;
  const now = () => Number(process.hrtime.bigint());
  let next = now();
  const tick = async () => {
    next += periodNs;
    const wait = (next - now()) / 1e6;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else next = now(); // late: skip ahead, never burst
    if (lastAnsweredSeq < lastSentSeq) lateAnswers++;
  };
  const maxSteps = options.maxSteps ?? Number.POSITIVE_INFINITY;
  while (returns.length < options.episodes && steps < maxSteps) {
    env.reset();
    observation.all.set(env.observation);
    lastSentSeq = client.sendFrame(observation.byName, { reward: 0, episodeStart: true });
    while (!env.done && steps < maxSteps) {
      await tick();
      const reward = env.step(held);
      steps++;
      observation.all.set(env.observation);
      lastSentSeq = client.sendFrame(observation.byName, { reward, episodeStart: false });
    }
    if (env.done) returns.push(env.episodeReturn);
    await tick();
  }
  receiving = false;
  await receiver;
  return { task: env.task.name, seed: options.seed, mode: 'realtime', returns, steps, resends: 0, lateAnswers };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      task: { type: 'string' },
      seed: { type: 'string', default: '1' },
      frames: { type: 'string', default: 'tcp://127.0.0.1:5555' },
      actions: { type: 'string', default: 'tcp://127.0.0.1:5556' },
      mode: { type: 'string', default: 'lockstep' },
      episodes: { type: 'string', default: '1' },
      steps: { type: 'string' },
      channel: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || !values.task || (values.mode !== 'lockstep' && values.mode !== 'realtime')) {
    process.stdout.write(
      'usage: server --task NAME|FILE [--seed S] [--frames EP] [--actions EP] [--mode lockstep|realtime] [--episodes N] [--steps N] [--channel NAME:SIZE ...]\n',
    );
    return values.help ? 0 : 2;
  }
  const summary = await runSimServer({
    task: values.task,
    seed: Number(values.seed),
    frames: values.frames,
    actions: values.actions,
    mode: values.mode,
    episodes: Number(values.episodes),
    maxSteps: values.steps === undefined ? undefined : Number(values.steps),
    channels: values.channel?.map((spec) => {
      const [name, size] = spec.split(':');
      return { name: name!, size: Number(size) };
    }),
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`engram sim server: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
