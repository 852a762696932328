/**
 * Reaction to the machine running low on free memory: read free system memory at most once per
 * `checkMs` (in slack time, never per cycle), and when it is below the configured floor shrink the
 * effective cap to a fraction of the live count, so eviction frees room. Said once in the log per
 * episode of pressure, not once per check.
 */
import type { Clock, EventLog } from '../../runtime/contracts.js';

export interface PressureOptions {
  minFreeBytes: number;
  checkMs: number;
  /** new cap = floor(live count * shrink) while under pressure */
  shrink: number;
  /** free system memory in bytes (os.freemem in production; injected so tests can simulate pressure) */
  freeBytes: () => number;
}

export class MemoryPressure {
  /** times the cap was shrunk */
  shrinks = 0;
  underPressure = false;
  /**
   * [0] the clock read, [1] when the next check is due: typed-array slots, because a double returned
   * from the clock or stored into a field whose representation V8 has not settled is boxed
   */
  private readonly times = new Float64Array(2);

  constructor(
    private readonly clock: Clock,
    private readonly log: EventLog,
    private readonly options: PressureOptions,
  ) {}

  /**
   * Returns the effective cap to use from now on: `cap` unchanged, or smaller when free memory is
   * below the floor. Cheap when called often: it reads the clock and returns until the next check.
   */
  check(cap: number, liveCount: number): number {
    const times = this.times;
    this.clock.stampNs(times, 0);
    if (times[0]! < times[1]!) return cap;
    times[1] = times[0]! + this.options.checkMs * 1e6;
    const free = this.options.freeBytes();
    if (!(free < this.options.minFreeBytes)) {
      if (this.underPressure) {
        this.underPressure = false;
        this.log.info(
          { freeMiB: Math.round(free / 2 ** 20), cap },
          'free memory recovered; memory cap stays where it is',
        );
      }
      return cap;
    }
    const shrunk = Math.max(1, Math.floor(Math.min(cap, liveCount) * this.options.shrink));
    if (shrunk >= cap) return cap;
    this.shrinks++;
    if (!this.underPressure) {
      this.underPressure = true;
      this.log.warn(
        {
          freeMiB: Math.round(free / 2 ** 20),
          minFreeMiB: Math.round(this.options.minFreeBytes / 2 ** 20),
          from: cap,
          to: shrunk,
        },
        'low free system memory: shrinking the experience cap',
      );
    }
    return shrunk;
  }
}
