import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { brainConfig } from '../../brain/config.js';
import { createBrain } from '../../brain/create.js';
import { NO_SLOT } from '../../brain/memory/store.js';
import { MockClock } from '../../runtime/clock.js';
import { createFrame, LookupPath, Status } from '../../runtime/contracts.js';
import { lcg, recordingLog, setObservation, testBrain } from './helpers.js';

const brainSuite = suite('Brain');

async function runFor(brainSetup: Awaited<ReturnType<typeof testBrain>>, steps: number, seed: number) {
  const { brain, frame, action, times } = brainSetup;
  const random = lcg(seed);
  let x = [0.3, -0.2];
  const actions: number[] = [];
  for (let t = 0; t < steps; t++) {
    setObservation(frame, x, Math.exp(-(x[0]! ** 2)), t % 100 === 0);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    brain.maintain(Number.POSITIVE_INFINITY);
    actions.push(action[0]!);
    x = [x[0]! + 0.05 * x[1]!, 0.98 * x[1]! + 0.1 * action[0]! + 0.01 * (random() - 0.5)];
    if (t % 100 === 99) x = [random() * 2 - 1, 0];
  }
  return actions;
}

brainSuite('NaN, Infinity and wrong lengths are rejected, counted, never stored; the brain keeps working', async () => {
  const setup = await testBrain({ normaliser: { warmupSteps: 10 } }, 2, 1);
  const { brain, frame, action, times } = setup;
  await runFor(setup, 50, 1);
  const stored = brain.counters.stored;
  const size = brain.size();
  action[0] = 0.123;
  setObservation(frame, [Number.NaN, 0], 0, false);
  assert.is(brain.step(frame, Number.POSITIVE_INFINITY, action, times), Status.nonFinite);
  brain.maintain(Number.POSITIVE_INFINITY);
  setObservation(frame, [0, Number.POSITIVE_INFINITY], 0, false);
  assert.is(brain.step(frame, Number.POSITIVE_INFINITY, action, times), Status.nonFinite);
  brain.maintain(Number.POSITIVE_INFINITY);
  setObservation(frame, [0, 0], Number.NaN, false);
  assert.is(brain.step(frame, Number.POSITIVE_INFINITY, action, times), Status.nonFinite);
  brain.maintain(Number.POSITIVE_INFINITY);
  const wide = createFrame(3);
  assert.is(brain.step(wide, Number.POSITIVE_INFINITY, action, times), Status.wrongLength);
  assert.is(brain.step(frame, Number.POSITIVE_INFINITY, new Float32Array(2), times), Status.wrongLength);
  brain.maintain(Number.POSITIVE_INFINITY);
  assert.is(action[0], Math.fround(0.123)); // untouched
  assert.is(brain.counters.rejectedNonFinite, 3);
  assert.is(brain.counters.rejectedWrongLength, 2);
  assert.is(brain.counters.stored, stored);
  assert.is(brain.size(), size);
  for (let i = 0; i < brain.store.capacity; i++) {
    if (brain.store.alive[i] !== 1) continue;
    for (let d = 0; d < 2; d++) assert.ok(Number.isFinite(brain.store.context[i * 2 + d]!));
  }
  // still working: good frames are answered and stored again (the first one only starts a new chain)
  setObservation(frame, [0.1, 0.1], 0, false);
  assert.is(brain.step(frame, Number.POSITIVE_INFINITY, action, times), Status.ok);
  brain.maintain(Number.POSITIVE_INFINITY);
  assert.is(brain.counters.stored, stored);
  setObservation(frame, [0.2, 0.1], 0, false);
  assert.is(brain.step(frame, Number.POSITIVE_INFINITY, action, times), Status.ok);
  brain.maintain(Number.POSITIVE_INFINITY);
  assert.is(brain.counters.stored, stored + 1);
  assert.ok(Number.isFinite(action[0]!));
});

brainSuite('same seed and inputs give the same actions; another seed differs', async () => {
  const a = await runFor(await testBrain({ seed: 7, normaliser: { warmupSteps: 100 } }, 2, 1), 600, 3);
  const b = await runFor(await testBrain({ seed: 7, normaliser: { warmupSteps: 100 } }, 2, 1), 600, 3);
  const c = await runFor(await testBrain({ seed: 8, normaliser: { warmupSteps: 100 } }, 2, 1), 600, 3);
  assert.equal(a, b);
  assert.not.equal(a, c);
});

