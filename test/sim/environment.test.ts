/** The environment: determinism under a seed, episode bookkeeping, and clear errors for bad input. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Environment } from '../../sim/environment.js';
import { Rng } from '../../sim/random.js';
import type { TaskDefinition } from '../../sim/task.js';
import { builtinTasks } from '../../sim/tasks/index.js';

const steps = 400;

/** Returns of a few short random-action runs, and the last observation. */
async function rollout(task: TaskDefinition, seed: number): Promise<number[]> {
  const env = await Environment.create(task, seed);
  const actions = new Rng(seed + 1);
  const action = new Float32Array(task.actionSize);
  const trace: number[] = [];
  for (let episode = 0; episode < 2; episode++) {
    env.reset();
    trace.push(...env.observation);
    for (let step = 0; step < steps; step++) {
      for (let i = 0; i < action.length; i++) action[i] = actions.uniform(-1, 1);
      env.step(action);
    }
    trace.push(env.episodeReturn, ...env.observation);
  }
  env.dispose();
  return trace;
}

for (const task of Object.values(builtinTasks)) {
  test(`${task.name}: same seed, same trajectory; another seed, another`, async () => {
    const first = await rollout(task, 5);
    const again = await rollout(task, 5);
    const other = await rollout(task, 6);
    assert.equal(again, first);
    assert.not.equal(other, first);
  });
}

test('an episode is episodeSteps control steps; its return sums the rewards', async () => {
  const task = builtinTasks.cartpole_balance as TaskDefinition;
  const env = await Environment.create(task, 1);
  env.reset();
  const zero = new Float64Array(1);
  let sum = 0;
  let count = 0;
  while (!env.done) {
    sum += env.step(zero);
    count += 1;
  }
  assert.is(count, task.episodeSteps);
  assert.ok(Math.abs(env.episodeReturn - sum) < 1e-9);
  assert.ok(env.episodeReturn > 0 && env.episodeReturn <= 1000);
  assert.throws(() => env.step(zero), /reset\(\)/);
  env.dispose();
});

test('bad actions are clear errors', async () => {
  const env = await Environment.create(builtinTasks.point_mass_easy as TaskDefinition, 1);
  env.reset();
  assert.throws(() => env.step([0.1]), /action has 1 entries, expected 2/);
  assert.throws(() => env.step([0.1, Number.NaN]), /action\[1\] is NaN/);
  assert.throws(() => env.step([Number.POSITIVE_INFINITY, 0]), /action\[0\] is Infinity/);
  env.dispose();
});

test('a task that disagrees with its model is refused', async () => {
  const pendulum = builtinTasks.pendulum_swingup as TaskDefinition;
  await Environment.create({ ...pendulum, physicsTimestep: 0.01, controlTimestep: 0.01 }, 1).then(
    () => assert.unreachable('timestep mismatch accepted'),
    (error: Error) => assert.match(error.message, /physicsTimestep 0.01 differs from the model's timestep 0.02/),
  );
  await Environment.create({ ...pendulum, actionSize: 2 }, 1).then(
    () => assert.unreachable('actuator count mismatch accepted'),
    (error: Error) => assert.match(error.message, /actionSize 2 differs from the model's 1 actuators/),
  );
});

test.run();
