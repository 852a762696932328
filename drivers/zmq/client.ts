/** The robot-side client lives in drivers/driver-client.ts (shared with drivers/sim); re-exported here. */
export * from '../driver-client.js';
