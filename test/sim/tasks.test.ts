/**
 * Each built-in task against hand-computed values: rewards and observations at chosen states, and
 * the initial-state distribution of many resets (ranges and statistics).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Environment } from '../../sim/environment.js';
import { Physics } from '../../sim/mujoco.js';
import type { TaskDefinition, TaskInstance } from '../../sim/task.js';
import { builtinTasks } from '../../sim/tasks/index.js';

const close = (actual: number, expected: number, what: string, within = 1e-9) =>
  assert.ok(Math.abs(actual - expected) < within, `${what}: ${actual} != ${expected}`);

async function bound(name: string): Promise<{ task: TaskDefinition; physics: Physics; instance: TaskInstance }> {
  const task = builtinTasks[name];
  if (!task) throw new Error(`no task ${name}`);
  const physics = await Physics.load(task.modelFile);
  return { task, physics, instance: task.bind(physics) };
}

/** Puts the physics in a state: qpos, qvel and ctrl by index; everything else at defaults. */
function setState(physics: Physics, qpos: number[], qvel: number[] = [], ctrl: number[] = []): void {
  physics.reset();
  for (let i = 0; i < qpos.length; i++) physics.qpos[i] = qpos[i] as number;
  for (let i = 0; i < qvel.length; i++) physics.qvel[i] = qvel[i] as number;
  for (let i = 0; i < ctrl.length; i++) physics.ctrl[i] = ctrl[i] as number;
  physics.forward();
}

interface Moments {
  min: number;
  max: number;
  mean: number;
  std: number;
}
function moments(values: number[]): Moments {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { min, max, mean, std: Math.sqrt(squares / values.length) };
}

/** Resets `episodes` times and collects `read(physics)` for each initial state. */
async function initialStates(name: string, episodes: number, read: (physics: Physics) => number[]) {
  const task = builtinTasks[name] as TaskDefinition;
  const env = await Environment.create(task, 11);
  const columns: number[][] = [];
  for (let e = 0; e < episodes; e++) {
    env.reset();
    const row = read(env.physics);
    for (let i = 0; i < row.length; i++) {
      const column = columns[i] ?? [];
      column.push(row[i] as number);
      columns[i] = column;
    }
  }
  env.dispose();
  return columns.map(moments);
}

const uniformStd = (low: number, high: number) => (high - low) / Math.sqrt(12);

const pendulum = suite('pendulum_swingup');
pendulum('observation is [cos, sin, angular velocity] of the pole', async () => {
  const { physics, instance } = await bound('pendulum_swingup');
  const out = new Float64Array(3);
  setState(physics, [0.7], [1.5]);
  instance.observe(physics, out);
  close(out[0] as number, Math.cos(0.7), 'cos');
  close(out[1] as number, Math.sin(0.7), 'sin');
  close(out[2] as number, 1.5, 'velocity');
});
pendulum('reward is 1 within 8 degrees of upright, else 0', async () => {
  const { physics, instance } = await bound('pendulum_swingup');
  const degrees = Math.PI / 180;
  for (const [angle, expected] of [
    [0, 1],
    [7.9 * degrees, 1],
    [-7.9 * degrees, 1],
    [8.1 * degrees, 0],
    [Math.PI, 0],
    [-Math.PI / 2, 0],
  ] as const) {
    setState(physics, [angle]);
    assert.is(instance.reward(physics), expected, `angle ${angle}`);
  }
});
pendulum('initial angle uniform in [-pi, pi), velocity 0', async () => {
  const [angle, velocity] = await initialStates('pendulum_swingup', 4000, (p) => [
    p.qpos[0] as number,
    p.qvel[0] as number,
  ]);
  assert.ok(angle && velocity);
  assert.ok(angle.min >= -Math.PI && angle.max < Math.PI, `range ${angle.min}..${angle.max}`);
  assert.ok(angle.min < -3 && angle.max > 3, 'covers the whole circle');
  close(angle.mean, 0, 'mean', 0.1);
  close(angle.std, uniformStd(-Math.PI, Math.PI), 'std', 0.05);
  assert.is(velocity.min, 0);
  assert.is(velocity.max, 0);
});
pendulum.run();

