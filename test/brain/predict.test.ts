/**
 * The kNN forward model learns a known linear dynamics x' = A x + B u. Data: trajectories of a
 * stable, lightly damped 2-D oscillator driven by smooth random actions (realistic, not iid),
 * stored through the brain. Stated error: on held-out states along a fresh trajectory, the
 * predicted next-state delta has a relative RMS error below 0.35 (kernel model) and below 0.15
 * (local linear model), where 1.0 means no better than predicting "no change".
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lcg, setObservation, testBrain } from './helpers.js';

const predict = suite('forward model');

const A = [
  [0.995, 0.05],
  [-0.1, 0.99],
];
const B = [0, 0.1];

function advance(x: number[], u: number): number[] {
  return [A[0]![0]! * x[0]! + A[0]![1]! * x[1]! + B[0]! * u, A[1]![0]! * x[0]! + A[1]![1]! * x[1]! + B[1]! * u];
}

async function trainedBrain(model: 'kernel' | 'local-linear') {
  const setup = await testBrain(
    { memory: { capacity: 20_000 }, planner: { model, candidates: 4, horizon: 2 }, normaliser: { warmupSteps: 500 } },
    2,
    1,
  );
  const { brain, frame, action, times } = setup;
  const random = lcg(11);
  let x = [0, 0];
  let u = 0;
  brain.setExploration(true);
  for (let t = 0; t < 8000; t++) {
    if (t % 400 === 0) x = [random() * 2 - 1, random() * 2 - 1];
    setObservation(frame, x, 0, t % 400 === 0);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    // Replace the brain's choice with a smooth random action so the data covers the action range.
    u = Math.max(-1, Math.min(1, 0.9 * u + 0.4 * (random() * 2 - 1)));
    action[0] = u;
    assert.ok(brain.recordAppliedAction(action));
    brain.maintain(Number.POSITIVE_INFINITY);
    x = advance(x, u);
  }
  return brain;
}

function relativeError(
  brain: Awaited<ReturnType<typeof trainedBrain>>,
  predictNext: (obs: Float32Array, act: Float32Array, out: Float32Array) => void,
) {
  const random = lcg(99);
  let x = [0.5, -0.3];
  let errorSum = 0;
  let deltaSum = 0;
  const obs = new Float32Array(2);
  const act = new Float32Array(1);
  const out = new Float32Array(2);
  for (let t = 0; t < 300; t++) {
    const u = random() * 2 - 1;
    obs.set(x);
    act[0] = u;
    predictNext(obs, act, out);
    const next = advance(x, u);
    for (let i = 0; i < 2; i++) {
      errorSum += (out[i]! - next[i]!) ** 2;
      deltaSum += (next[i]! - x[i]!) ** 2;
    }
    x = next;
  }
  void brain;
  return Math.sqrt(errorSum / deltaSum);
}

predict("kernel regression learns x' = A x + B u (relative RMS error of the delta < 0.35)", async () => {
  const brain = await trainedBrain('kernel');
  assert.ok(brain.size() > 7000);
  const error = relativeError(brain, (obs, act, out) => {
    const confidence = brain.predictOutcome(obs, act, out);
    assert.ok(confidence >= 0 && confidence < 1);
  });
  assert.ok(error < 0.35, `relative error ${error.toFixed(3)}`);
});

predict('the local linear fit learns it tighter (relative RMS error < 0.15)', async () => {
  const brain = await trainedBrain('local-linear');
  const error = relativeError(brain, (obs, act, out) => {
    assert.ok(brain.predictOutcome(obs, act, out, 'local-linear') >= 0);
  });
  assert.ok(error < 0.15, `relative error ${error.toFixed(3)}`);
});

predict('bad input to predictOutcome is refused, not thrown', async () => {
  const { brain } = await testBrain({}, 2, 1);
  assert.is(brain.predictOutcome(new Float32Array([Number.NaN, 0]), new Float32Array(1), new Float32Array(2)), -1);
  assert.is(brain.predictOutcome(new Float32Array(3), new Float32Array(1), new Float32Array(2)), -1);
});

predict.run();
