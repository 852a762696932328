import { notYetBuilt } from './args.js';

export const command = notYetBuilt('profile', 6, 'record a cycle-time profile');
