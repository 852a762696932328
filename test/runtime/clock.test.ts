import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MockClock, monotonicNs } from '../../runtime/clock.js';
import { leastHeapGrowthPer } from '../heap-growth.js';

test('monotonicNs reads process.hrtime exactly as a number, never going back', () => {
  const before = Number(process.hrtime.bigint());
  let previous = monotonicNs();
  for (let i = 0; i < 10_000; i++) {
    const now = monotonicNs();
    assert.ok(now >= previous, `went back from ${previous} to ${now}`);
    previous = now;
  }
  const after = Number(process.hrtime.bigint());
  assert.ok(previous >= before && previous <= after, `${previous} outside [${before}, ${after}]`);
  assert.ok(Number.isInteger(previous));
});

test('monotonicNs allocates nothing per read (Number(process.hrtime.bigint()) boxes ~40 B)', () => {
  const sink = new Float64Array(1);
  const reads = (n: number) => {
    for (let i = 0; i < n; i++) sink[0] = sink[0]! + monotonicNs();
  };
  reads(200_000); // optimise first
  const perRead = leastHeapGrowthPer(reads, 200_000);
  if (perRead === undefined) return;
  assert.ok(perRead < 4, `${perRead.toFixed(1)} bytes per read`);
});

test('MockClock moves only when told, plus its auto-advance per read', () => {
  const clock = new MockClock(100, 5);
  assert.is(clock.nowNs(), 100);
  assert.is(clock.nowNs(), 105);
  clock.advance(1000);
  assert.is(clock.peek(), 1110);
  clock.set(7);
  assert.is(clock.nowNs(), 7);
});

test.run();
