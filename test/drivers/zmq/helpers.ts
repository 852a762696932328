/** Shared pieces of the ZeroMQ driver tests: endpoints per transport, waiting for a condition. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const transports = ['ipc', 'tcp'] as const;
export type Transport = (typeof transports)[number];

let ipcDir: string | undefined;
let counter = 0;

/** Fresh endpoints: ipc files in a private temp dir, or tcp on loopback with ports picked by the OS. */
export function endpointsFor(transport: Transport): { frames: string; actions: string } {
  if (transport === 'tcp') return { frames: 'tcp://127.0.0.1:*', actions: 'tcp://127.0.0.1:*' };
  ipcDir ??= mkdtempSync(join(tmpdir(), 'engram-zmq-'));
  counter++;
  return { frames: `ipc://${ipcDir}/f${counter}`, actions: `ipc://${ipcDir}/a${counter}` };
}

/** Resolves once `condition()` is true; rejects with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sockets a test opened, closed after each test even when it failed (an open ZeroMQ socket would
 * keep the process alive and the runner would wait for its timeout).
 */
const openThings: { close?: () => unknown; stop?: () => Promise<void> }[] = [];

export function track<T extends { close?: () => unknown; stop?: () => Promise<void> }>(thing: T): T {
  openThings.push(thing);
  return thing;
}

export async function closeTracked(): Promise<void> {
  for (const thing of openThings.splice(0)) {
    try {
      if (thing.stop) await thing.stop();
      else thing.close?.();
    } catch {
      // already closed
    }
  }
}
