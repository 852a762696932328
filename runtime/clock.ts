/** Clocks: the real monotonic one, and a mock one that makes loop, planner and staleness tests exact. */
import { type Clock, monotonicNs, monotonicNsInto } from './contracts.js';

export { monotonicNs };

/** process.hrtime through monotonicNs. */
export class SystemClock implements Clock {
  nowNs(): number {
    return monotonicNs();
  }
  stampNs(out: Float64Array, index: number): void {
    monotonicNsInto(out, index);
  }
}

export const systemClock: Clock = new SystemClock();

/**
 * A clock that moves only when told. `autoAdvanceNs` moves it forward on every read, so code that
 * spins on the clock (an anytime planner) sees time pass deterministically.
 */
export class MockClock implements Clock {
  constructor(
    private timeNs = 0,
    public autoAdvanceNs = 0,
  ) {}
  nowNs(): number {
    const now = this.timeNs;
    this.timeNs += this.autoAdvanceNs;
    return now;
  }
  stampNs(out: Float64Array, index: number): void {
    out[index] = this.timeNs;
    this.timeNs += this.autoAdvanceNs;
  }
  advance(ns: number): void {
    this.timeNs += ns;
  }
  set(ns: number): void {
    this.timeNs = ns;
  }
  peek(): number {
    return this.timeNs;
  }
}
