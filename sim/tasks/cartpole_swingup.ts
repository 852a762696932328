/** Cart-pole swing-up (dm_control `cartpole.swingup`): the pole starts hanging down. */
import { cartpoleTask } from './cartpole.js';

export const task = cartpoleTask(true);
export default task;
