/**
 * Brain config values tuned per built-in task for `engram sim` (over the brain's own defaults).
 * Each entry says why. A task module of your own starts from the brain's defaults.
 */
export const taskBrainDefaults: Readonly<Record<string, { [key: string]: unknown }>> = {
  pendulum_swingup: {},
  cartpole_swingup: {},
  cartpole_balance: {},
  point_mass_easy: {},
  reacher_easy: {},
};
