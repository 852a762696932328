/**
 * The hot path allocates (almost) nothing: a brain step + maintain at full planning effort, on the
 * exact-scan index with a mock clock, and on the HNSW index (engram's typed binding) with the real
 * monotonic clock. A double boxed where TurboFan does not inline a call costs 16 B: a regression
 * that boxes per step costs tens of bytes, per candidate or rollout step kilobytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SinglePathIndex } from '../../brain/linear-index.js';
import type { VectorSource } from '../../brain/memory/store.js';
import { HnswBackend, hnswFactory } from '../../brain/similarity/hnsw.js';
import { MockClock } from '../../runtime/clock.js';
import { brainBytesPerStep } from './helpers.js';

// Measured (V8's sampling heap profile, bench/lib/heap-sampling.ts): ~7 B per step on the exact
// scan and 32 B on HNSW, in most runs; heap growth, which also sees the JIT's own allocations
// landing in the window, read 70-180 B in 3 of 8 runs. The 32 B are MemoryPressure.check's two
// Float64Array reads: after the test's 5,000 steps V8 still interprets that small once-per-step
// function (it optimizes it after ~10k calls), and interpreted code boxes every double it loads.
// The limit catches what matters: boxing per candidate or rollout step is 512 B and more. Before:
// ~8 KB with a clamp that boxed every action value, 1.2-2.7 KB through hnswlib-node's binding,
// ~250 B from doubles crossing calls (clock reads, Rng.normal, the value estimate, the MPPI
// score), 60 B from clamp's argument and result where choose did not inline it.
const limit = 320;

test(`a brain step + maintain allocates under ${limit} bytes at 32 candidates x horizon 16 (exact scan, mock clock)`, async () => {
  // The clock moves (1 µs per read) so the memory-pressure check runs at its period, as it does on
  // a robot, not on every maintain (each check reads free memory: a boxed number).
  const { perStep, size } = await brainBytesPerStep({}, 8, { index: 'linear', clock: new MockClock(0, 1000) });
  if (perStep === undefined) return;
  assert.ok(perStep < limit, `${perStep.toFixed(1)} bytes per step`);
  assert.ok(size <= 400);
});

test(`... and under ${limit} bytes on HNSW (typed binding) with the real clock`, async () => {
  const { systemClock } = await import('../../runtime/clock.js');
  const index = async (source: VectorSource) => {
    const created = await hnswFactory({ M: 12, efConstruction: 64, efSearch: 48, seed: 1 }).create(source);
    if (!(created instanceof HnswBackend)) throw created;
    assert.is(created.bindingName, 'typed');
    return new SinglePathIndex(created);
  };
  const { perStep, size } = await brainBytesPerStep({}, 16, { index, clock: systemClock });
  if (perStep === undefined) return;
  assert.ok(perStep < limit, `${perStep.toFixed(1)} bytes per step`);
  assert.ok(size <= 400);
});

test.run();
