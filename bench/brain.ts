import { notYetBuilt } from '../runtime/cli/args.js';

export const command = notYetBuilt('bench brain', 2, 'benchmark');
