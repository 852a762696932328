import { notYetBuilt } from '../runtime/cli/args.js';

export const command = notYetBuilt('bench soak', 8, 'benchmark');
