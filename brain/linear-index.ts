/**
 * The exact scan as a SimilarityIndex: one path, never switches. Used where no registry is wanted
 * (small memories, tests, a brain built before the registry exists) and as the oracle.
 */
import type { VectorSource } from './memory/store.js';
import type { SimilarityIndex } from './similarity/backend.js';
import { LinearBackend } from './similarity/linear.js';

export class LinearIndex extends LinearBackend implements SimilarityIndex {
  constructor(source: VectorSource) {
    super(source);
  }
  atCycleBoundary(): void {}
  maintain(_untilNs: number): void {}
  activePath(): string {
    return 'linear';
  }
}
