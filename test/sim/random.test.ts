import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../sim/random.js';

test('same seed, same sequence; different seed, different sequence', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const c = new Rng(8);
  let differs = false;
  for (let i = 0; i < 100; i++) {
    const x = a.next();
    assert.is(x, b.next());
    if (x !== c.next()) differs = true;
  }
  assert.ok(differs);
});

test('uniform stays in [low, high) with the right mean and variance', () => {
  const rng = new Rng(1);
  const n = 50_000;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const x = rng.uniform(-2, 3);
    assert.ok(x >= -2 && x < 3, `out of range: ${x}`);
    sum += x;
    sumSquares += x * x;
  }
  const mean = sum / n;
  const variance = sumSquares / n - mean * mean;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(variance - 25 / 12) < 0.06, `variance ${variance}`);
});

test('normal has mean 0 and variance 1', () => {
  const rng = new Rng(3);
  const n = 50_000;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const x = rng.normal();
    sum += x;
    sumSquares += x * x;
  }
  const mean = sum / n;
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(sumSquares / n - mean * mean - 1) < 0.03, `variance ${sumSquares / n}`);
});

test('a non-integer seed is an error', () => {
  assert.throws(() => new Rng(1.5), /integer/);
});

test.run();