const cartpole = suite('cartpole');
cartpole('observation is [cart position, pole cos, pole sin, cart velocity, pole angular velocity]', async () => {
  const { physics, instance } = await bound('cartpole_balance');
  const out = new Float64Array(5);
  setState(physics, [0.3, 0.4], [-0.2, 1.1]);
  instance.observe(physics, out);
  const expected = [0.3, Math.cos(0.4), Math.sin(0.4), -0.2, 1.1];
  for (let i = 0; i < 5; i++) close(out[i] as number, expected[i] as number, `entry ${i}`);
});
cartpole('reward = upright * centered * small_control * small_velocity', async () => {
  const { physics, instance } = await bound('cartpole_swingup');
  setState(physics, [0, 0], [0, 0], [0]);
  close(instance.reward(physics), 1, 'upright, centred, still, no force');
  // x = 1 (half a margin of 2), angle pi/3, force 0.5, spin 2 (0.4 of a margin of 5)
  setState(physics, [1, Math.PI / 3], [0, 2], [0.5]);
  const upright = (0.5 + 1) / 2;
  const centered = (1 + 0.1 ** (0.5 * 0.5)) / 2;
  const smallControl = (4 + (1 - 0.5 * 0.5)) / 5;
  const smallVelocity = (1 + 0.1 ** (0.4 * 0.4)) / 2;
  close(instance.reward(physics), upright * centered * smallControl * smallVelocity, 'chosen state');
  // hanging down: upright is 0 whatever else holds
  setState(physics, [0, Math.PI], [0, 0], [0]);
  close(instance.reward(physics), 0, 'hanging down');
});
cartpole('swingup starts hanging down with small noise', async () => {
  const stats = await initialStates('cartpole_swingup', 3000, (p) => [
    p.qpos[0] as number,
    p.qpos[1] as number,
    p.qvel[0] as number,
    p.qvel[1] as number,
  ]);
  const [cart, pole, cartVelocity, poleVelocity] = stats as [Moments, Moments, Moments, Moments];
  close(cart.mean, 0, 'cart mean', 0.001);
  close(cart.std, 0.01, 'cart std', 0.001);
  close(pole.mean, Math.PI, 'pole mean', 0.001);
  close(pole.std, 0.01, 'pole std', 0.001);
  close(cartVelocity.std, 0.01, 'cart velocity std', 0.001);
  close(poleVelocity.std, 0.01, 'pole velocity std', 0.001);
});
cartpole('balance starts near upright: cart U(-0.1, 0.1), pole U(-0.034, 0.034)', async () => {
  const stats = await initialStates('cartpole_balance', 3000, (p) => [
    p.qpos[0] as number,
    p.qpos[1] as number,
    p.qvel[1] as number,
  ]);
  const [cart, pole, poleVelocity] = stats as [Moments, Moments, Moments];
  assert.ok(cart.min >= -0.1 && cart.max < 0.1 && cart.min < -0.099 && cart.max > 0.099, 'cart range');
  assert.ok(pole.min >= -0.034 && pole.max < 0.034 && pole.min < -0.0335 && pole.max > 0.0335, 'pole range');
  close(cart.std, uniformStd(-0.1, 0.1), 'cart std', 0.003);
  close(pole.std, uniformStd(-0.034, 0.034), 'pole std', 0.001);
  close(poleVelocity.std, 0.01, 'pole velocity std', 0.001);
});
cartpole.run();

