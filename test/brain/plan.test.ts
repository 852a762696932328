import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Status } from '../../runtime/contracts.js';
import { lcg, setObservation, testBrain } from './helpers.js';

const plan = suite('planner');

async function warmBrain(candidates: number, observationSize = 3) {
  const setup = await testBrain(
    { planner: { candidates, horizon: 4 }, normaliser: { warmupSteps: 50 } },
    observationSize,
    2,
  );
  const random = lcg(5);
  for (let t = 0; t < 300; t++) {
    setObservation(
      setup.frame,
      Array.from({ length: observationSize }, () => random()),
      random(),
      t % 100 === 0,
    );
    setup.brain.step(setup.frame, Number.POSITIVE_INFINITY, setup.action, setup.times);
    setup.brain.maintain(Number.POSITIVE_INFINITY);
  }
  return setup;
}

plan('honours its deadline under a mock clock: stops between candidates and returns the best so far', async () => {
  const { brain, clock, frame, action, times } = await warmBrain(64);
  // Every clock read moves time by 10 µs; the deadline is 100 µs after the step starts.
  clock.autoAdvanceNs = 10_000;
  const start = clock.peek();
  action.fill(Number.NaN);
  const status = brain.step(frame, start + 100_000, action, times);
  assert.is(status, Status.deadline);
  assert.ok(brain.planner.scored >= 1 && brain.planner.scored < 64, `scored ${brain.planner.scored}`);
  // Anytime: the planner never starts a candidate after the deadline, so at most one clock tick late.
  assert.ok(clock.peek() - start <= 100_000 + 2 * 10_000 + 5 * 10_000, `took ${clock.peek() - start} ns`);
  for (const value of action) assert.ok(value >= -1 && value <= 1, `action ${value}`);
  assert.is(brain.counters.deadlineHits, 1);
});

plan('returns before its deadline: a group of candidates that would end past it is not started', async () => {
  const { brain, clock, frame, action, times } = await warmBrain(64);
  // Every clock read moves time by 10 µs, so in this clock's time each group of candidates costs
  // one read: 10 µs. The step reads the clock once more after the planner (its last stage stamp).
  clock.autoAdvanceNs = 10_000;
  const deadline = clock.peek() + 100_000;
  const status = brain.step(frame, deadline, action, times);
  assert.is(status, Status.deadline);
  const lastReading = clock.peek() - 10_000;
  assert.ok(lastReading <= deadline, `the step's last reading ${lastReading - deadline} ns past the deadline`);
  // and it did not stop early: one more group would have ended past the deadline
  assert.ok(lastReading + 10_000 > deadline, `stopped ${deadline - lastReading} ns before the deadline`);
});

plan(
  'the first walk step over the candidates gathered once per step finds what the walk through the store finds',
  async () => {
    // 24 dimensions: walkFirst stops summing a distance part way (every 8 dimensions) once it is out
    const { brain, frame, action, times } = await warmBrain(16, 24);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    // The planner's internals, reached by name: walkFirst is an optimisation of walkFrom's first
    // step, and this checks the two agree, slot for slot and bit for bit, at many predicted states.
    const planner = brain.planner;
    const x = planner['x'];
    const startCount = Math.min(planner['startCount'], planner['lookupSlots'].length);
    assert.ok(startCount > 0 && planner['firstWalkCount'] > startCount, 'the step gathered a walk set');
    const random = lcg(11);
    for (let trial = 0; trial < 50; trial++) {
      const state = Array.from(x, () => random() * 4 - 2);
      x.set(state);
      const foundFirst = planner['walkFirst']();
      const first = { slots: [...planner['lookupSlots']], distances: [...planner['lookupDistances']] };
      x.set(state);
      for (let n = 0; n < startCount; n++) planner['lookupSlots'][n] = planner['startSlots']![n]!;
      const foundWalk = planner['walkFrom'](startCount);
      assert.is(foundFirst, foundWalk);
      assert.equal(first.slots.slice(0, foundFirst), [...planner['lookupSlots']].slice(0, foundWalk));
      assert.equal(first.distances.slice(0, foundFirst), [...planner['lookupDistances']].slice(0, foundWalk));
    }
  },
);

