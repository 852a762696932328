/**
 * The simulator as a Driver, in-process: `engram run` with `driver: { kind: sim, transport:
 * inprocess }`. Physics advances when an action answering the current frame is published, so the
 * world waits for the brain (lock-step) at whatever rate the loop runs. The episode sequence is the
 * one runtime/cli/sim/lockstep.ts plays: reset and show the first frame (episodeStart, reward 0);
 * each answer steps the physics and shows the next frame with that step's reward; after the last
 * step the final frame is shown too, its answer is discarded, and the next episode begins.
 */
import type { Action, ChannelSpec, Clock, Driver, Frame, StatusCode } from '../../runtime/contracts.js';
import { Status } from '../../runtime/contracts.js';
import { Environment } from '../../sim/environment.js';
import type { TaskDefinition } from '../../sim/task.js';
import { resolveTask } from '../../sim/task-module.js';
import { channelLayout, type DetailedDriverCounters, type InputSignal } from '../driver.js';
import type { SimDriverConfig } from './config.js';

/** The channel list a sim task needs: one channel named 'observation' of the task's size. */
export function simChannels(task: Pick<TaskDefinition, 'observationSize'>): ChannelSpec[] {
  return [{ name: 'observation', size: task.observationSize, maxAgeMs: 0 }];
}

export interface InProcessSimOptions {
  config: Pick<SimDriverConfig, 'task' | 'seed'>;
  /** must add up to the task's observation size (any names; simChannels(task) is the usual one) */
  channels: readonly ChannelSpec[];
  actionSize: number;
  /** the runtime clock: frames are stamped received when polled (the safety filter's staleness) */
  clock: Clock;
}

export class InProcessSimDriver implements Driver, InputSignal {
  readonly name = 'sim';
  private env: Environment | undefined;
  private seq = -1;
  /** a frame is ready and not yet polled */
  private fresh = false;
  /** the current frame has been answered (physics stepped or episode restarted) */
  private answered = true;
  private pendingReward = 0;
  private pendingEpisodeStart = true;
  private inputListener: (() => void) | undefined;
  private readonly returns: number[] = [];
  private readonly stats = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, ignoredActions: 0 };

  constructor(private readonly options: InProcessSimOptions) {}

  async start(): Promise<void> {
    const task = await resolveTask(this.options.config.task);
    const observationSize = channelLayout(this.options.channels).observationSize;
    if (observationSize !== task.observationSize || this.options.actionSize !== task.actionSize) {
      throw new Error(
        `sim task '${task.name}' has observation ${task.observationSize} and action ${task.actionSize}; the config's channels add up to ${observationSize} and its action size is ${this.options.actionSize}`,
      );
    }
    this.env = await Environment.create(task, this.options.config.seed);
    this.beginEpisode();
  }

  setInputListener(listener: (() => void) | undefined): void {
    this.inputListener = listener;
  }

  poll(into: Frame): StatusCode {
    const env = this.env;
    if (!env || !this.fresh) return Status.noInput;
    const observation = env.observation;
    for (let i = 0; i < observation.length; i++) into.observation[i] = observation[i]!;
    into.seq = this.seq;
    const now = this.options.clock.nowNs();
    into.sourceStampNs = now;
    into.receivedNs = now;
    into.reward = this.pendingReward;
    into.episodeStart = this.pendingEpisodeStart;
    into.estop = false;
    this.fresh = false;
    this.answered = false;
    this.stats.framesReceived++;
    return Status.ok;
  }

  /** Steps the physics with an action that answers the current frame; other actions are ignored. */
  publish(action: Action): void {
    const env = this.env;
    if (!env || this.answered || action.frameSeq !== this.seq) {
      this.stats.ignoredActions++;
      return;
    }
    this.answered = true;
    this.stats.actionsPublished++;
    if (env.done) {
      // the final frame's answer is discarded: the next episode begins
      this.returns.push(env.episodeReturn);
      this.beginEpisode();
      return;
    }
    const values = action.values;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        this.stats.framesRejected++;
        values[i] = 0; // never reached through the safety filter; a bug elsewhere must not crash physics
      }
    }
    this.pendingReward = env.step(values);
    this.pendingEpisodeStart = false;
    this.showFrame();
  }

  /** Returns of the episodes finished so far. */
  episodeReturns(): readonly number[] {
    return this.returns;
  }

  counters(): DetailedDriverCounters {
    return {
      framesReceived: this.stats.framesReceived,
      framesRejected: this.stats.framesRejected,
      actionsPublished: this.stats.actionsPublished,
      reconnects: 0,
      rejectedByReason: { ignoredActions: this.stats.ignoredActions },
      staleFrames: 0,
    };
  }

  async stop(): Promise<void> {
    this.env?.dispose();
    this.env = undefined;
  }

  private beginEpisode(): void {
    this.env!.reset();
    this.pendingReward = 0;
    this.pendingEpisodeStart = true;
    this.showFrame();
  }

  private showFrame(): void {
    this.seq++;
    this.fresh = true;
    this.inputListener?.();
  }
}

export function createInProcessSimDriver(options: InProcessSimOptions): InProcessSimDriver {
  return new InProcessSimDriver(options);
}
