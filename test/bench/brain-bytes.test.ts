import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { addMarginalBytes, type SizeResult } from '../../bench/brain.js';

const marginal = suite('bench brain: marginal bytes per experience');

/** A result with only the fields the byte figures read: growth = fixed + perExperience x n. */
function sized(n: number, fixed: number, perExperience: number, horizon = 1, stateDim = 16): SizeResult {
  const growth = fixed + perExperience * n;
  return {
    stateDim,
    actionDim: 4,
    n,
    backend: 'hnsw',
    horizon,
    rssGrowthBytes: growth,
    bytesPerExperience: Math.round(growth / n),
    rawPayloadBytes: 300,
    indexLinkBytes: 100,
  } as SizeResult;
}

marginal('the slope between sizes cancels what does not grow with N', () => {
  const results = [sized(1e4, 15e6, 560), sized(1e5, 15e6, 560)];
  addMarginalBytes(results);
  const big = results[1]!;
  assert.is(big.marginalBytesPerExperience, 560);
  assert.is(big.marginalFromN, 1e4);
  assert.ok(Math.abs(big.marginalBytesRatio! - 1.4) < 1e-9);
  // the whole-process figure still carries the fixed 15 MB: 710 B at 1e5
  assert.is(big.bytesPerExperience, 710);
  assert.is(results[0]!.marginalBytesPerExperience, undefined, 'the smallest size has nothing to compare with');
});

marginal('pairs only results of the same dims and horizon, with the nearest smaller N', () => {
  const results = [
    sized(1e3, 15e6, 999, 16),
    sized(1e4, 15e6, 500),
    sized(1e5, 15e6, 999, 1, 64),
    sized(1e3, 15e6, 500),
    sized(1e5, 15e6, 500),
  ];
  addMarginalBytes(results);
  assert.is(results[4]!.marginalFromN, 1e4);
  assert.is(results[4]!.marginalBytesPerExperience, 500);
  assert.is(results[2]!.marginalBytesPerExperience, undefined, 'no smaller 64+4 result');
  assert.is(results[1]!.marginalFromN, 1e3);
  assert.is(results[1]!.marginalBytesPerExperience, 500, 'not the horizon-16 result of the same N');
});

marginal.run();
