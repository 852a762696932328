/** bench brain's side-by-side rows: engram's HNSW move against hnswlib's updatePoint. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { moveComparison, type SizeResult } from '../../bench/brain.js';

/** A result with only the fields the comparison reads. */
function result(backend: string, n: number, p99Us: number, stateDim = 16, horizon = 1): SizeResult {
  return {
    stateDim,
    actionDim: 4,
    n,
    backend,
    horizon,
    stepP50Ns: p99Us * 500,
    stepP99Ns: p99Us * 1000,
    p99PerRunNs: [p99Us * 1000],
    stages: { encodeP50Ns: 0, lookupP50Ns: 0, activationP50Ns: 0, planP50Ns: 0, storeP50Ns: 40e3 },
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

test.run();
