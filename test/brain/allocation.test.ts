/**
 * The hot path allocates (almost) nothing: a brain step + maintain at full planning effort, on the
 * exact-scan index (hnswlib-node's search result object is the library's allocation, measured in
 * `engram bench brain`) and a mock clock. A double boxed where TurboFan does not inline a call
 * costs 16 B; a regression that boxes per candidate or per rollout step costs kilobytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { leastHeapGrowthPer } from '../heap-growth.js';
import { setObservation, testBrain } from './helpers.js';

test('a brain step + maintain allocates under 512 bytes at 32 candidates x horizon 16 (least of three windows)', async () => {
  const stateDim = 8;
  const { brain, frame, action, times } = await testBrain(
    { seed: 3, memory: { capacity: 400 }, planner: { candidates: 32, horizon: 16 }, normaliser: { warmupSteps: 50 } },
    stateDim,
    2,
  );
  const state = new Float64Array(stateDim);
  let t = 0;
  let reward = 0;
  const steps = (count: number) => {
    for (let s = 0; s < count; s++) {
      setObservation(frame, state, reward, t % 200 === 0);
      brain.step(frame, Number.POSITIVE_INFINITY, action, times);
      brain.maintain(Number.POSITIVE_INFINITY);
      t++;
      for (let i = 0; i < stateDim; i++) state[i] = Math.sin(0.05 * t * (i + 1)) + 0.2 * action[i & 1]!;
      reward = state[0]! > 0.8 ? 1 : 0;
    }
  };
  steps(1500); // fill past capacity (evicting), warm the JIT
  const perStep = leastHeapGrowthPer(steps, 1000);
  if (perStep === undefined) return;
  // Measured ~250 B. Before the planner's clamp used Math.min/max, a ternary mixing the integer
  // action limits with a double boxed one heap number per action value: ~8 KB per step.
  assert.ok(perStep < 512, `${perStep.toFixed(0)} bytes per step`);
  assert.ok(brain.size() <= 400);
  brain.dispose();
});

test.run();
