/** bench brain's side-by-side rows: engram's HNSW move against hnswlib's updatePoint, native kernels against JavaScript. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelComparison, moveComparison, type SizeResult } from '../../bench/brain.js';

/** A result with only the fields the comparison reads. */
function result(
  backend: string,
  n: number,
  p99Us: number,
  stateDim = 16,
  horizon = 1,
  kernels?: 'native' | 'javascript',
): SizeResult {
  return {
    stateDim,
    actionDim: 4,
    n,
    backend,
    ...(kernels ? { kernels } : {}),
    horizon,
    stepP50Ns: p99Us * 500,
    stepP99Ns: p99Us * 1000,
    p99PerRunNs: [p99Us * 1000],
    stages: { encodeP50Ns: 0, lookupP50Ns: 0, activationP50Ns: 0, planP50Ns: p99Us * 300, storeP50Ns: 40e3 },
  } as SizeResult;
}

test('pairs each engram row with the updatePoint row of the same dims, N and horizon', () => {
  const rows = moveComparison([
    result('hnsw', 1e4, 400),
    result('hnsw-updatepoint', 1e5, 900),
    result('hnsw', 1e5, 450),
    result('hnsw-updatepoint', 1e4, 600),
    result('hnsw-updatepoint', 1e4, 999, 64),
    result('hnsw', 1e3, 300),
    result('hnsw-updatepoint', 1e3, 300, 16, 16),
  ]);
  assert.is(rows.length, 2, 'the 1e3 rows differ in horizon, the 64-dim one has no engram row');
  assert.equal(rows[0]!.slice(0, 6), ['16+4', '1e4', 1, '200 / 300', '400 / 600', '1.50']);
  assert.equal(rows[1]!.slice(0, 6), ['16+4', '1e5', 1, '225 / 450', '450 / 900', '2.00']);
  assert.is(rows[1]![7], 'n/a / n/a', 'no tail stages recorded');
});

test('pairs native-kernel rows with JavaScript ones (results without a kernels field ran in JavaScript)', () => {
  const rows = kernelComparison([
    result('hnsw', 1e4, 300, 64, 1, 'native'),
    result('hnsw', 1e4, 450, 64, 1, 'javascript'),
    result('hnsw', 1e5, 400, 64, 1, 'native'),
    result('hnsw', 1e5, 800, 64, 1),
    result('hnsw', 1e3, 200, 16, 1, 'native'),
  ]);
  assert.is(rows.length, 2, 'the 16-dim row has no JavaScript partner');
  assert.equal(rows[0]!.slice(0, 7), ['64+4', '1e4', 1, '150 / 225', '300 / 450', '1.50', '90.0 / 135']);
  assert.equal(rows[1]!.slice(0, 6), ['64+4', '1e5', 1, '200 / 400', '400 / 800', '2.00']);
});

test.run();