brainSuite('an episode start is not linked to the previous frame', async () => {
  const setup = await testBrain({ normaliser: { warmupSteps: 0 } }, 2, 1);
  const { brain, frame, action, times } = setup;
  const feed = (x: number, start: boolean) => {
    setObservation(frame, [x, 0], 0, start);
    brain.step(frame, Number.POSITIVE_INFINITY, action, times);
    brain.maintain(Number.POSITIVE_INFINITY);
  };
  feed(0, true);
  feed(1, false); // stores 0 -> 1
  feed(2, false); // stores 1 -> 2, successor of the first
  feed(10, true); // new episode: nothing stored
  feed(11, false); // stores 10 -> 11, not linked to 1 -> 2
  assert.is(brain.counters.stored, 3);
  const slotOf = (x: number) => {
    for (let s = 0; s < brain.store.capacity; s++)
      if (brain.store.alive[s] === 1 && brain.store.context[s * 2] === x) return s;
    return NO_SLOT;
  };
  const first = slotOf(0);
  const second = slotOf(1);
  assert.is(brain.store.liveSuccessor(first), second);
  assert.is(brain.store.liveSuccessor(second), NO_SLOT);
  assert.is(brain.store.outcome[slotOf(10) * 2], 1);
});

brainSuite('timings come from the injected clock, per stage', async () => {
  const setup = await testBrain({}, 2, 1);
  await runFor(setup, 20, 2);
  setup.clock.autoAdvanceNs = 1000;
  setObservation(setup.frame, [0, 0], 0, false);
  setup.brain.step(setup.frame, Number.POSITIVE_INFINITY, setup.action, setup.times);
  assert.is(setup.times.encodeNs, 1000);
  assert.is(setup.times.lookupNs, 1000);
  assert.is(setup.times.activationNs, 1000);
  assert.ok(setup.times.planNs >= 1000);
  assert.is(setup.times.lookupPath, LookupPath.linear);
});

brainSuite('learns to pick better actions on a 1-D reaching task than a zero action', async () => {
  // x'' = u with damping; reward exp(-x^2 / 0.5). Zero action leaves x where it starts.
  const setup = await testBrain({ normaliser: { warmupSteps: 2000 }, memory: { capacity: 20_000 } }, 2, 1);
  const { brain, frame, action, times } = setup;
  const random = lcg(17);
  const episode = (policy: 'brain' | 'zero', learn: boolean) => {
    brain.setExploration(learn);
    let x = random() < 0.5 ? -0.6 - 0.3 * random() : 0.6 + 0.3 * random();
    let v = 0;
    let reward = 0;
    let total = 0;
    for (let t = 0; t < 150; t++) {
      setObservation(frame, [x, v], reward, t === 0);
      brain.step(frame, Number.POSITIVE_INFINITY, action, times);
      if (learn) brain.maintain(Number.POSITIVE_INFINITY);
      const u = policy === 'zero' ? 0 : action[0]!;
      v = 0.95 * v + 0.1 * u;
      x += 0.05 * v;
      reward = Math.exp(-(x * x) / 0.5);
      total += reward;
    }
    return total;
  };
  for (let e = 0; e < 60; e++) episode('brain', true);
  let learned = 0;
  let zero = 0;
  for (let e = 0; e < 6; e++) {
    learned += episode('brain', false);
    zero += episode('zero', false);
  }
  console.log(`reaching: learned ${learned.toFixed(1)} vs zero ${zero.toFixed(1)} over 6 episodes`);
  assert.ok(learned > 1.5 * zero, `learned ${learned.toFixed(1)} vs zero ${zero.toFixed(1)}`);
});

brainSuite('createBrain builds the similarity registry by default', async () => {
  const log = recordingLog();
  const brain = await createBrain(brainConfig({ memory: { capacity: 100 } }), {
    observationSize: 2,
    actionSize: 1,
    clock: new MockClock(),
    log,
  });
  assert.is(brain.index.name, 'registry');
  assert.is(brain.index.activePath(), 'linear'); // an empty memory is served by the scan
  brain.dispose();
});

brainSuite('a bad config is an error that names the key', () => {
  assert.throws(() => brainConfig({ planner: { horizon: 0 } }), /horizon/);
  assert.throws(() => brainConfig({ planner: { actionMin: 1, actionMax: -1 } }), /actionMax/);
  assert.throws(() => brainConfig({ memory: { nope: 1 } }), /nope/);
});

brainSuite.run();
