/**
 * `engram run` with `driver: { kind: sim, transport: zmq }`: the simulator runs as a separate
 * process (drivers/sim/server.ts) that connects to a ZeroMQ driver bound on private ipc endpoints,
 * exactly as a robot would. This Driver is that ZeroMQ driver plus the process's lifetime: start
 * binds and spawns, stop ends the process and unbinds. Frames, actions, counters: the ZeroMQ
 * driver's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Action, ChannelSpec, Clock, Driver, EventLog, Frame, StatusCode } from '../../runtime/contracts.js';
import { type DetailedDriverCounters, type InputSignal, silentEventLog } from '../driver.js';
import { ZmqDriver } from '../driver-zmq.js';
import type { SimDriverConfig } from './config.js';
import { type SimProcess, spawnSimProcess } from './process.js';
import type { SimServerSummary } from './server.js';

export interface SimZmqDriverOptions {
  config: SimDriverConfig;
  channels: readonly ChannelSpec[];
  actionSize: number;
  clock: Clock;
  log?: EventLog;
  /** episodes the sim plays before it exits (default: until stopped) */
  episodes?: number;
}

export class SimZmqDriver implements Driver, InputSignal {
  readonly name = 'sim-zmq';
  private readonly zmq: ZmqDriver;
  private readonly dir: string;
  private readonly log: EventLog;
  private process: SimProcess | undefined;
  private stopping = false;

  constructor(private readonly options: SimZmqDriverOptions) {
    this.log = options.log ?? silentEventLog;
    this.dir = mkdtempSync(join(tmpdir(), 'engram-sim-'));
    this.zmq = new ZmqDriver({
      config: { frames: `ipc://${this.dir}/frames`, actions: `ipc://${this.dir}/actions`, maxMessageBytes: 1 << 20 },
      channels: options.channels,
      actionSize: options.actionSize,
      clock: options.clock,
      log: this.log,
    });
  }

  async start(): Promise<void> {
    await this.zmq.start();
    const { config } = this.options;
    const sim = spawnSimProcess({
      task: config.task,
      seed: config.seed,
      mode: config.mode,
      episodes: this.options.episodes ?? 1e9,
      channels: this.options.channels.map(({ name, size }) => ({ name, size })),
      ...this.zmq.boundEndpoints(),
    });
    this.process = sim;
    sim.done.then(
      (summary) => this.log.info({ returns: summary.returns, steps: summary.steps }, 'sim process finished'),
      (error: Error) => {
        if (!this.stopping) this.log.error({ error: error.message }, 'sim process ended unexpectedly');
      },
    );
    this.log.info(
      { task: config.task, seed: config.seed, mode: config.mode, pid: sim.child.pid },
      'sim process started',
    );
  }

  /** The sim process's summary (episode returns) once it has finished its episodes. */
  get done(): Promise<SimServerSummary> {
    if (!this.process) return Promise.reject(new Error('sim driver not started'));
    return this.process.done;
  }

  setInputListener(listener: (() => void) | undefined): void {
    this.zmq.setInputListener(listener);
  }

  poll(into: Frame): StatusCode {
    return this.zmq.poll(into);
  }

  publish(action: Action): void {
    this.zmq.publish(action);
  }

  counters(): DetailedDriverCounters {
    return this.zmq.counters();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.process?.kill();
    await this.process?.done.catch(() => undefined);
    await this.zmq.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function createSimZmqDriver(options: SimZmqDriverOptions): SimZmqDriver {
  return new SimZmqDriver(options);
}
