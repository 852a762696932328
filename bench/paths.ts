import { notYetBuilt } from '../runtime/cli/args.js';

export const command = notYetBuilt('bench paths', 7, 'benchmark');
