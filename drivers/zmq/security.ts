/** CURVE and ZAP live in drivers/driver-curve.ts (shared with drivers/sim); re-exported here. */
export * from '../driver-curve.js';
