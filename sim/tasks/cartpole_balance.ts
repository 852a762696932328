/** Cart-pole balance (dm_control `cartpole.balance`): the pole starts nearly upright. */
import { cartpoleTask } from './cartpole.js';

export const task = cartpoleTask(false);
export default task;
