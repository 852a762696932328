/**
 * dm_control's reward shaping (suite/utils/rewards.py), reproduced for scalars: `tolerance` is 1
 * inside [lower, upper] and falls off outside with a sigmoid of the distance in units of `margin`.
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
  if (lower > upper) throw new Error(`tolerance: lower bound ${lower} exceeds upper bound ${upper}`);
  if (margin < 0) throw new Error(`tolerance: margin must be non-negative, got ${margin}`);
  if (x >= lower && x <= upper) return 1;
  if (margin === 0) return 0;
  const d = (x < lower ? lower - x : x - upper) / margin;
  if (sigmoid === 'gaussian') {
    if (!(valueAtMargin > 0 && valueAtMargin < 1)) {
      throw new Error(`tolerance: gaussian needs 0 < valueAtMargin < 1, got ${valueAtMargin}`);
    }
    // exp(-0.5 (d·scale)^2) with scale = sqrt(-2 ln v): equals v at d = 1, i.e. v^(d^2).
    const scale = Math.sqrt(-2 * Math.log(valueAtMargin));
    const scaled = d * scale;
    return Math.exp(-0.5 * scaled * scaled);
  }
  if (!(valueAtMargin >= 0 && valueAtMargin < 1)) {
    throw new Error(`tolerance: quadratic needs 0 <= valueAtMargin < 1, got ${valueAtMargin}`);
  }
  const scaled = d * Math.sqrt(1 - valueAtMargin);
  return Math.abs(scaled) < 1 ? 1 - scaled * scaled : 0;
}
