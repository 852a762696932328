/** Distributions of profile columns (outside the loop: sorts a copy). */
export interface Distribution {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles by nearest rank over the first `count` values; all zero when there are none. */
export function distributionOf(values: Float64Array, count: number): Distribution {
  if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const sorted = values.slice(0, count).sort();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i]!;
  const at = (q: number) => sorted[Math.min(count - 1, Math.floor(q * count))]!;
  return {
    count,
    mean: sum / count,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted[count - 1]!,
  };
}
