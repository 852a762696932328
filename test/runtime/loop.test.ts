/** Loop mechanics on a MockClock: phase locking, skipping, overrun policy, effort ladder, staleness, e-stop. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Controller, type Driver, Status } from '../../runtime/contracts.js';
import { Loop } from '../../runtime/loop.js';
import { actionLimits, SafeReason, SafetyFilter } from '../../runtime/safety.js';
import { leastHeapGrowthPer } from '../heap-growth.js';
import { MS, rig, settings } from './loop-fixtures.js';

const PERIOD = 10 * MS; // 100 Hz

test('ticks are phase-locked to t0 + k·period regardless of how late each wake is', () => {
  const { clock, driver, loop } = rig();
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  const lateness = [0, 30_000, 2 * MS, 9.9 * MS, 1];
  for (let k = 0; k < lateness.length; k++) {
    assert.is(loop.nextDueNs(), k * PERIOD, `tick ${k} due`);
    clock.set(k * PERIOD + lateness[k]!);
    const record = loop.runCycle();
    assert.is(record.cycle, k);
    assert.is(record.dueNs, k * PERIOD);
    assert.is(record.latenessNs, lateness[k]);
    assert.is(record.skippedTicks, 0);
  }
  assert.is(loop.counters.skippedTicks, 0);
  assert.is(loop.nextDueNs(), 5 * PERIOD, 'late wakes never shift the phase');
});

test('a late cycle skips the missed ticks (counted) and never bursts', () => {
  const { clock, driver, controller, loop } = rig();
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  clock.set(0);
  loop.runCycle(); // tick 0
  // Tick 1 wakes on time but its step takes 2.5 periods: ticks 2 and 3 pass while it runs.
  controller.stepNs = 25 * MS;
  clock.set(PERIOD);
  loop.runCycle();
  controller.stepNs = 0;
  assert.is(clock.peek(), 35 * MS);
  assert.is(loop.nextDueNs(), 2 * PERIOD, 'the runner asks for tick 2, already past');
  const record = loop.runCycle(); // woken immediately at 35 ms
  assert.is(record.cycle, 3, 'runs the most recent due tick');
  assert.is(record.skippedTicks, 1, 'tick 2 skipped');
  assert.is(record.latenessNs, 5 * MS);
  assert.is(loop.nextDueNs(), 4 * PERIOD);
  // A long stall (e.g. a GC pause) skips many ticks in one go: one cycle, not a burst.
  clock.set(100 * PERIOD + 1);
  const afterStall = loop.runCycle();
  assert.is(afterStall.cycle, 100);
  assert.is(afterStall.skippedTicks, 96);
  assert.is(loop.counters.skippedTicks, 97);
  assert.is(loop.counters.cycles, 4);
});

test('the step gets the cycle deadline minus the publish stage budget', () => {
  const { clock, driver, controller, loop } = rig();
  driver.queue.push({ observation: [1, 2, 3] });
  clock.set(3 * MS); // woke 3 ms late
  loop.runCycle();
  assert.is(controller.lastDeadlineNs, 3 * MS + 8 * MS - 0.5 * MS);
});

test('overrun policy hold: the late answer is dropped, the last action held and stamped stale', () => {
  const { clock, driver, controller, loop } = rig({ overrunPolicy: 'hold' });
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  controller.answer = [0.5, -0.5];
  clock.set(0);
  loop.runCycle();
  assert.equal(driver.lastPublished().values, [0.5, -0.5]);
  assert.is(driver.lastPublished().stale, false);
  controller.answer = [0.9, 0.9];
  controller.stepNs = 9 * MS; // past the 7.5 ms step deadline
  clock.set(PERIOD);
  const record = loop.runCycle();
  assert.ok(record.overrun);
  assert.is(loop.counters.overruns, 1);
  assert.is(loop.counters.deadlineMisses, 1);
  assert.equal(driver.lastPublished().values, [0.5, -0.5], 'held');
  assert.is(driver.lastPublished().stale, true);
  assert.is(record.actionStale, true);
  assert.is(record.safeAction, false);
});

test('overrun policy safe: the safe action is published', () => {
  const { clock, driver, controller, loop } = rig({ overrunPolicy: 'safe' });
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  controller.answer = [0.5, -0.5];
  loop.runCycle();
  controller.stepNs = 9 * MS;
  clock.set(PERIOD);
  const record = loop.runCycle();
  assert.equal(driver.lastPublished().values, [0, 0]);
  assert.ok(record.safeAction);
  assert.is(loop.lastSafeReason, SafeReason.forced);
});

test('an anytime answer in time (Status.deadline) is published fresh, not an overrun', () => {
  const { driver, controller, loop } = rig();
  driver.queue.push({ observation: [0, 0, 0] });
  controller.answer = [0.25, 0.25];
  controller.status = Status.deadline;
  controller.stepNs = 7 * MS;
  const record = loop.runCycle();
  assert.is(record.overrun, false);
  assert.is(loop.counters.anytimeCutoffs, 1);
  assert.equal(driver.lastPublished().values, [0.25, 0.25]);
  assert.is(driver.lastPublished().stale, false);
});

test('effort ladder: steps down after an overrun and near-overruns, back up after calm cycles', () => {
  const { clock, driver, controller, loop } = rig();
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  assert.equal(controller.efforts, [{ candidates: 32, horizon: 8, ef: 64 }], 'full effort at start');
  let tick = 0;
  const cycle = (stepNs: number) => {
    controller.stepNs = stepNs;
    clock.set(tick * PERIOD);
    loop.runCycle();
    tick = Math.ceil(clock.peek() / PERIOD);
  };
  cycle(9 * MS); // overrun
  assert.is(loop.ladder.level, 1);
  assert.equal(controller.efforts.at(-1), { candidates: 16, horizon: 4, ef: 32 });
  cycle(7.5 * MS); // above 90% of budget, no overrun: still steps down
  assert.is(loop.ladder.level, 2);
  assert.equal(controller.efforts.at(-1), { candidates: 8, horizon: 2, ef: 16 });
  cycle(9 * MS); // already at the bottom rung
  assert.is(loop.ladder.level, 2);
  assert.is(controller.efforts.length, 3, 'no call when the rung does not change');
  for (let i = 0; i < 4; i++) cycle(1 * MS);
  assert.is(loop.ladder.level, 2, 'four calm cycles are not enough');
  cycle(5 * MS); // between the marks resets the calm count
  for (let i = 0; i < 4; i++) cycle(1 * MS);
  assert.is(loop.ladder.level, 2);
  cycle(1 * MS); // fifth consecutive calm cycle
  assert.is(loop.ladder.level, 1);
  assert.equal(controller.efforts.at(-1), { candidates: 16, horizon: 4, ef: 32 });
  assert.is(loop.latest()?.effortLevel, 2, 'the record names the rung the cycle ran at');
});

test('stale sensor input forces the safe action until fresh input arrives', () => {
  const { clock, driver, controller, loop } = rig();
  controller.answer = [0.5, 0.5];
  driver.queue.push({ observation: [0, 0, 0] });
  loop.runCycle(); // fresh frame at t=0
  assert.equal(driver.lastPublished().values, [0.5, 0.5]);
  // No new frames: the last action is held while the frame is younger than 50 ms.
  clock.set(4 * PERIOD);
  loop.runCycle();
  assert.equal(driver.lastPublished().values, [0.5, 0.5]);
  assert.is(driver.lastPublished().stale, true);
  assert.is(loop.counters.noInputCycles, 1);
  clock.set(6 * PERIOD);
  const record = loop.runCycle();
  assert.ok(record.safeAction);
  assert.is(loop.lastSafeReason, SafeReason.stale);
  assert.equal(driver.lastPublished().values, [0, 0]);
  // A frame that arrives already old (stamped 60 ms ago) is stale too.
  clock.set(7 * PERIOD);
  driver.queue.push({ observation: [0, 0, 0], receivedNs: 7 * PERIOD - 60 * MS });
  loop.runCycle();
  assert.is(loop.lastSafeReason, SafeReason.stale);
  clock.set(8 * PERIOD);
  driver.queue.push({ observation: [0, 0, 0] });
  loop.runCycle();
  assert.is(loop.lastSafeReason, SafeReason.none);
  assert.equal(driver.lastPublished().values, [0.5, 0.5]);
});

test('no input yet: the safe action', () => {
  const { driver, loop } = rig();
  loop.runCycle();
  assert.is(loop.lastSafeReason, SafeReason.noInput);
  assert.equal(driver.lastPublished().values, [0, 0]);
  assert.is(driver.lastPublished().frameSeq, -1);
});

test('e-stop forces the safe action until a frame clears it, even while input is held', () => {
  const { clock, driver, controller, loop } = rig();
  controller.answer = [0.75, 0.75];
  driver.queue.push({ observation: [0, 0, 0] });
  loop.runCycle();
  assert.equal(driver.lastPublished().values, [0.75, 0.75]);
  clock.set(PERIOD);
  driver.queue.push({ observation: [0, 0, 0], estop: true });
  loop.runCycle();
  assert.is(loop.lastSafeReason, SafeReason.estop);
  assert.equal(driver.lastPublished().values, [0, 0]);
  clock.set(2 * PERIOD); // no new frame: the e-stop stays latched
  loop.runCycle();
  assert.is(loop.lastSafeReason, SafeReason.estop);
  clock.set(3 * PERIOD);
  driver.queue.push({ observation: [0, 0, 0], estop: false });
  loop.runCycle();
  assert.is(loop.lastSafeReason, SafeReason.none);
  assert.equal(driver.lastPublished().values, [0.75, 0.75]);
  assert.is(loop.safety.counters.estopCycles, 2);
});

test('action limits clamp and the slew rate bounds change per second of elapsed time', () => {
  // 20 units/s at 100 Hz: at most 0.2 per cycle.
  const { clock, driver, controller, loop } = rig({}, 20);
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  controller.answer = [5, -5];
  loop.runCycle(); // first publish: no previous publish, clamped only
  assert.equal(driver.lastPublished().values, [1, -1]);
  controller.answer = [-1, 1];
  clock.set(PERIOD);
  loop.runCycle();
  const values = driver.lastPublished().values;
  assert.ok(Math.abs(values[0]! - 0.8) < 1e-6, `slewed down by 0.2, got ${values[0]}`);
  assert.ok(Math.abs(values[1]! + 0.8) < 1e-6, `slewed up by 0.2, got ${values[1]}`);
  assert.ok(loop.safety.counters.slewLimitedValues >= 2);
  assert.is(loop.safety.counters.clampedValues, 2);
});

test('a non-finite answer is never published; a rejected frame holds the last action', () => {
  const { clock, driver, controller, loop } = rig();
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  controller.answer = [0.25, 0.25];
  loop.runCycle();
  controller.answer = [Number.NaN, 0];
  clock.set(PERIOD);
  loop.runCycle();
  assert.is(loop.lastSafeReason, SafeReason.nonFinite);
  assert.equal(driver.lastPublished().values, [0, 0]);
  controller.answer = [0.25, 0.25];
  clock.set(2 * PERIOD);
  loop.runCycle();
  controller.status = Status.nonFinite;
  clock.set(3 * PERIOD);
  const record = loop.runCycle();
  assert.is(record.stepStatus, Status.nonFinite);
  assert.is(loop.counters.rejectedFrames, 1);
  assert.equal(driver.lastPublished().values, [0.25, 0.25]);
  assert.is(driver.lastPublished().stale, true);
});

test('observers see every cycle; slack work is bounded and counted when it runs over', () => {
  const { clock, driver, controller, observer, loop } = rig();
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  for (let k = 0; k < 3; k++) {
    clock.set(k * PERIOD);
    loop.runCycle();
    loop.runSlack(clock.peek() + 1 * MS);
  }
  assert.equal(observer.cycles, [0, 1, 2]);
  assert.is(observer.flushes, 3);
  assert.is(controller.maintainCalls.length, 3);
  assert.is(controller.maintainCalls[0]!.until, 1 * MS);
  controller.maintainNs = 2 * MS; // maintenance overstays its bound
  clock.set(3 * PERIOD);
  loop.runCycle();
  loop.runSlack(clock.peek() + 1 * MS);
  assert.is(loop.counters.maintenanceOverruns, 1);
  assert.is(observer.flushes, 3, 'no flush once the bound has passed');
  assert.is(loop.latest()?.maintenanceNs, 2 * MS);
});

test('records live in a preallocated ring reused in place', () => {
  const { clock, driver, loop } = rig({ ringSize: 4 });
  driver.steady = true;
  driver.queue.push({ observation: [0, 0, 0] });
  const first = loop.runCycle();
  for (let k = 1; k < 4; k++) {
    clock.set(k * PERIOD);
    loop.runCycle();
  }
  clock.set(4 * PERIOD);
  const fifth = loop.runCycle();
  assert.is(fifth, first, 'the same object, reset in place');
  assert.is(fifth.cycle, 4);
});

test('shutdown publishes the safe action stamped stale', () => {
  const { driver, controller, loop } = rig();
  driver.queue.push({ observation: [0, 0, 0] });
  controller.answer = [0.5, 0.5];
  loop.runCycle();
  loop.publishSafe();
  assert.equal(driver.lastPublished().values, [0, 0]);
  assert.is(driver.lastPublished().stale, true);
});

/** Time in a double field from the start (MockClock's own set/read pair boxes ~32 B per call here). */
class FieldClock {
  timeNs = 0.5;
  nowNs(): number {
    return this.timeNs;
  }
  stampNs(out: Float64Array, index: number): void {
    out[index] = this.timeNs;
  }
  peek(): number {
    return this.timeNs;
  }
  set(ns: number): void {
    this.timeNs = ns;
  }
  advance(ns: number): void {
    this.timeNs += ns;
  }
}

