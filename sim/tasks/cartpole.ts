/**
 * Cart-pole (dm_control suite/cartpole.py, the smooth-reward `Balance` task): push a cart so that
 * its pole stands up, centred, with little force and little spin. RK4 at 0.01 s, 1000 steps (10 s).
 * `cartpoleTask(true)` is swingup (pole starts hanging down), `cartpoleTask(false)` is balance.
 */
import { builtinModel } from '../models.js';
import { tolerance } from '../rewards.js';
import type { TaskDefinition } from '../task.js';

export function cartpoleTask(swingUp: boolean): TaskDefinition {
  return {
    name: swingUp ? 'cartpole_swingup' : 'cartpole_balance',
    description: swingUp
      ? 'swing a pole up from hanging down by pushing its cart, then balance it'
      : 'keep a nearly upright pole balanced by pushing its cart',
    modelFile: builtinModel('cartpole.xml'),
    physicsTimestep: 0.01,
    controlTimestep: 0.01,
    episodeSteps: 1000,
    observationSize: 5,
    observationNames: ['cart_position', 'pole_cos', 'pole_sin', 'cart_velocity', 'pole_angular_velocity'],
    actionSize: 1,
    actionLow: -1,
    actionHigh: 1,
    bind(physics) {
      const slider = physics.jointId('slider');
      const hinge = physics.jointId('hinge_1');
      const cartAt = physics.jointQposAddress(slider);
      const poleAt = physics.jointQposAddress(hinge);
      const cartVelocityAt = physics.jointDofAddress(slider);
      const poleVelocityAt = physics.jointDofAddress(hinge);
      const pole = physics.bodyId('pole_1');
      const zz = 9 * pole + 8;
      const xz = 9 * pole + 2;
      return {
        initializeEpisode(p, rng) {
          const qpos = p.qpos;
          if (swingUp) {
            qpos[cartAt] = 0.01 * rng.normal();
            qpos[poleAt] = Math.PI + 0.01 * rng.normal();
          } else {
            qpos[cartAt] = rng.uniform(-0.1, 0.1);
            qpos[poleAt] = rng.uniform(-0.034, 0.034);
          }
          const qvel = p.qvel;
          for (let i = 0; i < qvel.length; i++) qvel[i] = 0.01 * rng.normal();
        },
        observe(p, out) {
          const xmat = p.xmat;
          const qvel = p.qvel;
          out[0] = p.qpos[cartAt] as number;
          out[1] = xmat[zz] as number;
          out[2] = xmat[xz] as number;
          out[3] = qvel[cartVelocityAt] as number;
          out[4] = qvel[poleVelocityAt] as number;
        },
        reward(p) {
          const upright = ((p.xmat[zz] as number) + 1) / 2;
          const centered = (1 + tolerance(p.qpos[cartAt] as number, 0, 0, 2)) / 2;
          const smallControl = (4 + tolerance(p.ctrl[0] as number, 0, 0, 1, 'quadratic', 0)) / 5;
          const smallVelocity = (1 + tolerance(p.qvel[poleVelocityAt] as number, 0, 0, 5)) / 2;
          return upright * centered * smallControl * smallVelocity;
        },
      };
    },
  };
}
