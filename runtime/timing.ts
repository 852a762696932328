/**
 * Waiting for the next tick without starving the event loop that carries driver I/O.
 *
 * The cycle runs on the main thread, where the driver sockets live. Between cycles the main
 * thread must return to its event loop, so it cannot block in Atomics.wait. Two waiters:
 *
 * - `worker` (the default): a worker thread keeps time with Atomics.wait (sub-ms timeouts) and
 *   posts a message to the main thread `leadNs` before the tick (message delivery through the event
 *   loop takes ~0.1 ms here, more under load). The main thread is idle in epoll (I/O flows) until
 *   then; it finishes with a short Atomics.wait to `spinNs` before the tick and spins the rest.
 * - `native` (the default): the same, with engram's addon (native/timer) keeping time: a C++ thread
 *   sleeps with clock_nanosleep and wakes the main thread through a Node-API thread-safe function,
 *   and the main thread's finish (sleep, then spin) is native too. ~56 B per tick on the JS heap
 *   (V8's call from C++ into JS; the times go to the addon through a Float64Array, as arguments they
 *   were boxed) against ~400 B for the worker (its MessageEvent and structured clone, and
 *   Atomics.wait with a timeout). Needs the addon built (`make build`); without it the worker
 *   serves, and the log says so.
 * - `timer`: setTimeout (ms granularity; libuv's cached clock fires up to ~1 ms either side) to
 *   about 1 ms + leadNs before the tick, then the same finish. Simpler; blocks the main thread longer.
 *
 * Why the finish is Atomics.wait and only a short spin: reading process.hrtime.bigint() in a spin
 * allocates a BigInt per read (measured: ~200-460 scavenges per second of spinning on Node 20), and
 * the kernel's timer slack makes a pure wait ~50-100 µs late. A wait to ~50 µs before the tick, then
 * a spin, keeps both small.
 *
 * bench/timing.ts measures these against the plain strategies (setTimeout alone, setImmediate
 * spin, a worker that runs the cycle itself); docs/runtime.md explains the choice.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Clock } from './contracts.js';
import { loopThreads, type RealtimeThreads, WHOLE_PROCESS } from './scheduling.js';

export interface Waiter {
  readonly name: string;
  /** how long before a tick the loop thread is woken; slack work must end by dueNs - leadNs */
  readonly leadNs: number;
  /**
   * Calls the `onDue` given at construction once the clock reaches `dueNs` (never before).
   * Returns at once; the call happens from the event loop, so I/O runs in between.
   */
  schedule(dueNs: number): void;
  /** resolves once the waiter can keep time (a worker takes tens of ms to boot) */
  ready(): Promise<void>;
  /** the threads that keep the loop's time: those to run under SCHED_FIFO (runtime/scheduling.ts) */
  realtimeThreads(): RealtimeThreads;
  close(): Promise<void>;
}

/** Spin until the clock reaches `dueNs`. Each clock read allocates a BigInt: keep spins short. */
export function spinUntil(clock: Clock, dueNs: number): void {
  while (clock.nowNs() < dueNs) {
    // spin
  }
}

/** Never written: Atomics.wait on it is a sleep with sub-millisecond timeouts and no allocation. */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Block this thread until `spinNs` before `dueNs` (Atomics.wait), then spin to `dueNs`. */
export function finishWait(clock: Clock, dueNs: number, spinNs: number): void {
  const remainingMs = (dueNs - spinNs - clock.nowNs()) / 1e6;
  if (remainingMs > 0) Atomics.wait(sleepCell, 0, 0, remainingMs);
  spinUntil(clock, dueNs);
}

