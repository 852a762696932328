/**
 * The experience store as a snapshot section.
 *
 * Saved in blocks of `blockSlots` slots; within a block every column (context, action, ...,
 * generation, alive) follows the previous one. A block is copied in one call, so each experience
 * is saved whole even while learning continues between chunks; references across blocks (links,
 * successors) carry generations and are checked on use, so a slot reused mid-save reads as a dead
 * link after restore rather than a wrong one.
 */
import type { SectionMeta, SectionSource, SectionWriter, SnapshotSection } from './snapshot.js';
import type { ExperienceStore } from './store.js';

type Column = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

interface ColumnSpec {
  readonly array: Column;
  /** elements per slot */
  readonly width: number;
}

function columnsOf(store: ExperienceStore): ColumnSpec[] {
  const k = store.linksPerExperience;
  // Order is part of the format: append new columns at the end and bump the format version.
  const columns: ColumnSpec[] = [
    { array: store.context, width: store.contextDim },
    { array: store.action, width: store.actionDim },
    { array: store.outcome, width: store.contextDim },
    { array: store.reward, width: 1 },
    { array: store.returnEstimate, width: 1 },
    { array: store.predictionError, width: 1 },
    { array: store.accessCount, width: 1 },
    { array: store.lastAccess, width: 1 },
    { array: store.createdAt, width: 1 },
    { array: store.successor, width: 1 },
    { array: store.successorGeneration, width: 1 },
    { array: store.links, width: k },
    { array: store.linkGeneration, width: k },
    { array: store.linkWeight, width: k },
    { array: store.generation, width: 1 },
    { array: store.alive, width: 1 },
  ];
  return columns.filter((column) => column.width > 0);
}

/** Bytes of one slot's row across all columns. */
function rowBytes(columns: readonly ColumnSpec[]): number {
  let bytes = 0;
  for (const column of columns) bytes += column.width * column.array.BYTES_PER_ELEMENT;
  return bytes;
}

/** A Buffer view over a column's memory (made once per save, so chunks copy without allocating). */
function bytesOf(array: Column): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

export const STORE_SECTION = 'experiences';

export interface StoreSectionOptions {
  /** target bytes per saved block (one chunk); default 128 KiB */
  blockBytes?: number;
}

export function storeSection(store: ExperienceStore, options: StoreSectionOptions = {}): SnapshotSection {
  const columns = columnsOf(store);
  const bytesPerRow = rowBytes(columns);
  const blockSlots = Math.max(1, Math.floor((options.blockBytes ?? 128 * 1024) / bytesPerRow));

  return {
    name: STORE_SECTION,
    maxChunkBytes: blockSlots * bytesPerRow,

    beginSave() {
      const views = columns.map((column) => bytesOf(column.array));
      const capacity = store.capacity;
      let nextSlot = 0;
      const writer: SectionWriter = {
        next(out) {
          if (nextSlot >= capacity) return 0;
          const count = Math.min(blockSlots, capacity - nextSlot);
          let at = 0;
          for (let c = 0; c < columns.length; c++) {
            const column = columns[c]!;
            const slotBytes = column.width * column.array.BYTES_PER_ELEMENT;
            at += views[c]!.copy(out, at, nextSlot * slotBytes, (nextSlot + count) * slotBytes);
          }
          nextSlot += count;
          return at;
        },
      };
      const meta: SectionMeta = {
        capacity,
        contextDim: store.contextDim,
        actionDim: store.actionDim,
        linksPerExperience: store.linksPerExperience,
        live: store.size(),
        blockSlots,
        bytesPerSlot: bytesPerRow,
      };
      return { byteLength: capacity * bytesPerRow, meta, writer };
    },

    incompatibility(meta, byteLength) {
      const problems: string[] = [];
      for (const key of ['contextDim', 'actionDim', 'linksPerExperience'] as const) {
        if (meta[key] !== store[key])
          problems.push(`${key} is ${String(meta[key])} in the snapshot, ${store[key]} here`);
      }
      const capacity = meta.capacity;
      if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1) {
        problems.push(`capacity ${String(capacity)} is not a positive integer`);
      } else if (capacity > store.capacity) {
        problems.push(`the snapshot holds ${capacity} slots but memory.capacity here is ${store.capacity}`);
      }
      const blockSlotsSaved = meta.blockSlots;
      if (typeof blockSlotsSaved !== 'number' || !Number.isInteger(blockSlotsSaved) || blockSlotsSaved < 1) {
        problems.push(`blockSlots ${String(blockSlotsSaved)} is not a positive integer`);
      }
      if (problems.length === 0 && byteLength !== (capacity as number) * bytesPerRow) {
        problems.push(`section is ${byteLength} bytes, expected ${(capacity as number) * bytesPerRow}`);
      }
      return problems.length > 0 ? problems.join('; ') : undefined;
    },

    restore(source, meta) {
      restoreStore(store, columns, source, meta.capacity as number, meta.blockSlots as number);
    },
  };
}

function restoreStore(
  store: ExperienceStore,
  columns: readonly ColumnSpec[],
  source: SectionSource,
  savedCapacity: number,
  blockSlots: number,
): void {
  // Take every slot through the store's own API (it keeps the free list and live count private),
  // overwrite the rows from the file, then give back the slots that were free in the snapshot,
  // highest first so the lowest free slot is handed out next, as in a fresh store.
  for (let slot = 0; slot < store.capacity; slot++) store.release(slot);
  for (let slot = 0; slot < store.capacity; slot++) store.allocate(0);

  let offset = 0;
  for (let first = 0; first < savedCapacity; first += blockSlots) {
    const count = Math.min(blockSlots, savedCapacity - first);
    for (const column of columns) {
      const slotBytes = column.width * column.array.BYTES_PER_ELEMENT;
      const into = new Uint8Array(column.array.buffer, column.array.byteOffset + first * slotBytes, count * slotBytes);
      source.read(offset, into);
      offset += into.byteLength;
    }
  }

  const savedAlive = Uint8Array.from(store.alive.subarray(0, savedCapacity));
  store.alive.fill(1);
  for (let slot = store.capacity - 1; slot >= 0; slot--) {
    if (slot >= savedCapacity || savedAlive[slot] === 0) store.release(slot);
  }
}
