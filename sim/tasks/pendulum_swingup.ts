/**
 * Pendulum swing-up (dm_control suite/pendulum.py, task `swingup`): a torque-limited pendulum must
 * swing up and stay within 8 degrees of upright. 0.02 s steps, 1000 steps (20 s).
 */
import { builtinModel } from '../models.js';
import { tolerance } from '../rewards.js';
import type { TaskDefinition } from '../task.js';

/** upright when the pole's vertical component is at least cos(8 deg) */
const cosineBound = Math.cos((8 * Math.PI) / 180);

export const task: TaskDefinition = {
  name: 'pendulum_swingup',
  description: 'swing a torque-limited pendulum up and hold it within 8 degrees of upright',
  modelFile: builtinModel('pendulum.xml'),
  physicsTimestep: 0.02,
  controlTimestep: 0.02,
  episodeSteps: 1000,
  observationSize: 3,
  observationNames: ['pole_cos', 'pole_sin', 'angular_velocity'],
  actionSize: 1,
  actionLow: -1,
  actionHigh: 1,
  bind(physics) {
    const pole = physics.bodyId('pole');
    const hinge = physics.jointId('hinge');
    const angleAt = physics.jointQposAddress(hinge);
    const velocityAt = physics.jointDofAddress(hinge);
    // the pole frame's zz (cosine of the angle from upright) and xz (its sine) in xmat
    const zz = 9 * pole + 8;
    const xz = 9 * pole + 2;
    return {
      initializeEpisode(p, rng) {
        p.qpos[angleAt] = rng.uniform(-Math.PI, Math.PI);
      },
      observe(p, out) {
        const xmat = p.xmat;
        out[0] = xmat[zz] as number;
        out[1] = xmat[xz] as number;
        out[2] = p.qvel[velocityAt] as number;
      },
      reward(p) {
        return tolerance(p.xmat[zz] as number, cosineBound, 1);
      },
    };
  },
};

export default task;