/** setTimeout to about a millisecond before the lead, then finishWait. */
export class TimerWaiter implements Waiter {
  readonly name = 'timer';
  /** everything happens on the main thread */
  realtimeThreads(): RealtimeThreads {
    return loopThreads();
  }
  readonly leadNs: number;
  private dueNs = 0;
  private readonly fire = (): void => {
    const remaining = this.dueNs - this.clock.nowNs();
    if (remaining > this.leadNs) {
      // libuv's cached ms clock fired early: wait again rather than block for long.
      setTimeout(this.fire, Math.floor((remaining - this.leadNs) / 1e6));
      return;
    }
    finishWait(this.clock, this.dueNs, this.spinNs);
    this.onDue();
  };

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
    wakeLeadNs: number,
    readonly spinNs: number,
  ) {
    // setTimeout may fire up to ~1 ms late against hrtime: wake that much earlier.
    this.leadNs = wakeLeadNs + 1e6;
  }

  schedule(dueNs: number): void {
    this.dueNs = dueNs;
    const remaining = dueNs - this.clock.nowNs();
    if (remaining > this.leadNs) setTimeout(this.fire, Math.floor((remaining - this.leadNs) / 1e6));
    else setImmediate(this.fire);
  }

  async ready(): Promise<void> {}

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
 * A worker keeps time with Atomics.wait and wakes the main thread by message `leadNs` before the
 * tick; the main thread finishes with finishWait. Requires a clock on process.hrtime (SystemClock).
 */
export class WorkerWaiter implements Waiter {
  readonly name = 'worker';
  /** Node does not tell a worker's thread id: the whole process */
  realtimeThreads(): RealtimeThreads {
    return WHOLE_PROCESS;
  }
  readonly leadNs: number;
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly due: Float64Array;
  private dueNs = 0;
  private request = 0;
  private closed = false;
  private readonly online: Promise<void>;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
    wakeLeadNs: number,
    readonly spinNs: number,
  ) {
    this.leadNs = wakeLeadNs;
    const controlBuffer = new SharedArrayBuffer(SLOTS * 4);
    const dueBuffer = new SharedArrayBuffer(8);
    this.control = new Int32Array(controlBuffer);
    this.due = new Float64Array(dueBuffer);
    this.worker = new Worker(timekeeperSource, {
      eval: true,
      workerData: { control: controlBuffer, due: dueBuffer, wakeEarlyNs: wakeLeadNs },
    });
    this.online = new Promise((resolve, reject) => {
      this.worker.once('online', resolve);
      this.worker.once('error', reject);
    });
    // Referenced: a pending tick keeps the process alive, as a timer would. close() ends it.
    this.worker.on('message', this.onMessage);
  }

  private readonly onMessage = (request: number): void => {
    if (request !== this.request || this.closed) return; // a superseded schedule
    finishWait(this.clock, this.dueNs, this.spinNs);
    this.onDue();
  };

  schedule(dueNs: number): void {
    this.dueNs = dueNs;
    this.due[0] = dueNs;
    this.request = (this.request + 1) | 0;
    Atomics.store(this.control, REQUEST, this.request);
    Atomics.notify(this.control, REQUEST);
  }

  ready(): Promise<void> {
    return this.online;
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

/**
 * Slots of the Float64Array a Ticker reads its times from (ns on CLOCK_MONOTONIC): written before
 * the call that uses them. Times do not travel as arguments: a double passed from optimized JS to a
 * native function is boxed in a heap number (16 B per call).
 */
export const TickerTime = { wakeAt: 0, finishDue: 1, finishSpin: 2, slots: 3 } as const;

/** engram's timekeeper addon (native/timer/engram_timer.cc), reading its times from `times`. */
interface Ticker {
  /** one pending wake-up at times[wakeAt], replacing any other */
  wakeAt(): void;
  /** after a delivered wake-up: an idle ticker does not keep the process alive */
  idle(): void;
  /** on this thread: clock_nanosleep to times[finishSpin] before times[finishDue], then spin to it */
  finishAt(): void;
  /** the ticker thread's Linux thread id */
  threadId(): number;
  close(): void;
}
export type TickerConstructor = new (onWake: () => void, times: Float64Array) => Ticker;

/** The compiled addon: from runtime/ (tsx) or dist/runtime/ (the build). */
const tickerCandidates = [
  '../native/timer/build/Release/engram_timer.node',
  '../../native/timer/build/Release/engram_timer.node',
];

/** The native timekeeper, or an Error saying why it is not there (not built, or not loadable). */
export function loadNativeTicker(): TickerConstructor | Error {
  const require = createRequire(import.meta.url);
  for (const candidate of tickerCandidates) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (!existsSync(path)) continue;
    try {
      return (require(path) as { Ticker: TickerConstructor }).Ticker;
    } catch (error) {
      return new Error(`engram's timer addon ${path} does not load: ${(error as Error).message}`);
    }
  }
  return new Error(
    "engram's timer addon is not built (native/timer; `make build` or `npm run build:native` builds it)",
  );
}