plan('the local model predicts at its centre as predict does there, bit for bit', async () => {
  const { brain, frame, action, times } = await warmBrain(16, 24);
  brain.step(frame, Number.POSITIVE_INFINITY, action, times);
  const local = brain.planner['local'];
  const centre = Float32Array.from(local['centre']);
  const random = lcg(3);
  const actions = new Float32Array(8);
  for (let trial = 0; trial < 20; trial++) {
    for (let i = 0; i < actions.length; i++) actions[i] = random() * 2 - 1;
    local.predict(centre, actions, 2);
    const expected = { delta: [...local.delta], reward: local.reward };
    local.delta.fill(Number.NaN);
    local.predictAtCentre(actions, 2);
    assert.equal({ delta: [...local.delta], reward: local.reward }, expected);
    assert.ok(
      expected.delta.some((value) => value !== 0),
      'a fitted model predicts some change',
    );
  }
});

plan('with time to spare it scores every candidate and reports ok', async () => {
  const { brain, frame, action, times } = await warmBrain(16);
  const status = brain.step(frame, Number.POSITIVE_INFINITY, action, times);
  assert.is(status, Status.ok);
  assert.is(brain.planner.scored, 16);
});

plan('a deadline already past still yields one group of scored candidates and an in-range action', async () => {
  const { brain, frame, action, times } = await warmBrain(16);
  action.fill(Number.NaN);
  const status = brain.step(frame, 0, action, times);
  assert.is(status, Status.deadline);
  // the clock is read every 4 candidates: the first group runs, nothing after it
  assert.ok(brain.planner.scored >= 1 && brain.planner.scored <= 4, `scored ${brain.planner.scored}`);
  for (const value of action) assert.ok(Number.isFinite(value));
});

plan('setEffort lowers candidates and horizon, clamped to the configured maxima', async () => {
  const { brain, frame, action, times } = await warmBrain(16);
  brain.setEffort({ candidates: 4, horizon: 1, ef: 16 });
  brain.step(frame, Number.POSITIVE_INFINITY, action, times);
  assert.is(brain.planner.scored, 4);
  brain.setEffort({ candidates: 1000, horizon: 1000, ef: 16 });
  brain.step(frame, Number.POSITIVE_INFINITY, action, times);
  assert.is(brain.planner.scored, 16);
});

plan('prefers the action a known linear system rewards (planning uses the model, not chance)', async () => {
  // x' = x + 0.1 u, reward = -|x' - 0.5|: from x = 0 the right action is positive.
  const { brain, frame, action, times } = await testBrain(
    { planner: { candidates: 32, horizon: 3 }, normaliser: { warmupSteps: 0 } },
    1,
    1,
  );
  const random = lcg(21);
  let x = 0;
  for (let t = 0; t < 3000; t++) {
    if (t % 20 === 0) x = random() * 2 - 1;
    setObservation(frame, [x], -Math.abs(x - 0.5), t % 20 === 0);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    const u = random() * 2 - 1;
    action[0] = u;
    brain.recordAppliedAction(action);
    brain.maintain(Number.POSITIVE_INFINITY);
    x += 0.1 * u;
  }
  brain.setExploration(false);
  let positive = 0;
  for (const start of [-0.5, -0.2, 0, 0.2]) {
    setObservation(frame, [start], 0, true);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    if (action[0]! > 0.2) positive++;
  }
  assert.is(positive, 4);
});

plan('the dual-coordinate rollout equals stepping an explicit state through the local linear model', async () => {
  const { brain } = await warmBrain(8);
  const dim = 3;
  const ctx = new Float32Array([0.4, 0.5, 0.6]);
  const slots = new Int32Array(16);
  const distances = new Float32Array(16);
  const count = brain.index.search(ctx, 16, slots, distances);
  assert.ok(count > 8);
  const local = brain.local;
  local.bandwidth = 0.05;
  local.fit(ctx, slots, distances, count);
  const horizon = 4;
  const discount = 0.9;
  const actions = new Float32Array([0.5, -0.2, 0.1, 0.9, -1, 0, 0.3, 0.3]);
  local.rollout(actions, horizon, discount);
  // primal: x_{h+1} = x_h + delta(x_h, a_h); score = sum discount^h r_h + discount^H V(x_H)
  const x = Float32Array.from(ctx);
  let score = 0;
  let weight = 1;
  for (let h = 0; h < horizon; h++) {
    local.predict(x, actions, h * 2);
    score += weight * local.reward;
    weight *= discount;
    for (let i = 0; i < dim; i++) x[i] = x[i]! + local.delta[i]!;
  }
  local.evaluateValue(x);
  score += weight * local.lastValue;
  assert.ok(Math.abs(score - local.rolloutScore) < 1e-3 * (1 + Math.abs(score)), `${score} vs ${local.rolloutScore}`);
});

plan.run();
