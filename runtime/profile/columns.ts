/** Helpers for the profile's column tables (structure of arrays). */
type Column = Float64Array | Uint32Array | Uint8Array;

/**
 * Keeps the rows whose time lies in [fromNs, toNs], moving them to the front of every column;
 * returns the new row count. Rows are in time order, so the kept rows are one run.
 */
export function keepRowsBetween(
  count: number,
  time: Float64Array,
  columns: readonly Column[],
  fromNs: number,
  toNs: number,
): number {
  let first = 0;
  while (first < count && time[first]! < fromNs) first++;
  let end = count;
  while (end > first && time[end - 1]! > toNs) end--;
  if (first > 0) for (const column of columns) column.copyWithin(0, first, end);
  return end - first;
}
