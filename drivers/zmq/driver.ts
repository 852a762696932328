/** The ZeroMQ driver lives in drivers/driver-zmq.ts (shared with drivers/sim); re-exported here. */
export * from '../driver-zmq.js';
