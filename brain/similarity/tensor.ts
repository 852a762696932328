/** Tensor path (issue 7): batched exact search through tfjs. Placeholder until it lands. */
import type { BackendFactory } from './backend.js';

export function tensorFactories(): BackendFactory[] {
  return [];
}
