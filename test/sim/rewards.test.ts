import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tolerance } from '../../sim/rewards.js';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

test('tolerance is 1 inside the bounds, at both edges', () => {
  assert.is(tolerance(0.5, 0, 1, 2), 1);
  assert.is(tolerance(0, 0, 1, 2), 1);
  assert.is(tolerance(1, 0, 1, 2, 'quadratic', 0), 1);
});

test('tolerance with margin 0 is a step', () => {
  assert.is(tolerance(1.0001, 0, 1), 0);
  assert.is(tolerance(-0.0001, 0, 1), 0);
});

test('gaussian: value_at_margin^(d^2) with d in margins', () => {
  close(tolerance(3, 0, 0, 2), 0.1 ** ((3 / 2) ** 2), 'x=3 margin 2');
  close(tolerance(-1, 0, 0, 2), 0.1 ** 0.25, 'x=-1 margin 2');
  close(tolerance(2, 0, 0, 2), 0.1, 'exactly one margin away');
  close(tolerance(1.5, 0, 1, 1, 'gaussian', 0.5), 0.5 ** 0.25, 'value_at_margin 0.5');
});

test('quadratic with value_at_margin 0: max(0, 1 - d^2)', () => {
  close(tolerance(0.5, 0, 0, 1, 'quadratic', 0), 0.75, 'x=0.5');
  close(tolerance(-0.2, 0, 0, 1, 'quadratic', 0), 0.96, 'x=-0.2');
  assert.is(tolerance(1, 0, 0, 1, 'quadratic', 0), 0);
  assert.is(tolerance(3, 0, 0, 1, 'quadratic', 0), 0);
});

test('bad arguments are clear errors', () => {
  assert.throws(() => tolerance(0, 1, 0), /lower bound/);
  assert.throws(() => tolerance(0, 0, 0, -1), /margin/);
  assert.throws(() => tolerance(2, 0, 0, 1, 'gaussian', 0), /valueAtMargin/);
});

test.run();
