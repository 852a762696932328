/** `engram sim --realtime` pieces: the in-process sim driver it and `engram run` use, and a short run through the real loop. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InProcessSimDriver, simChannels } from '../../drivers/sim/inprocess.js';
import { RandomController } from '../../runtime/cli/sim/baselines.js';
import { realtimeConfig, runRealtime } from '../../runtime/cli/sim/realtime.js';
import { systemClock } from '../../runtime/clock.js';
import { createAction, createFrame, Status } from '../../runtime/contracts.js';
import type { TaskDefinition } from '../../sim/task.js';
import { builtinTasks } from '../../sim/tasks/index.js';

const balance = builtinTasks.cartpole_balance as TaskDefinition;

test("InProcessSimDriver (engram run's and --realtime's driver) hands out each frame once, steps once per answer, and shows the final frame", async () => {
  const driver = new InProcessSimDriver({
    config: { task: balance.name, seed: 1 },
    channels: simChannels(balance),
    actionSize: balance.actionSize,
    clock: systemClock,
  });
  const frame = createFrame(balance.observationSize);
  const action = createAction(balance.actionSize);
  const stepsDone = () => driver.counters().actionsPublished - driver.episodeReturns().length;
  await driver.start();
  assert.is(driver.poll(frame), Status.ok);
  assert.is(frame.episodeStart, true);
  assert.is(frame.reward, 0, 'the first frame of an episode has no reward');
  assert.is(driver.poll(frame), Status.noInput, 'one frame per step');
  for (let step = 1; step <= balance.episodeSteps; step++) {
    action.frameSeq = frame.seq;
    driver.publish(action);
    assert.is(driver.poll(frame), Status.ok);
    assert.is(frame.episodeStart, false);
    if (step <= 3) assert.ok(frame.reward > 0, 'the reward of the step that led here');
  }
  assert.is(stepsDone(), balance.episodeSteps);
  assert.is(driver.episodeReturns().length, 0, 'the final frame is shown before the episode ends');
  action.frameSeq = frame.seq;
  driver.publish(action); // answers the final frame: the next episode starts, physics does not step
  assert.is(driver.poll(frame), Status.ok);
  assert.is(frame.episodeStart, true);
  assert.is(driver.episodeReturns().length, 1);
  assert.ok(driver.episodeReturns()[0]! > 0);
  assert.is(stepsDone(), balance.episodeSteps);
  await driver.stop();
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
