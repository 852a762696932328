/**
 * Reacher, easy (dm_control suite/reacher.py, task `easy`): a two-link planar arm must put its
 * fingertip on a large (0.05 m) target at a random place. 0.02 s steps, 1000 steps (20 s).
 */
import { builtinModel } from '../models.js';
import { randomizeLimitedAndRotationalJoints } from '../randomizers.js';
import { tolerance } from '../rewards.js';
import type { TaskDefinition } from '../task.js';

/** the easy task's target radius (hard uses 0.015) */
const targetSize = 0.05;

export const task: TaskDefinition = {
  name: 'reacher_easy',
  description: 'put the fingertip of a two-link arm on a randomly placed target',
  modelFile: builtinModel('reacher.xml'),
  physicsTimestep: 0.02,
  controlTimestep: 0.02,
  episodeSteps: 1000,
  observationSize: 6,
  observationNames: ['shoulder', 'wrist', 'to_target_x', 'to_target_y', 'shoulder_velocity', 'wrist_velocity'],
  actionSize: 2,
  actionLow: -1,
  actionHigh: 1,
  bind(physics) {
    const shoulder = physics.jointId('shoulder');
    const wrist = physics.jointId('wrist');
    const shoulderAt = physics.jointQposAddress(shoulder);
    const wristAt = physics.jointQposAddress(wrist);
    const shoulderVelocityAt = physics.jointDofAddress(shoulder);
    const wristVelocityAt = physics.jointDofAddress(wrist);
    const target = 3 * physics.geomId('target');
    const finger = 3 * physics.geomId('finger');
    return {
      initializeEpisode(p, rng) {
        p.modelGeomSize[target] = targetSize;
        randomizeLimitedAndRotationalJoints(p, rng);
        const angle = rng.uniform(0, 2 * Math.PI);
        const radius = rng.uniform(0.05, 0.2);
        const geomPos = p.modelGeomPos;
        geomPos[target] = radius * Math.sin(angle);
        geomPos[target + 1] = radius * Math.cos(angle);
      },
      observe(p, out) {
        const xpos = p.geomXpos;
        const qvel = p.qvel;
        out[0] = p.qpos[shoulderAt] as number;
        out[1] = p.qpos[wristAt] as number;
        out[2] = (xpos[target] as number) - (xpos[finger] as number);
        out[3] = (xpos[target + 1] as number) - (xpos[finger + 1] as number);
        out[4] = qvel[shoulderVelocityAt] as number;
        out[5] = qvel[wristVelocityAt] as number;
      },
      reward(p) {
        const xpos = p.geomXpos;
        const dx = (xpos[target] as number) - (xpos[finger] as number);
        const dy = (xpos[target + 1] as number) - (xpos[finger + 1] as number);
        const size = p.modelGeomSize;
        const radii = (size[target] as number) + (size[finger] as number);
        return tolerance(Math.sqrt(dx * dx + dy * dy), 0, radii);
      },
    };
  },
};

export default task;