/**
 * A native thread keeps time (clock_nanosleep) and wakes the main thread `leadNs` before the tick
 * through a thread-safe function; the main thread finishes natively too (sleep, then a spin on
 * CLOCK_MONOTONIC). Per tick ~56 B on the JS heap (V8's call from C++ into JS; the times travel in
 * a Float64Array), against ~400 B for the worker (its message, and Atomics.wait with a timeout).
 * The loop's clock must be process.hrtime's (SystemClock): CLOCK_MONOTONIC.
 */
export class NativeWaiter implements Waiter {
  readonly name = 'native';
  /** the main thread and the ticker's */
  realtimeThreads(): RealtimeThreads {
    return loopThreads(this.ticker.threadId());
  }
  readonly leadNs: number;
  private readonly ticker: Ticker;
  /** the ticker's times (TickerTime): the next wake-up, and the tick its finish waits for */
  private readonly times = new Float64Array(TickerTime.slots);
  private pending = false;
  private closed = false;

  constructor(
    Ticker: TickerConstructor,
    private readonly onDue: () => void,
    wakeLeadNs: number,
    readonly spinNs: number,
  ) {
    this.leadNs = wakeLeadNs;
    this.times[TickerTime.finishSpin] = spinNs;
    this.ticker = new Ticker(this.onWake, this.times);
  }

  private readonly onWake = (): void => {
    this.ticker.idle();
    // A wake-up already queued when schedule() replaced it still arrives: one onDue per schedule.
    if (this.closed || !this.pending) return;
    this.pending = false;
    // finishWait's Atomics.wait with a timeout allocates ~80 B per call on the JS heap
    this.ticker.finishAt();
    this.onDue();
  };

  schedule(dueNs: number): void {
    const times = this.times;
    times[TickerTime.finishDue] = dueNs;
    times[TickerTime.wakeAt] = Math.max(0, dueNs - this.leadNs);
    this.pending = true;
    this.ticker.wakeAt();
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker.close();
  }
}

export type WaiterStrategy = 'native' | 'worker' | 'timer';

export interface WaiterTiming {
  /** the loop thread is woken this long before the tick */
  wakeLeadNs: number;
  /** and spins only this last stretch (the rest is an Atomics.wait) */
  spinNs: number;
}

/**
 * The waiter for `strategy`. 'native' without the addon built falls back to 'worker' (the same
 * behaviour, ~400 B per tick); `onFallback` is told why.
 */
export function createWaiter(
  strategy: WaiterStrategy,
  clock: Clock,
  onDue: () => void,
  timing: WaiterTiming,
  onFallback?: (why: string) => void,
  loadTicker: () => TickerConstructor | Error = loadNativeTicker,
): Waiter {
  if (strategy === 'native') {
    const Ticker = loadTicker();
    if (!(Ticker instanceof Error)) return new NativeWaiter(Ticker, onDue, timing.wakeLeadNs, timing.spinNs);
    onFallback?.(Ticker.message);
  }
  return strategy === 'timer'
    ? new TimerWaiter(clock, onDue, timing.wakeLeadNs, timing.spinNs)
    : new WorkerWaiter(clock, onDue, timing.wakeLeadNs, timing.spinNs);
}