test('the cycle allocates no objects: under 64 bytes per cycle and slack (least of three 50k-cycle windows)', () => {
  const clock = new FieldClock();
  const observation = new Float32Array([0.1, 0.2, 0.3]);
  const driver: Driver = {
    name: 'still',
    async start() {},
    poll(into) {
      into.seq++;
      into.receivedNs = clock.peek();
      into.observation.set(observation);
      return Status.ok;
    },
    publish() {},
    counters: () => ({ framesReceived: 0, framesRejected: 0, actionsPublished: 0, reconnects: 0 }),
    async stop() {},
  };
  const controller: Controller = {
    observationSize: 3,
    actionSize: 2,
    step(frame, _deadline, out, timings) {
      out[0] = frame.observation[0]!;
      out[1] = -frame.observation[1]!;
      timings.planNs = 1000;
      clock.advance(2 * MS);
      return Status.ok;
    },
    maintain() {},
    setEffort() {},
    setExploration() {},
  };
  const safety = new SafetyFilter(
    actionLimits({ size: 2, low: [-1, -1], high: [1, 1], safe: [0, 0], maxSlewPerSecond: 5 }),
    50 * MS,
  );
  const loop = new Loop(clock, driver, controller, safety, settings({ ringSize: 64 }));
  loop.start(0);
  const cycles = (n: number, from: number) => {
    for (let k = from; k < from + n; k++) {
      clock.set(k * PERIOD + 1000);
      loop.runCycle();
      loop.runSlack(clock.peek() + 1 * MS);
    }
  };
  cycles(20_000, 0); // warm-up: JIT compilation allocates too
  let from = 20_000;
  const perCycle = leastHeapGrowthPer((count) => {
    cycles(count, from);
    from += count;
  }, 50_000);
  if (perCycle === undefined) return;
  // Measured 14-16 B: the deadline passed to step, boxed where the call is not inlined (the
  // Controller contract takes it as a number). 28-48 B while the loop read its clock through
  // nowNs() and passed times to the safety filter as arguments. An object, closure, array or
  // string per cycle would add 32-100 B more.
  assert.ok(perCycle < 32, `${perCycle.toFixed(1)} bytes per cycle`);
  assert.is(loop.counters.cycles, 170_000);
});

test.run();
