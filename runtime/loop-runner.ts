/**
 * Drives a Loop in real time: wait for the tick (a Waiter), run the cycle, run bounded slack work,
 * schedule the next tick. Between ticks the main thread is back in its event loop, so driver I/O,
 * signals and the metrics endpoint keep being served.
 *
 * Periodic, non-cycle work (status lines, log summaries, metrics export) is a CycleObserver whose
 * flush runs in slack time; nothing here logs per cycle.
 */
import type { Clock } from './contracts.js';
import type { Loop } from './loop.js';
import { createWaiter, type Waiter, type WaiterStrategy } from './timing.js';

export interface RunnerOptions {
  strategy: WaiterStrategy;
  /** the loop thread is woken this long before each tick (ns) */
  wakeLeadNs: number;
  /** busy spin only for this last stretch (ns) */
  spinNs: number;
  /** stop on its own after this long (ns); undefined = until stop() */
  durationNs?: number;
  /** margin kept free before the waiter must wake for the next tick (ns) */
  guardNs?: number;
  /** told why, when the strategy asked for is not available and another serves (native -> worker) */
  onWaiterFallback?: (why: string) => void;
}

export type StopReason = 'duration' | 'requested';

export class LoopRunner {
  readonly waiter: Waiter;
  private stopRequested = false;
  private endNs = Number.POSITIVE_INFINITY;
  private resolveDone: ((reason: StopReason) => void) | undefined;
  private readonly guardNs: number;
  /** when the runner started (ns, on the loop's clock) */
  startedNs = 0;
  stoppedNs = 0;

  constructor(
    private readonly loop: Loop,
    private readonly clock: Clock,
    private readonly options: RunnerOptions,
  ) {
    this.waiter = createWaiter(options.strategy, clock, this.onDue, options, options.onWaiterFallback);
    this.guardNs = options.guardNs ?? 100_000;
  }

  /**
   * [0] now, [1] the next tick: read into a Float64Array, because a double returned from a call V8
   * does not inline is boxed (the real loop's sampled allocations showed these reads every cycle).
   */
  private readonly times = new Float64Array(2);

  private readonly onDue = (): void => {
    const loop = this.loop;
    const times = this.times;
    loop.runCycle();
    this.clock.stampNs(times, 0);
    const now = times[0]!;
    if (this.stopRequested || now >= this.endNs) {
      this.finish(this.stopRequested ? 'requested' : 'duration');
      return;
    }
    loop.nextDueInto(times, 1);
    let until = now + loop.settings.maintenanceNs;
    const latest = times[1]! - this.waiter.leadNs - this.guardNs;
    if (latest < until) until = latest;
    loop.runSlack(until); // slack does not move the next tick (only runCycle and start do)
    this.waiter.schedule(times[1]!);
  };

  /**
   * Starts the loop with tick 0 one period from now; resolves when stopped (duration or stop()).
   * After it resolves the loop has finished its last cycle; publishing the safe action and
   * stopping drivers is the caller's shutdown sequence.
   */
  async run(): Promise<StopReason> {
    const loop = this.loop;
    await this.waiter.ready(); // the phase starts once the waiter can keep it
    this.startedNs = this.clock.nowNs();
    if (this.options.durationNs !== undefined) this.endNs = this.startedNs + this.options.durationNs;
    loop.start(this.startedNs + loop.periodNs);
    return new Promise<StopReason>((resolve) => {
      this.resolveDone = resolve;
      this.waiter.schedule(loop.nextDueNs());
    });
  }

  /** Finish the current cycle, then stop (the next tick is not run). */
  stop(): void {
    this.stopRequested = true;
  }

  private finish(reason: StopReason): void {
    this.stoppedNs = this.clock.nowNs();
    const resolve = this.resolveDone;
    this.resolveDone = undefined;
    void this.waiter.close().then(() => resolve?.(reason));
  }
}
