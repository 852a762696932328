/**
 * Waiting for the next tick without starving the event loop that carries driver I/O.
 *
 * The cycle runs on the main thread, where the driver sockets live. Between cycles the main
 * thread must return to its event loop, so it cannot block in Atomics.wait. Two waiters:
 *
 * - `worker` (the default): a worker thread keeps time with Atomics.wait (sub-ms timeouts) and
 *   posts a message to the main thread `spinNs` before the tick; the main thread, woken through its
 *   event loop, spins the last stretch on the clock. The main thread is idle in epoll (I/O flows)
 *   until then; CPU cost is about spinNs per period.
 * - `timer`: setTimeout (ms granularity; libuv's cached clock fires up to ~1 ms either side) to
 *   about 1 ms + spinNs before the tick, then the same spin. Simpler, more spinning.
 *
 * bench/timing.ts measures these against the plain strategies (setTimeout alone, setImmediate
 * spin, a worker that runs the cycle itself); docs/runtime.md explains the choice.
 */
import { Worker } from 'node:worker_threads';
import type { Clock } from './contracts.js';

export interface Waiter {
  readonly name: string;
  /** how long before a tick the loop thread is woken; slack work must end by dueNs - leadNs */
  readonly leadNs: number;
  /**
   * Calls the `onDue` given at construction once the clock reaches `dueNs` (never before).
   * Returns at once; the call happens from the event loop, so I/O runs in between.
   */
  schedule(dueNs: number): void;
  close(): Promise<void>;
}

/** Spin until the clock reaches `dueNs` (process.hrtime.bigint() does not allocate in a spin). */
export function spinUntil(clock: Clock, dueNs: number): void {
  while (clock.nowNs() < dueNs) {
    // spin
  }
}

/** setTimeout to about a millisecond before the spin window, then spin. */
export class TimerWaiter implements Waiter {
  readonly name = 'timer';
  readonly leadNs: number;
  private dueNs = 0;
  private readonly fire = (): void => {
    const remaining = this.dueNs - this.clock.nowNs();
    if (remaining > this.leadNs) {
      // libuv's cached ms clock fired early: wait again rather than spin for long.
      setTimeout(this.fire, Math.floor((remaining - this.leadNs) / 1e6));
      return;
    }
    spinUntil(this.clock, this.dueNs);
    this.onDue();
  };

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
    readonly spinNs: number,
  ) {
    // setTimeout may fire up to ~1 ms late against hrtime: wake that much earlier than the spin.
    this.leadNs = spinNs + 1e6;
  }

  schedule(dueNs: number): void {
    this.dueNs = dueNs;
    const remaining = dueNs - this.clock.nowNs();
    if (remaining > this.leadNs) setTimeout(this.fire, Math.floor((remaining - this.leadNs) / 1e6));
    else setImmediate(this.fire);
  }

  async close(): Promise<void> {}
}

// Shared control block between the main thread and the timekeeper worker (Int32 slots).
const REQUEST = 0; // bumped by the main thread for every schedule()
const STOP = 1;
const SLEEP = 2; // never written: Atomics.wait on it is a sub-ms sleep
const SLOTS = 4;

/** Plain JS, evaluated in the worker (no loader needed, works from source and from dist/). */
const timekeeperSource = `
const { parentPort, workerData } = require('node:worker_threads');
const control = new Int32Array(workerData.control);
const due = new Float64Array(workerData.due);
const wakeEarlyNs = workerData.wakeEarlyNs;
let seen = 0;
for (;;) {
  Atomics.wait(control, ${REQUEST}, seen);
  if (Atomics.load(control, ${STOP}) !== 0) break;
  seen = Atomics.load(control, ${REQUEST});
  const remainingMs = (due[0] - wakeEarlyNs - Number(process.hrtime.bigint())) / 1e6;
  if (remainingMs > 0) Atomics.wait(control, ${SLEEP}, 0, remainingMs);
  if (Atomics.load(control, ${STOP}) !== 0) break;
  parentPort.postMessage(seen);
}
`;

/**
 * A worker keeps time with Atomics.wait and wakes the main thread by message `spinNs` before the
 * tick; the main thread spins the rest. Requires a clock on process.hrtime (the SystemClock).
 */
export class WorkerWaiter implements Waiter {
  readonly name = 'worker';
  readonly leadNs: number;
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly due: Float64Array;
  private dueNs = 0;
  private request = 0;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
    readonly spinNs: number,
  ) {
    this.leadNs = spinNs;
    const controlBuffer = new SharedArrayBuffer(SLOTS * 4);
    const dueBuffer = new SharedArrayBuffer(8);
    this.control = new Int32Array(controlBuffer);
    this.due = new Float64Array(dueBuffer);
    this.worker = new Worker(timekeeperSource, {
      eval: true,
      workerData: { control: controlBuffer, due: dueBuffer, wakeEarlyNs: spinNs },
    });
    this.worker.on('message', this.onMessage);
    this.worker.unref();
  }

  private readonly onMessage = (request: number): void => {
    if (request !== this.request || this.closed) return; // a superseded schedule
    spinUntil(this.clock, this.dueNs);
    this.onDue();
  };

  schedule(dueNs: number): void {
    this.dueNs = dueNs;
    this.due[0] = dueNs;
    this.request = (this.request + 1) | 0;
    Atomics.store(this.control, REQUEST, this.request);
    Atomics.notify(this.control, REQUEST);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, REQUEST);
    Atomics.notify(this.control, SLEEP);
    await this.worker.terminate();
  }
}

export type WaiterStrategy = 'worker' | 'timer';

export function createWaiter(strategy: WaiterStrategy, clock: Clock, onDue: () => void, spinNs: number): Waiter {
  return strategy === 'worker' ? new WorkerWaiter(clock, onDue, spinNs) : new TimerWaiter(clock, onDue, spinNs);
}
