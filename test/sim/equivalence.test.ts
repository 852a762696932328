/**
 * engram's own MJCF models against the DeepMind Control Suite originals: from the same state under
 * the same action sequence, the same trajectory (qpos, qvel, observation, reward) within 1e-9.
 * The originals live in ../shared/mjcf/dm_control beside the repository; absent, the test skips.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Physics } from '../../sim/mujoco.js';
import { Rng } from '../../sim/random.js';
import { builtinTasks } from '../../sim/tasks/index.js';

const repoRoot = resolve(new URL('../..', import.meta.url).pathname);
const originals = join(repoRoot, '..', 'shared', 'mjcf', 'dm_control');
const originalOf: Record<string, string> = {
  pendulum_swingup: 'pendulum.xml',
  cartpole_swingup: 'cartpole.xml',
  cartpole_balance: 'cartpole.xml',
  point_mass_easy: 'point_mass.xml',
  reacher_easy: 'reacher.xml',
};
const episodes = 3;
const steps = 300;
const within = 1e-9;

function assertSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.is(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs((a[i] as number) - (b[i] as number));
    assert.ok(difference <= within, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

if (!existsSync(originals)) {
  console.log(`skipped: the dm_control originals are not at ${originals} (clone ../shared beside the repository)`);
  test.skip('engram models match the dm_control originals', () => {});
} else {
  for (const [name, file] of Object.entries(originalOf)) {
    test(`${name}: engram's model follows ${file} step for step`, async () => {
      const task = builtinTasks[name];
      assert.ok(task, name);
      const ours = await Physics.load(task.modelFile);
      const theirs = await Physics.load(join(originals, file));
      assert.is(ours.modelFile === theirs.modelFile, false, 'two different model files');
      assert.is(ours.timestep, theirs.timestep);
      assert.is(ours.integrator, theirs.integrator);
      const oursTask = task.bind(ours);
      const theirsTask = task.bind(theirs);
      const oursObservation = new Float64Array(task.observationSize);
      const theirsObservation = new Float64Array(task.observationSize);
      const actions = new Rng(99);
      let moved = 0;
      for (let episode = 0; episode < episodes; episode++) {
        // the same initial state on both: the task's sampler under equal seeds
        for (const [physics, bound] of [
          [ours, oursTask],
          [theirs, theirsTask],
        ] as const) {
          physics.reset();
          bound.initializeEpisode(physics, new Rng(1000 + episode));
          physics.forward();
        }
        assertSame(ours.qpos, theirs.qpos, 'initial qpos');
        const start = ours.qpos[0] as number;
        for (let step = 0; step < steps; step++) {
          for (let i = 0; i < task.actionSize; i++) {
            // beyond the control range too: both must clamp alike
            const action = actions.uniform(-1.3, 1.3);
            ours.ctrl[i] = action;
            theirs.ctrl[i] = action;
          }
          ours.step(1);
          theirs.step(1);
          assertSame(ours.qpos, theirs.qpos, `episode ${episode} step ${step} qpos`);
          assertSame(ours.qvel, theirs.qvel, `episode ${episode} step ${step} qvel`);
          oursTask.observe(ours, oursObservation);
          theirsTask.observe(theirs, theirsObservation);
          assertSame(oursObservation, theirsObservation, `episode ${episode} step ${step} observation`);
          assertSame([oursTask.reward(ours)], [theirsTask.reward(theirs)], `episode ${episode} step ${step} reward`);
        }
        moved += Math.abs((ours.qpos[0] as number) - start);
      }
      assert.ok(moved > 1e-3, 'the trajectories actually moved');
      ours.dispose();
      theirs.dispose();
    });
  }
}

test.run();
