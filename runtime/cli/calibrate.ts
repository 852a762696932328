import { notYetBuilt } from './args.js';

export const command = notYetBuilt('calibrate', 7, 'measure similarity path crossovers');
