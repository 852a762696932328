import { notYetBuilt } from './args.js';

export const command = notYetBuilt('run', 4, 'run the loop with a config');
