import { notYetBuilt } from './args.js';

export const command = notYetBuilt('replay', 8, 'replay a flight recording');
