import { notYetBuilt } from '../runtime/cli/args.js';

export const command = notYetBuilt('bench loop', 4, 'benchmark');
