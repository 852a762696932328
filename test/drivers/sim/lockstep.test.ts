/**
 * The simulator as a separate process over ZeroMQ, lock-step: with the same seed and the same
 * learning brain, the episode returns equal the in-process run (runtime/cli/sim/lockstep.ts) to
 * the last bit; the in-process sim driver (for `engram run`) matches too. Real MuJoCo, real
 * sockets (ipc), real brain. Budgets are generous so the anytime planner never stops early (a
 * deadline cut would depend on machine load, not on the transport).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameResponder } from '../../../drivers/driver.js';
import { InProcessSimDriver, simChannels } from '../../../drivers/sim/inprocess.js';
import { spawnSimProcess } from '../../../drivers/sim/process.js';
import { runSimOverZmq } from '../../../drivers/sim/remote.js';
import { createSimZmqDriver } from '../../../drivers/sim/zmq.js';
import { ZmqDriver } from '../../../drivers/zmq/driver.js';
import { makeBrainHandle } from '../../../runtime/cli/sim/brain-handle.js';
import { LockstepSession } from '../../../runtime/cli/sim/lockstep.js';
import { systemClock } from '../../../runtime/clock.js';
import { createFrame, Status } from '../../../runtime/contracts.js';
import { Environment } from '../../../sim/environment.js';
import { builtinTask } from '../../../sim/task-module.js';
import { closeTracked, endpointsFor, track } from '../zmq/helpers.js';

const taskName = 'cartpole_balance';
const seed = 3;
const episodes = 2;
const budgets = { stepBudgetNs: 10e9, maintainBudgetNs: 10e9 };
const brainOverrides = { planner: { candidates: 8 } };

let referenceReturns: Promise<number[]> | undefined;
/** The in-process run, computed once per file. */
function inProcessReference(): Promise<number[]> {
  referenceReturns ??= computeReference();
  return referenceReturns;
}

async function computeReference(): Promise<number[]> {
  const task = builtinTask(taskName);
  const env = await Environment.create(task, seed);
  const handle = await makeBrainHandle(task, seed, brainOverrides);
  const session = new LockstepSession(env, handle.controller, { clock: systemClock, ...budgets });
  const returns: number[] = [];
  for (let e = 0; e < episodes; e++) returns.push(session.runEpisode());
  handle.dispose?.();
  env.dispose();
  return returns;
}

test(`lock-step over ZeroMQ (separate sim process) returns exactly the in-process returns (${taskName}, seed ${seed})`, async () => {
  const reference = await inProcessReference();
  const task = builtinTask(taskName);
  const handle = await makeBrainHandle(task, seed, brainOverrides);
  const { summary, rejectedSteps, driver } = await runSimOverZmq({
    task: taskName,
    observationSize: task.observationSize,
    actionSize: task.actionSize,
    seed,
    mode: 'lockstep',
    episodes,
    controller: handle.controller,
    clock: systemClock,
    ...budgets,
  });
  handle.dispose?.();
  console.log(
    `in-process ${reference.join(', ')}; over ZeroMQ ${summary.returns.join(', ')} in ${summary.seconds.toFixed(1)} s`,
  );
  assert.is(summary.resends, 0);
  assert.is(summary.steps, episodes * task.episodeSteps);
  assert.is(rejectedSteps, 0);
  assert.is(driver.framesRejected, 0);
  assert.equal(summary.returns, reference, 'bit-identical returns');
  assert.ok(
    reference.some((r) => r > 1),
    'the returns are not trivially zero',
  );
});

test("createSimZmqDriver (engram run, driver kind sim over zmq) spawns the sim with the config's channels and plays the same episodes", async () => {
  const reference = await inProcessReference();
  const task = builtinTask(taskName);
  const driver = createSimZmqDriver({
    config: { kind: 'sim', task: taskName, seed, transport: 'zmq', mode: 'lockstep' },
    // named as configs/cartpole_balance.yaml names them: the sim splits its observation to match
    channels: [
      { name: 'position', size: 3, maxAgeMs: 0 },
      { name: 'velocity', size: 2, maxAgeMs: 0 },
    ],
    actionSize: task.actionSize,
    clock: systemClock,
    episodes,
  });
  track(driver);
  const handle = await makeBrainHandle(task, seed, brainOverrides);
  const responder = new FrameResponder(driver, handle.controller, { clock: systemClock, ...budgets });
  responder.start();
  await driver.start();
  const summary = await driver.done;
  responder.stop();
  handle.dispose?.();
  assert.equal(summary.returns, reference);
  assert.is(driver.counters().framesReceived, episodes * (task.episodeSteps + 1));
});

