/**
 * Point mass, easy (dm_control suite/point_mass.py, task `easy`): drive a planar point mass through
 * two tendon motors onto a small target at the centre. 0.02 s steps, 1000 steps (20 s).
 */
import { builtinModel } from '../models.js';
import { randomizeLimitedAndRotationalJoints } from '../randomizers.js';
import { tolerance } from '../rewards.js';
import type { TaskDefinition } from '../task.js';

export const task: TaskDefinition = {
  name: 'point_mass_easy',
  description: 'drive a planar point mass onto the target at the centre',
  modelFile: builtinModel('point_mass.xml'),
  physicsTimestep: 0.02,
  controlTimestep: 0.02,
  episodeSteps: 1000,
  observationSize: 4,
  observationNames: ['x', 'y', 'vx', 'vy'],
  actionSize: 2,
  actionLow: -1,
  actionHigh: 1,
  bind(physics) {
    const xAt = physics.jointQposAddress(physics.jointId('root_x'));
    const yAt = physics.jointQposAddress(physics.jointId('root_y'));
    const vxAt = physics.jointDofAddress(physics.jointId('root_x'));
    const vyAt = physics.jointDofAddress(physics.jointId('root_y'));
    const target = 3 * physics.geomId('target');
    const mass = 3 * physics.geomId('pointmass');
    return {
      initializeEpisode(p, rng) {
        randomizeLimitedAndRotationalJoints(p, rng);
      },
      observe(p, out) {
        const qpos = p.qpos;
        const qvel = p.qvel;
        out[0] = qpos[xAt] as number;
        out[1] = qpos[yAt] as number;
        out[2] = qvel[vxAt] as number;
        out[3] = qvel[vyAt] as number;
      },
      reward(p) {
        const xpos = p.geomXpos;
        const dx = (xpos[target] as number) - (xpos[mass] as number);
        const dy = (xpos[target + 1] as number) - (xpos[mass + 1] as number);
        const dz = (xpos[target + 2] as number) - (xpos[mass + 2] as number);
        const targetSize = p.modelGeomSize[target] as number;
        const nearTarget = tolerance(Math.sqrt(dx * dx + dy * dy + dz * dz), 0, targetSize, targetSize);
        const ctrl = p.ctrl;
        let control = 0;
        for (let i = 0; i < ctrl.length; i++) control += tolerance(ctrl[i] as number, 0, 0, 1, 'quadratic', 0);
        const smallControl = (control / ctrl.length + 4) / 5;
        return nearTarget * smallControl;
      },
    };
  },
};

export default task;
