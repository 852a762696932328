/**
 * The synthetic pendulum the persistence benchmarks drive the real loop with (bench snapshot,
 * bench soak): observation (cos, sin, velocity) on the system clock, a fresh frame every poll,
 * reward cos(angle). Options: episode length (a new episode from a spread start angle every
 * `episodeSteps` frames; 0 = one endless episode) and drift (gravity varying slowly with this
 * amplitude, so a learning brain keeps meeting new experiences).
 */
import { systemClock } from '../../runtime/clock.js';
import {
  type Action,
  type Driver,
  type DriverCounters,
  type Frame,
  Status,
  type StatusCode,
} from '../../runtime/contracts.js';

export interface PendulumOptions {
  /** frames per episode; 0 = a single episode (default 0) */
  episodeSteps?: number;
  /** relative gravity drift amplitude, over a period of 2π·5000 frames (default 0) */
  drift?: number;
}

export class SyntheticPendulum implements Driver {
  readonly name: string;
  private angle = 2.5;
  private velocity = 0;
  private seq = 0;
  private readonly episodeSteps: number;
  private readonly drift: number;
  private readonly stats: DriverCounters = { framesReceived: 0, framesRejected: 0, actionsPublished: 0, reconnects: 0 };

  constructor(options: PendulumOptions = {}) {
    this.episodeSteps = options.episodeSteps ?? 0;
    this.drift = options.drift ?? 0;
    this.name = this.drift > 0 ? 'drifting-pendulum' : 'pendulum';
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  counters(): DriverCounters {
    return this.stats;
  }

  poll(into: Frame): StatusCode {
    into.seq = this.seq++;
    into.receivedNs = systemClock.nowNs();
    into.sourceStampNs = into.receivedNs;
    into.episodeStart = this.episodeSteps > 0 ? this.seq % this.episodeSteps === 1 : into.seq === 0;
    if (into.episodeStart && this.episodeSteps > 0) {
      this.angle = 3 * Math.sin(this.seq);
      this.velocity = 0;
    }
    into.estop = false;
    into.reward = Math.cos(this.angle);
    into.observation[0] = Math.cos(this.angle);
    into.observation[1] = Math.sin(this.angle);
    into.observation[2] = this.velocity;
    this.stats.framesReceived++;
    return Status.ok;
  }

  publish(action: Action): void {
    const gravity = 1 + this.drift * Math.sin(this.seq / 5000);
    this.velocity = 0.98 * this.velocity + 0.05 * (action.values[0]! - gravity * Math.sin(this.angle));
    this.angle += 0.05 * this.velocity;
    this.stats.actionsPublished++;
  }
}
