/**
 * dm_control's randomize_limited_and_rotational_joints (suite/utils/randomizers.py): every limited
 * hinge or slide joint uniform within its range, every unlimited hinge uniform in [-pi, pi), and
 * ball and free joints a uniformly random orientation. Joints in model order, as the suite does.
 */
import { JointType, type Physics } from './mujoco.js';
import type { Rng } from './random.js';

export function randomizeLimitedAndRotationalJoints(physics: Physics, rng: Rng): void {
  const qpos = physics.qpos;
  for (let joint = 0; joint < physics.njnt; joint++) {
    const type = physics.jointType(joint);
    const at = physics.jointQposAddress(joint);
    const range = physics.jointRange(joint);
    if (type === JointType.hinge || type === JointType.slide) {
      if (range) qpos[at] = rng.uniform(range.low, range.high);
      else if (type === JointType.hinge) qpos[at] = rng.uniform(-Math.PI, Math.PI);
    } else if (type === JointType.ball || type === JointType.free) {
      // free joints: orientation only (position left as is); quaternion at the joint's last 4 coordinates
      const q = type === JointType.free ? at + 3 : at;
      randomQuaternion(rng, qpos, q);
    }
  }
}

/** A uniformly random unit quaternion written at qpos[at..at+3]. */
function randomQuaternion(rng: Rng, qpos: Float64Array, at: number): void {
  let norm = 0;
  for (let i = 0; i < 4; i++) {
    const value = rng.normal();
    qpos[at + i] = value;
    norm += value * value;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < 4; i++) qpos[at + i] = (qpos[at + i] as number) / norm;
}
