import { notYetBuilt } from '../runtime/cli/args.js';

export const command = notYetBuilt('bench profile', 6, 'benchmark');
