/**
 * dm_control's reward shaping (suite/utils/rewards.py), reproduced for scalars: `tolerance` is 1
 * inside [lower, upper] and falls off outside with a sigmoid of the distance in units of `margin`.
 *
 * Runs every step inside task rewards: the body stays small (argument checks live in a separate
 * cold function) so V8 inlines it and the returned double is not boxed on the heap.
 */
export type Sigmoid = 'gaussian' | 'quadratic';

/** dm_control's default value of the sigmoid at distance `margin` from the bounds. */
export const defaultValueAtMargin = 0.1;

export function tolerance(
  x: number,
  lower: number,
  upper: number,
  margin = 0,
  sigmoid: Sigmoid = 'gaussian',
  valueAtMargin = defaultValueAtMargin,
): number {
  if (!(lower <= upper && margin >= 0 && valueAtMargin >= 0 && valueAtMargin < 1)) {
    badArguments(lower, upper, margin, valueAtMargin);
  }
  if (x >= lower && x <= upper) return 1;
  if (margin === 0) return 0;
  const d = (x < lower ? lower - x : x - upper) / margin;
  if (sigmoid === 'gaussian') {
    if (valueAtMargin === 0) badArguments(lower, upper, margin, valueAtMargin);
    // exp(-0.5 (d·scale)^2) with scale = sqrt(-2 ln v): equals v at d = 1, i.e. v^(d^2).
    return Math.exp(d * d * Math.log(valueAtMargin));
  }
  const scaled = d * d * (1 - valueAtMargin);
  return scaled < 1 ? 1 - scaled : 0;
}

function badArguments(lower: number, upper: number, margin: number, valueAtMargin: number): never {
  if (!(lower <= upper)) throw new Error(`tolerance: lower bound ${lower} exceeds upper bound ${upper}`);
  if (!(margin >= 0)) throw new Error(`tolerance: margin must be non-negative, got ${margin}`);
  throw new Error(
    `tolerance: valueAtMargin must be in (0, 1) for gaussian and [0, 1) for quadratic, got ${valueAtMargin}`,
  );
}
