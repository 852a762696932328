/** Shared by the snapshot tests and the fault tests: a filled store, a comparison, a capturing log. */

import type { ExperienceStore } from '../../../brain/memory/store.js';
import type { EventLog } from '../../../runtime/contracts.js';

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Allocates `count` experiences with random contents and links, then releases `released` of them. */
export function fillStore(store: ExperienceStore, count: number, released: number, seed: number): void {
  const next = random(seed);
  const slots: number[] = [];
  for (let i = 0; i < count; i++) {
    const slot = store.allocate(i);
    if (slot < 0) break;
    slots.push(slot);
    for (let d = 0; d < store.contextDim; d++) {
      store.context[slot * store.contextDim + d] = next() * 2 - 1;
      store.outcome[slot * store.contextDim + d] = next() - 0.5;
    }
    for (let d = 0; d < store.actionDim; d++) store.action[slot * store.actionDim + d] = next();
    store.reward[slot] = next();
    store.returnEstimate[slot] = next() * 10;
    store.predictionError[slot] = next();
    store.accessCount[slot] = Math.floor(next() * 100);
    store.lastAccess[slot] = i + next();
    if (slots.length > 1) {
      const previous = slots[slots.length - 2]!;
      store.successor[previous] = slot;
      store.successorGeneration[previous] = store.generation[slot]!;
    }
    for (let j = 0; j < store.linksPerExperience && j < slots.length - 1; j++) {
      const target = slots[Math.floor(next() * (slots.length - 1))]!;
      store.links[slot * store.linksPerExperience + j] = target;
      store.linkGeneration[slot * store.linksPerExperience + j] = store.generation[target]!;
      store.linkWeight[slot * store.linksPerExperience + j] = next();
    }
  }
  for (let i = 0; i < released && slots.length > 0; i++) {
    const index = Math.floor(next() * slots.length);
    store.release(slots[index]!);
    slots.splice(index, 1);
  }
}

const columnNames = [
  'context',
  'action',
  'outcome',
  'reward',
  'returnEstimate',
  'predictionError',
  'accessCount',
  'lastAccess',
  'createdAt',
  'successor',
  'successorGeneration',
  'links',
  'linkGeneration',
  'linkWeight',
  'generation',
  'alive',
] as const;

/** Names of the columns that differ between two stores (compared byte for byte), [] when equal. */
export function storesEqual(a: ExperienceStore, b: ExperienceStore): string[] {
  const differing: string[] = [];
  for (const name of columnNames) {
    const left = a[name];
    const right = b[name];
    const leftBytes = Buffer.from(left.buffer, left.byteOffset, left.byteLength);
    const rightBytes = Buffer.from(right.buffer, right.byteOffset, Math.min(right.byteLength, left.byteLength));
    if (!leftBytes.equals(rightBytes)) differing.push(name);
  }
  if (a.size() !== b.size()) differing.push(`size ${a.size()} vs ${b.size()}`);
  return differing;
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  details: Record<string, unknown>;
  message: string;
}

/** An EventLog that keeps what it was told, so tests assert what the user would see. */
export class CapturingLog implements EventLog {
  readonly lines: LogLine[] = [];
  info(details: object, message: string): void {
    this.lines.push({ level: 'info', details: details as Record<string, unknown>, message });
  }
  warn(details: object, message: string): void {
    this.lines.push({ level: 'warn', details: details as Record<string, unknown>, message });
  }
  error(details: object, message: string): void {
    this.lines.push({ level: 'error', details: details as Record<string, unknown>, message });
  }
}
