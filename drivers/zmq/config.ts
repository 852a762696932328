/**
 * ZeroMQ driver configuration (strict: unknown keys are errors). Composed by runtime/config.ts.
 * Binding anywhere but loopback requires CURVE keys; runtime validation enforces that at start.
 */
import { z } from 'zod';

export const zmqConfigSchema = z.strictObject({
  kind: z.literal('zmq'),
  /** where engram receives sensor frames and sends actions (one ROUTER-free pair of sockets) */
  frames: z.string().default('tcp://127.0.0.1:5555'),
  actions: z.string().default('tcp://127.0.0.1:5556'),
  /** largest accepted message; larger ones are rejected and counted */
  maxMessageBytes: z
    .number()
    .int()
    .positive()
    .default(1 << 20),
  curve: z
    .strictObject({
      /** file holding engram's secret key (z85) */
      serverSecretKeyFile: z.string(),
      /** file listing authorised client public keys (z85), one per line */
      authorizedClientsFile: z.string(),
    })
    .optional(),
});

export type ZmqConfig = z.infer<typeof zmqConfigSchema>;
