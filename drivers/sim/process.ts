/**
 * Starting the simulator process (drivers/sim/server.ts) from engram: `engram sim --transport zmq`
 * binds a ZeroMQ driver, then calls `spawnSimProcess` with that driver's endpoints, answers frames
 * (drivers/driver.ts FrameResponder for lock-step, or the runtime loop for real time) and awaits
 * `done` for the episode returns.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { nodeScript } from '../driver-script.js';
import type { SimMode, SimServerSummary } from './server.js';

export interface SimProcessOptions {
  task: string;
  seed: number;
  frames: string;
  actions: string;
  mode: SimMode;
  episodes: number;
  /** stop after this many control steps */
  maxSteps?: number;
  /** the channels engram's config names (default: one 'observation' channel) */
  channels?: readonly { name: string; size: number }[];
  /** where the process's stderr goes (default: inherited) */
  stderr?: 'inherit' | 'pipe';
}

export interface SimProcess {
  readonly child: ChildProcess;
  /** the process's summary; rejects when it exits without one */
  readonly done: Promise<SimServerSummary>;
  kill(): void;
}

export function spawnSimProcess(options: SimProcessOptions): SimProcess {
  const entry = nodeScript(import.meta.url, './server');
  const child = spawn(
    process.execPath,
    [
      ...entry.nodeArgs,
      entry.path,
      ...['--task', options.task, '--seed', String(options.seed), '--mode', options.mode],
      ...['--frames', options.frames, '--actions', options.actions, '--episodes', String(options.episodes)],
      ...(options.maxSteps === undefined ? [] : ['--steps', String(options.maxSteps)]),
      ...(options.channels ?? []).flatMap((c) => ['--channel', `${c.name}:${c.size}`]),
    ],
    { stdio: ['ignore', 'pipe', options.stderr ?? 'inherit'] },
  );
  const done = new Promise<SimServerSummary>((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolvePromise(JSON.parse(last) as SimServerSummary);
      else
        reject(
          new Error(`sim process exited (${signal ?? code}) without a summary${stderr ? `: ${stderr.trim()}` : ''}`),
        );
    });
  });
  return {
    child,
    done,
    kill: () => {
      child.kill('SIGTERM');
    },
  };
}