test("real-time mode: the sim keeps the task's control rate and applies the newest answer", async () => {
  const task = builtinTask(taskName);
  const driver = track(
    new ZmqDriver({
      config: { ...endpointsFor('tcp'), maxMessageBytes: 1 << 16 },
      channels: simChannels(task),
      actionSize: task.actionSize,
      clock: systemClock,
    }),
  );
  await driver.start();
  const handle = await makeBrainHandle(task, seed, brainOverrides);
  const responder = new FrameResponder(driver, handle.controller, {
    clock: systemClock,
    stepBudgetNs: 5e6,
    maintainBudgetNs: 2e6,
  });
  responder.start();
  const steps = 60;
  const sim = spawnSimProcess({
    task: taskName,
    seed,
    mode: 'realtime',
    episodes: 1,
    maxSteps: steps,
    ...driver.boundEndpoints(),
  });
  track({ close: () => sim.kill() });
  const summary = await sim.done;
  responder.stop();
  handle.dispose?.();
  assert.is(summary.mode, 'realtime');
  assert.is(summary.steps, steps);
  // paced by the task's clock, never faster (a property of the mode, not a speed claim)
  assert.ok(summary.seconds >= steps * task.controlTimestep * 0.95, `took ${summary.seconds} s`);
  assert.ok(responder.answered >= steps / 2, `engram answered ${responder.answered} of ${steps + 1} frames`);
  assert.is(summary.returns.length, 0, 'a partial episode lists no return');
});

test('the in-process sim driver plays the same episodes (engram run with driver kind sim)', async () => {
  const reference = await inProcessReference();
  const task = builtinTask(taskName);
  const driver = new InProcessSimDriver({
    config: { task: taskName, seed },
    channels: simChannels(task),
    actionSize: task.actionSize,
    clock: systemClock,
  });
  await driver.start();
  const handle = await makeBrainHandle(task, seed, brainOverrides);
  const responder = new FrameResponder(driver, handle.controller, { clock: systemClock, ...budgets });
  // drive it as a loop would: poll/step/publish until the episodes are done
  while (driver.episodeReturns().length < episodes) responder.answer();
  assert.equal([...driver.episodeReturns()], reference);
  handle.dispose?.();
  await driver.stop();
});

test('in-process sim driver: frames only after an answer; stale or foreign answers do not step physics', async () => {
  const task = builtinTask(taskName);
  const driver = new InProcessSimDriver({
    config: { task: taskName, seed },
    channels: simChannels(task),
    actionSize: task.actionSize,
    clock: systemClock,
  });
  await driver.start();
  const frame = createFrame(task.observationSize);
  assert.is(driver.poll(frame), Status.ok);
  assert.is(frame.episodeStart, true);
  assert.ok(Math.abs(frame.receivedNs - systemClock.nowNs()) < 1e9, 'stamped on the runtime clock when polled');
  assert.is(driver.poll(frame), Status.noInput, 'no new frame before an answer');
  const action = {
    cycle: 0,
    frameSeq: frame.seq + 5,
    stale: false,
    publishedNs: 0,
    values: new Float32Array(task.actionSize),
  };
  driver.publish(action);
  assert.is(driver.poll(frame), Status.noInput, 'an answer to another frame is ignored');
  action.frameSeq = frame.seq;
  driver.publish(action);
  assert.is(driver.poll(frame), Status.ok);
  assert.is(frame.episodeStart, false);
  assert.is(frame.seq, 1);
  assert.is(driver.counters().rejectedByReason.ignoredActions, 1);
  await driver.stop();
});

test('a wrong channel layout is refused at start with the sizes', async () => {
  const driver = new InProcessSimDriver({
    config: { task: taskName, seed },
    channels: [{ name: 'x', size: 1, maxAgeMs: 0 }],
    actionSize: 2,
    clock: systemClock,
  });
  try {
    await driver.start();
    assert.unreachable('should refuse');
  } catch (error) {
    assert.match((error as Error).message, /has observation 5 and action 1; the config's channels add up to 1/);
  }
});

test.after.each(closeTracked);
test.run();
