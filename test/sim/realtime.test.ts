/** `engram sim --realtime` pieces: the environment as a Driver, and a short run through the real loop. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RandomController } from '../../runtime/cli/sim/baselines.js';
import { EnvironmentDriver, realtimeConfig, runRealtime } from '../../runtime/cli/sim/realtime.js';
import { systemClock } from '../../runtime/clock.js';
import { createAction, createFrame, Status } from '../../runtime/contracts.js';
import { Environment } from '../../sim/environment.js';
import type { TaskDefinition } from '../../sim/task.js';
import { builtinTasks } from '../../sim/tasks/index.js';

const balance = builtinTasks.cartpole_balance as TaskDefinition;

test("EnvironmentDriver (engram run's in-process driver) hands out each frame once, steps once per action, and shows the final frame", async () => {
  const env = await Environment.create({ ...balance, episodeSteps: 3 }, 1);
  const driver = new EnvironmentDriver(env, systemClock);
  const frame = createFrame(5);
  const action = createAction(1);
  await driver.start();
  assert.is(driver.poll(frame), Status.ok);
  assert.is(frame.episodeStart, true);
  assert.is(driver.poll(frame), Status.noInput, 'one frame per step');
  for (let step = 1; step <= 3; step++) {
    driver.publish(action);
    assert.is(driver.poll(frame), Status.ok);
    assert.is(frame.episodeStart, false);
    assert.ok(frame.reward > 0, 'the reward of the step that led here');
  }
  assert.is(driver.stepsDone, 3);
  driver.publish(action); // answers the final frame: the next episode starts
  assert.is(driver.poll(frame), Status.ok);
  assert.is(frame.episodeStart, true);
  assert.is(driver.episodes.length, 1);
  assert.is(driver.stepsDone, 3);
  env.dispose();
});

test('a second of cartpole through the runtime loop at 100 Hz (in-process sim driver)', async () => {
  const controller = new RandomController(5, 1, -1, 1, 2);
  const config = realtimeConfig(balance, 2, {});
  assert.is(config.rateHz, 100);
  const result = await runRealtime({
    task: balance,
    taskSpec: balance.name,
    config,
    configSource: 'test',
    steps: 100,
    seed: 2,
    clock: systemClock,
    handle: { kind: 'random', controller, memorySize: () => 0, settings: {} },
  });
  // a shared machine may skip ticks; every cycle that ran published one action
  assert.ok(result.cycles > 50 && result.cycles <= 101, `cycles ${result.cycles}`);
  assert.ok(result.stepsDone >= result.cycles - 2, `steps ${result.stepsDone} for ${result.cycles} cycles`);
  // every answered frame's step time is logged; cycles without a fresh frame hold the last action
  assert.ok(result.stepTime.count >= result.cycles - result.heldActions - result.safeActions, 'step times logged');
  assert.ok(result.stepTime.count <= result.cycles);
  assert.is(result.episodes.length, 0, 'no 1000-step episode fits in a second');
});

test.run();
