/** Simulator driver configuration: a built-in task or a user task module, in-process or over ZeroMQ. */
import { z } from 'zod';

export const simDriverConfigSchema = z.strictObject({
  kind: z.literal('sim'),
  /** built-in task name (e.g. pendulum_swingup) or a path to a task module (.ts/.js) */
  task: z.string(),
  seed: z.number().int().default(1),
  /** 'inprocess' steps physics in the runtime; 'zmq' talks to `engram sim` as a separate process */
  transport: z.enum(['inprocess', 'zmq']).default('inprocess'),
  /**
   * With transport zmq: 'lockstep' (the sim waits for the action answering each frame, so it runs
   * at the loop's rate, deterministic) or 'realtime' (the sim runs at the task's control rate and
   * applies the newest action it has)
   */
  mode: z.enum(['lockstep', 'realtime']).default('lockstep'),
});

export type SimDriverConfig = z.infer<typeof simDriverConfigSchema>;
