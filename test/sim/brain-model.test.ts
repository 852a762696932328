/**
 * The brain's forward model against the physics it learns from: after a few episodes of
 * cartpole_balance, the effect of the action that the model predicts (next state after +1 minus
 * after -1) must point the way MuJoCo's does, on the velocities the action drives. This separates
 * "the model has not learnt the dynamics" from "the planner does not use them well".
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Brain } from '../../brain/brain.js';
import { makeBrainHandle } from '../../runtime/cli/sim/brain-handle.js';
import { LockstepSession } from '../../runtime/cli/sim/lockstep.js';
import { systemClock } from '../../runtime/clock.js';
import { Environment } from '../../sim/environment.js';
import { Physics } from '../../sim/mujoco.js';
import { Rng } from '../../sim/random.js';
import type { TaskDefinition } from '../../sim/task.js';
import { builtinTasks } from '../../sim/tasks/index.js';

const task = builtinTasks.cartpole_balance as TaskDefinition;
const trainingEpisodes = 4;
const probes = 200;
/** observation entries the force moves within one step: cart velocity, pole angular velocity */
const driven = [3, 4];

test('the learnt model predicts the direction of the action on cartpole velocities', async () => {
  const handle = await makeBrainHandle(task, 1, {});
  const brain = handle.controller as Brain;
  const env = await Environment.create(task, 1);
  const session = new LockstepSession(env, brain, { clock: systemClock, stepBudgetNs: 1e7, maintainBudgetNs: 1e7 });
  for (let e = 0; e < trainingEpisodes; e++) session.runEpisode();

  const probe = await Environment.create(task, 77);
  const twin = await Physics.load(task.modelFile);
  const twinTask = task.bind(twin);
  const rng = new Rng(5);
  const observation = new Float32Array(5);
  const action = new Float32Array(1);
  const predicted = new Float32Array(5);
  const actual = new Float64Array(5);
  const dot = new Float64Array(5);
  const predictedSquares = new Float64Array(5);
  const actualSquares = new Float64Array(5);
  probe.reset();
  for (let t = 0; t < probes; t++) {
    for (let i = 0; i < 5; i++) observation[i] = probe.observation[i] as number;
    const predictedEffect = new Float64Array(5);
    const actualEffect = new Float64Array(5);
    for (const sign of [1, -1]) {
      action[0] = sign;
      assert.ok(brain.predictOutcome(observation, action, predicted) >= 0, 'a prediction');
      twin.reset();
      twin.qpos.set(probe.physics.qpos);
      twin.qvel.set(probe.physics.qvel);
      twin.forward();
      twin.ctrl[0] = sign;
      twin.step(1);
      twinTask.observe(twin, actual);
      for (let i = 0; i < 5; i++) {
        predictedEffect[i] =
          (predictedEffect[i] as number) + sign * ((predicted[i] as number) - (observation[i] as number));
        actualEffect[i] = (actualEffect[i] as number) + sign * ((actual[i] as number) - (observation[i] as number));
      }
    }
    for (let i = 0; i < 5; i++) {
      dot[i] = (dot[i] as number) + (predictedEffect[i] as number) * (actualEffect[i] as number);
      predictedSquares[i] = (predictedSquares[i] as number) + (predictedEffect[i] as number) ** 2;
      actualSquares[i] = (actualSquares[i] as number) + (actualEffect[i] as number) ** 2;
    }
    probe.step([rng.uniform(-1, 1)]);
  }
  for (const i of driven) {
    const cosine = (dot[i] as number) / Math.sqrt((predictedSquares[i] as number) * (actualSquares[i] as number));
    console.log(`${task.observationNames[i]}: cosine of predicted and true action effect ${cosine.toFixed(3)}`);
    assert.ok(cosine > 0.8, `${task.observationNames[i]}: cosine ${cosine}`);
  }
  probe.dispose();
  twin.dispose();
  env.dispose();
  handle.dispose?.();
});

test.run();
