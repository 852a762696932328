/** The wire protocol lives in drivers/driver-protocol.ts (shared with drivers/sim); re-exported here. */
export * from '../driver-protocol.js';
