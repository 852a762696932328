import { notYetBuilt } from '../runtime/cli/args.js';

export const command = notYetBuilt('bench transport', 5, 'benchmark');
