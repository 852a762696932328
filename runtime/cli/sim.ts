import { notYetBuilt } from './args.js';

export const command = notYetBuilt('sim', 3, 'learn a simulated task');
