import { notYetBuilt } from './args.js';

export const command = notYetBuilt('inspect', 8, 'print what a memory snapshot holds');
