/**
 * A small closed-loop world for recording and replay tests: the next observation depends on the
 * published action, so a replay that publishes anything different would see a different world.
 * Runs the real Loop and Brain under a MockClock (no waiting), cycle by cycle.
 */

import { composeLoop } from '../../runtime/cli/replay.js';
import { MockClock } from '../../runtime/clock.js';
import { loadRuntimeConfig, type RuntimeConfig } from '../../runtime/config.js';
import type { Action, CycleObserver, Driver, DriverCounters, EventLog, Frame } from '../../runtime/contracts.js';
import { Status } from '../../runtime/contracts.js';
import type { Loop } from '../../runtime/loop.js';

export interface TestConfigOverrides {
  seed?: number;
  capacity?: number;
  /** calm cycles before the effort ladder steps back up (the config's default is 200) */
  effortUpAfterCycles?: number;
}

export function testConfig(overrides: TestConfigOverrides = {}): RuntimeConfig {
  const config = loadRuntimeConfig(new URL('../../configs/pendulum_swingup.yaml', import.meta.url).pathname);
  config.brain.seed = overrides.seed ?? 1;
  config.brain.memory.capacity = overrides.capacity ?? 2000;
  if (overrides.effortUpAfterCycles !== undefined) config.budget.effort.upAfterCycles = overrides.effortUpAfterCycles;
  return config;
}

/** A damped pendulum-like world: observation (cos, sin, velocity), action torque in [-1, 1]. */
export class PendulumWorld implements Driver {
  readonly name = 'pendulum-world';
  angle = 2.5;
  velocity = 0;
  seq = 0;
  /** polls that return noInput (a sensor hiccup) and frames sent with a NaN (a glitch) */
  silentEvery = 13;
  nanEvery = 29;
  private polls = 0;
  private readonly stats: DriverCounters = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, reconnects: 0 };
  constructor(private readonly clock: MockClock) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  counters(): DriverCounters {
    return this.stats;
  }
  poll(into: Frame): typeof Status.ok | typeof Status.noInput {
    this.polls++;
    if (this.silentEvery > 0 && this.polls % this.silentEvery === 0) return Status.noInput;
    into.seq = this.seq++;
    into.receivedNs = this.clock.peek() - 200_000;
    into.sourceStampNs = into.receivedNs;
    into.episodeStart = into.seq === 0;
    into.estop = false;
    into.reward = Math.cos(this.angle);
    into.observation[0] = Math.cos(this.angle);
    into.observation[1] = this.nanEvery > 0 && this.polls % this.nanEvery === 0 ? Number.NaN : Math.sin(this.angle);
    into.observation[2] = this.velocity;
    this.stats.framesReceived++;
    return Status.ok;
  }
  publish(action: Action): void {
    this.stats.actionsPublished++;
    const torque = action.values[0]!;
    this.velocity = 0.98 * this.velocity + 0.05 * (torque - Math.sin(this.angle));
    this.angle += 0.05 * this.velocity;
  }
}

/** The clock a world run uses: starts at 1 s, each read advances 15 µs (time passes inside a step). */
export function worldClock(): MockClock {
  return new MockClock(1e9, 15_000);
}

export interface RecordedRun {
  loop: Loop;
  clock: MockClock;
  world: PendulumWorld;
}

/**
 * Runs `cycles` cycles of the real loop and brain against the world, waking each tick with a
 * deterministic jitter (and an occasional late wake that skips a tick).
 */
export async function runWorld(options: {
  config: RuntimeConfig;
  cycles: number;
  log: EventLog;
  observers?: CycleObserver[];
  snapshot?: string;
  /** the loop's clock (share it with observers: their flush compares it with the slack deadline) */
  clock?: MockClock;
  /** yield to the event loop every this many cycles (lets fsync callbacks and sockets progress) */
  yieldEvery?: number;
  /** called after each cycle's slack work (fault injection) */
  onCycle?: (index: number, run: RecordedRun) => void;
  /** the similarity index: 'linear' (default: results independent of timing) or the registry */
  index?: 'linear' | 'registry';
  /** slack after cycle i (default: the config's maintenance budget) */
  slackNs?: (index: number) => number;
}): Promise<RecordedRun> {
  const clock = options.clock ?? worldClock();
  const world = new PendulumWorld(clock);
  const loop = await composeLoop({
    config: options.config,
    clock,
    driver: world,
    log: options.log,
    ...(options.index === 'registry' ? {} : { index: 'linear' as const }),
    observers: options.observers ?? [],
    ...(options.snapshot ? { snapshot: options.snapshot } : {}),
  });
  const run: RecordedRun = { loop, clock, world };
  loop.start(clock.peek() + loop.periodNs);
  for (let i = 0; i < options.cycles; i++) {
    const jitter = ((i * 7919) % 400) * 1000 + (i % 97 === 50 ? loop.periodNs * 1.2 : 0);
    clock.set(Math.max(clock.peek(), loop.nextDueNs() + jitter));
    loop.runCycle();
    loop.runSlack(clock.peek() + (options.slackNs?.(i) ?? loop.settings.maintenanceNs));
    options.onCycle?.(i, run);
    if (options.yieldEvery && i % options.yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return run;
}
