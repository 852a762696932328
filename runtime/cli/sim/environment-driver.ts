/**
 * An Environment as a Driver, constructed from a loaded Environment.
 *
 * Kept for runtime/cli/run.ts, which builds its in-process sim driver with it; drivers/sim/
 * inprocess.ts (InProcessSimDriver) is the sim driver proper and what `engram sim --realtime`
 * uses. Once run.ts uses createInProcessSimDriver this file can go.
 */
import type { Environment } from '../../../sim/environment.js';
import type { Action, Clock, Driver, DriverCounters, Frame, StatusCode } from '../../contracts.js';
import { Status } from '../../contracts.js';
import type { TrainingEpisode } from './learn.js';

/**
 * The environment as a Driver: poll hands out the newest observation once; publish applies the
 * action for one control step. After an episode's last step the final frame is handed out, and
 * the action answering it starts the next episode instead (its first frame has episodeStart).
 */
export class EnvironmentDriver implements Driver {
  readonly name: string;
  readonly episodes: TrainingEpisode[] = [];
  stepsDone = 0;
  private frameReady = false;
  private episodeStart = true;
  private seq = -1;
  private readonly stats: DriverCounters = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, reconnects: 0 };

  constructor(
    readonly env: Environment,
    private readonly clock: Clock,
  ) {
    this.name = `sim:${env.task.name}`;
  }

  async start(): Promise<void> {
    this.env.reset();
    this.episodeStart = true;
    this.frameReady = true;
  }

  poll(into: Frame): StatusCode {
    if (!this.frameReady) return Status.noInput;
    const observation = this.env.observation;
    const target = into.observation;
    for (let i = 0; i < observation.length; i++) target[i] = observation[i] as number;
    const now = this.clock.nowNs();
    this.seq += 1;
    into.seq = this.seq;
    into.sourceStampNs = now;
    into.receivedNs = now;
    into.reward = this.env.lastReward;
    into.episodeStart = this.episodeStart;
    into.estop = false;
    this.frameReady = false;
    this.episodeStart = false;
    this.stats.framesReceived += 1;
    return Status.ok;
  }

  publish(action: Action): void {
    this.stats.actionsPublished += 1;
    const env = this.env;
    if (env.done) {
      this.episodes.push({ episode: this.episodes.length + 1, step: this.stepsDone, return: env.episodeReturn });
      env.reset();
      this.episodeStart = true;
    } else {
      env.step(action.values);
      this.stepsDone += 1;
    }
    this.frameReady = true;
  }

  counters(): DriverCounters {
    return this.stats;
  }

  async stop(): Promise<void> {}
}
