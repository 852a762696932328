/**
 * One snapshot restore in a fresh process, for `engram bench snapshot`: what a robot's start-up
 * pays. In the benchmark's own process a later restore could reuse memory an earlier one freed; a
 * fresh process cannot. (The first of the fresh-process restores is still the slowest, 4.5 s
 * against 1.4 and 2.4 s at 1e6 with the index: that spread is not explained by memory reuse.)
 * Timed from creating the empty store (and index) to the last section read; prints one JSON
 * line (ChildRestore).
 *
 *   node dist/bench/restore-child.js <snapshot> <layout JSON> [<hnsw params JSON>]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SnapshotSection } from '../brain/memory/snapshot.js';
import { hnswSection } from '../brain/memory/snapshot-index.js';
import { restoreFromFile } from '../brain/memory/snapshot-reader.js';
import { storeSection } from '../brain/memory/snapshot-store.js';
import { ExperienceStore, type StoreLayout } from '../brain/memory/store.js';
import { type HnswBackend, type HnswOptions, hnswFactory } from '../brain/similarity/hnsw.js';
import { systemClock } from '../runtime/clock.js';

export interface ChildRestore {
  seconds: number;
  size: number;
  /** elements in the restored index; -1 when restoring without it */
  indexSize: number;
  /** slots the index section's reconciliation repaired; -1 without the index */
  repaired: number;
}

async function restoreOnce(path: string, layout: StoreLayout, hnsw: HnswOptions | undefined): Promise<ChildRestore> {
  const started = systemClock.nowNs();
  const store = new ExperienceStore(layout);
  const sections: SnapshotSection[] = [storeSection(store)];
  let index: HnswBackend | undefined;
  let skipped: string | undefined;
  let repaired = -1;
  if (hnsw) {
    const created = await hnswFactory(hnsw).create(store);
    if (created instanceof Error) throw created;
    index = created as HnswBackend;
    const backend = index;
    sections.push(
      hnswSection({
        source: () => ({ backend, built: true }),
        tempPath: `${path}.restore-${process.pid}.tmp`,
        onSkipped: (reason) => {
          skipped = reason;
        },
        onRestored: (count) => {
          repaired = count;
        },
      }),
    );
  }
  restoreFromFile(path, sections);
  const seconds = (systemClock.nowNs() - started) / 1e9;
  if (skipped !== undefined) throw new Error(`the index section was skipped: ${skipped}`);
  return { seconds, size: store.size(), indexSize: index ? index.size() : -1, repaired };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [path, layout, hnsw] = process.argv.slice(2);
  if (!path || !layout) {
    process.stderr.write('usage: restore-child <snapshot> <layout JSON> [<hnsw params JSON>]\n');
    process.exitCode = 2;
  } else {
    restoreOnce(path, JSON.parse(layout) as StoreLayout, hnsw ? (JSON.parse(hnsw) as HnswOptions) : undefined).then(
      (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
      (error: unknown) => {
        process.stderr.write(`restore-child: ${(error as Error).message}\n`);
        process.exitCode = 1;
      },
    );
  }
}
