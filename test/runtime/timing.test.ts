/**
 * The tick waiters on the system clock: the native timekeeper (engram's timer addon) wakes on time
 * and allocates well under what the worker's message does per tick;
 * a replaced wake-up fires once, at the new time; close() stops it and lets the process exit; the
 * strategy falls back to the worker, saying why, when the addon is missing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { systemClock } from '../../runtime/clock.js';
import { createWaiter, loadNativeTicker, NativeWaiter, TickerTime, type WaiterStrategy } from '../../runtime/timing.js';
import { sampledAllocation } from '../heap-growth.js';

const timing = suite('tick waiters');
const periodNs = 0.5e6;

/**
 * Runs `ticks` ticks of `strategy` at 2 kHz; returns lateness samples (ns) and JS heap growth per
 * tick. The harness keeps its numbers in typed arrays (a double in a closure variable is boxed on
 * every write), so what grows is the waiter's.
 */
async function run(strategy: WaiterStrategy, ticks: number): Promise<{ lateness: Float64Array; bytesPerTick: number }> {
  const lateness = new Float64Array(ticks);
  // [due, now, heap before, heap after]
  const times = new Float64Array(4);
  const counter = new Int32Array(1);
  await new Promise<void>((resolve, reject) => {
    const waiter = createWaiter(
      strategy,
      systemClock,
      () => {
        systemClock.stampNs(times, 1);
        const k = counter[0]!;
        lateness[k] = times[1]! - times[0]!;
        counter[0] = k + 1;
        if (k + 1 === ticks) {
          times[3] = process.memoryUsage().heapUsed;
          void waiter.close().then(resolve, reject);
          return;
        }
        times[0] = times[0]! + periodNs;
        waiter.schedule(times[0]!);
      },
      { wakeLeadNs: 150e3, spinNs: 20e3 },
      (why) => reject(new Error(why)),
    );
    void waiter.ready().then(() => {
      (globalThis as { gc?: () => void }).gc?.();
      times[2] = process.memoryUsage().heapUsed;
      systemClock.stampNs(times, 0);
      times[0] = times[0]! + periodNs;
      waiter.schedule(times[0]!);
    });
  });
  return { lateness, bytesPerTick: (times[3]! - times[2]!) / ticks };
}

timing('the native timekeeper wakes on time and allocates well under what the worker does per tick', async () => {
  assert.ok(!(loadNativeTicker() instanceof Error), 'make build builds native/timer');
  await run('native', 1000); // warm both paths up
  await run('worker', 1000);
  let lateness: Float64Array = new Float64Array(0);
  const ticks = 2000;
  const native = await sampledAllocation(async () => {
    lateness = (await run('native', ticks)).lateness;
  });
  const worker = await sampledAllocation(async () => {
    await run('worker', ticks);
  });
  for (const late of lateness) assert.ok(late >= 0, `woke ${late} ns before the tick`);
  // Measured in this harness: native ~110 B per tick (V8's call from C++ into JS, ~56 B, and the
  // harness's own callback), 190 B while the times went to the addon as arguments (each boxed);
  // worker ~420 B (its message; Atomics.wait with a timeout).
  const nativePerTick = native / ticks;
  const workerPerTick = worker / ticks;
  assert.ok(
    nativePerTick < 0.4 * workerPerTick,
    `native ${nativePerTick.toFixed(1)} B per tick, worker ${workerPerTick.toFixed(1)} B`,
  );
});

timing('a replaced wake-up fires once, at the new time; close() drops a pending one', async () => {
  const Ticker = loadNativeTicker();
  if (Ticker instanceof Error) throw Ticker;
  const fired: number[] = [];
  const waiter = new NativeWaiter(Ticker, () => fired.push(systemClock.nowNs()), 0, 0);
  const first = systemClock.nowNs() + 30e6;
  const second = systemClock.nowNs() + 10e6;
  waiter.schedule(first);
  waiter.schedule(second); // replaces the first
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.is(fired.length, 1, 'one wake-up for two schedules');
  assert.ok(fired[0]! >= second && fired[0]! < first, 'at the second time');
  waiter.schedule(systemClock.nowNs() + 20e6);
  await waiter.close();
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.is(fired.length, 1, 'nothing after close');
  const times = new Float64Array(TickerTime.slots);
  assert.throws(() => new Ticker(undefined as unknown as () => void, times), /onWake must be a function/);
  assert.throws(() => new Ticker(() => {}, new Float32Array(3) as never), /times must be a Float64Array/);
  assert.throws(() => new Ticker(() => {}, new Float64Array(2)), /at least 3 elements/);
  const ticker = new Ticker(() => {}, times);
  times[TickerTime.wakeAt] = -1;
  assert.throws(() => ticker.wakeAt(), /times\[0\] must be a non-negative number/);
  times[TickerTime.finishDue] = Number.NaN;
  assert.throws(() => ticker.finishAt(), /times\[1\] and times\[2\] must be non-negative/);
  ticker.close();
});

timing('without the addon, the native strategy falls back to the worker and says why', async () => {
  const reasons: string[] = [];
  const missing = () => new Error("engram's timer addon is not built");
  const waiter = createWaiter(
    'native',
    systemClock,
    () => {},
    { wakeLeadNs: 0, spinNs: 0 },
    (why) => reasons.push(why),
    missing,
  );
  assert.is(waiter.name, 'worker');
  assert.equal(reasons, ["engram's timer addon is not built"]);
  await waiter.close();
  const native = createWaiter(
    'native',
    systemClock,
    () => {},
    { wakeLeadNs: 0, spinNs: 0 },
    (why) => reasons.push(why),
  );
  assert.is(native.name, 'native', 'with the addon built');
  assert.is(reasons.length, 1);
  await native.close();
});

timing.run();