const pointMass = suite('point_mass_easy');
pointMass('reward = near_target * small_control', async () => {
  const { physics, instance } = await bound('point_mass_easy');
  setState(physics, [0.01, 0], [0, 0], [0.5, 0]);
  // inside the target (radius 0.015): near = 1; control mean of (1 - 0.25, 1)
  close(instance.reward(physics), 1 * ((0.875 + 4) / 5), 'inside the target');
  setState(physics, [0.03, 0], [0, 0], [0, 0]);
  close(instance.reward(physics), 0.1, 'one margin (0.015) outside the target');
  setState(physics, [0, 0.0225], [0, 0], [1, -1]);
  close(instance.reward(physics), 0.1 ** 0.25 * (4 / 5), 'half a margin out, full control');
});
pointMass('observation is [x, y, vx, vy]', async () => {
  const { physics, instance } = await bound('point_mass_easy');
  const out = new Float64Array(4);
  setState(physics, [0.1, -0.2], [0.3, 0.4]);
  instance.observe(physics, out);
  const expected = [0.1, -0.2, 0.3, 0.4];
  for (let i = 0; i < 4; i++) close(out[i] as number, expected[i] as number, `entry ${i}`);
});
pointMass('initial position uniform in [-0.29, 0.29] per axis', async () => {
  const stats = await initialStates('point_mass_easy', 3000, (p) => [p.qpos[0] as number, p.qpos[1] as number]);
  for (const axis of stats) {
    assert.ok(axis.min >= -0.29 && axis.max < 0.29 && axis.min < -0.28 && axis.max > 0.28, 'range');
    close(axis.mean, 0, 'mean', 0.01);
    close(axis.std, uniformStd(-0.29, 0.29), 'std', 0.006);
  }
});
pointMass.run();

const reacher = suite('reacher_easy');
reacher(
  'reward is 1 within 0.06 m (target + fingertip radii), else 0; observation holds target - fingertip',
  async () => {
    const { physics, instance } = await bound('reacher_easy');
    const target = 3 * physics.geomId('target');
    const out = new Float64Array(6);
    // arm straight along x: fingertip at 0.12 + 0.12 = 0.24
    for (const [x, y, expected] of [
      [0.2, 0, 1],
      [0.24, 0.059, 1],
      [0.24, 0.061, 0],
      [0, 0.2, 0],
    ] as const) {
      physics.modelGeomPos[target] = x;
      physics.modelGeomPos[target + 1] = y;
      setState(physics, [0, 0], [0.5, -0.5]);
      assert.is(instance.reward(physics), expected, `target at ${x}, ${y}`);
      instance.observe(physics, out);
      close(out[2] as number, x - 0.24, 'to target x');
      close(out[3] as number, y, 'to target y');
      close(out[4] as number, 0.5, 'shoulder velocity');
    }
  },
);
reacher('initial joints and target follow the suite', async () => {
  const stats = await initialStates('reacher_easy', 3000, (p) => {
    const target = 3 * p.geomId('target');
    const x = p.geomXpos[target] as number;
    const y = p.geomXpos[target + 1] as number;
    return [p.qpos[0] as number, p.qpos[1] as number, Math.hypot(x, y), x, y];
  });
  const [shoulder, wrist, radius, x, y] = stats as [Moments, Moments, Moments, Moments, Moments];
  const wristLimit = (160 * Math.PI) / 180;
  assert.ok(shoulder.min >= -Math.PI && shoulder.max < Math.PI && shoulder.min < -3 && shoulder.max > 3, 'shoulder');
  assert.ok(wrist.min >= -wristLimit && wrist.max < wristLimit && wrist.max > wristLimit - 0.02, 'wrist');
  assert.ok(radius.min >= 0.05 - 1e-12 && radius.max <= 0.2 + 1e-12, `radius ${radius.min}..${radius.max}`);
  close(radius.mean, 0.125, 'radius mean', 0.003);
  close(x.mean, 0, 'target x mean', 0.006);
  close(y.mean, 0, 'target y mean', 0.006);
});
reacher.run();
