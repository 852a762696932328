import { notYetBuilt } from '../runtime/cli/args.js';

export const command = notYetBuilt('bench timing', 4, 'benchmark');
