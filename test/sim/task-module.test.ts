/** A user's task module (.ts) loads through the same interface as the built-ins and runs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Environment } from '../../sim/environment.js';
import { loadTaskModule, resolveTask } from '../../sim/task-module.js';

const example = new URL('./fixtures/pointer/pointer-task.ts', import.meta.url).pathname;

test('the worked example of docs/tasks.md loads and runs whole episodes', async () => {
  const task = await loadTaskModule(example);
  assert.is(task.name, 'pointer');
  const env = await Environment.create(task, 3);
  assert.is(env.substeps, 2);
  env.reset();
  const push = new Float64Array([1]);
  let steps = 0;
  while (!env.done) {
    env.step(push);
    steps += 1;
  }
  assert.is(steps, 500);
  // a constant push spins the arm: the reward sees the target at least once, but not always
  assert.ok(env.episodeReturn > 0 && env.episodeReturn < 500, `return ${env.episodeReturn}`);
  env.dispose();
});

test('built-in names and module paths resolve through one function', async () => {
  assert.is((await resolveTask('cartpole_balance')).name, 'cartpole_balance');
  assert.is((await resolveTask(example)).name, 'pointer');
  await resolveTask('no_such_task').then(
    () => assert.unreachable(),
    (error: Error) => assert.match(error.message, /unknown task 'no_such_task'; built-in tasks: pendulum_swingup/),
  );
});

test('a bad task module is a clear error naming every problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-task-'));
  const path = join(dir, 'bad-task.mjs');
  writeFileSync(
    path,
    "export default { name: 'bad', physicsTimestep: 0.02, controlTimestep: 0.03, episodeSteps: 10 };\n",
  );
  await loadTaskModule(path).then(
    () => assert.unreachable(),
    (error: Error) => {
      assert.match(error.message, /bad task definition/);
      assert.match(error.message, /'modelFile' must be a non-empty string/);
      assert.match(error.message, /'bind' must be a function/);
      assert.match(error.message, /whole multiple/);
    },
  );
  await loadTaskModule(join(dir, 'missing.ts')).then(
    () => assert.unreachable(),
    (error: Error) => assert.match(error.message, /task module not found/),
  );
});

test.run();
