/**
 * What `engram sim` runs each built-in task with, over the runner's and the brain's own defaults:
 * the action repeat (--action-repeat overrides) and brain config values (--brain overrides).
 * Each entry says why; the figures come from `engram sim` runs recorded in docs/benchmarks.md. A
 * task module of your own starts from { actionRepeat: 1, brain: {} }.
 */
export interface TaskRunDefaults {
  /** control steps each decision is held for (the brain sees every n-th frame, rewards summed) */
  readonly actionRepeat: number;
  /** brain config values over the brain's defaults */
  readonly brain: { readonly [key: string]: unknown };
}

const plain: TaskRunDefaults = { actionRepeat: 1, brain: {} };

export const taskRunDefaults: Readonly<Record<string, TaskRunDefaults>> = {
  // Beacons (planner.beacons): the stored returns are 0 wherever no stored trajectory reached the
  // top, so from rest every plan scored the same and nothing pumped. The beacons' value (the best
  // states' return, less 0.025 x the largest return per unit of distance from them), averaged over
  // each rollout's predicted states (beaconPath), favours plans that swing nearer the top: the
  // pendulum pumps from rest, swings up and holds. `engram sim --task pendulum_swingup --steps
  // 100000 --seeds 1,2,3 --eval-every 20000` (5 evaluation episodes): 665 / 699 / 728 (698; every
  // checkpoint from 40k on 553-785); the same settings through --brain: 665 / 764 / 728 (719; seed 2
  // differs from 60k on, the real clock's slack work), from 199 (0 / 200 / 397) with the plain
  // defaults. beaconSlope 0.01: 724, 0.05: 661, 0.1: 489, 0.2: 201. At slope 0.1: the value at
  // the rollout's end only (no beaconPath) 164 (it pumps to about horizontal and no higher), MPPI
  // instead of 'best' (opposite pushes average out) 251, rollouts through the local fit instead
  // of the neighbours' outcomes 222. At slope 0.05: optimism 0 601 (seed 2 had learned nothing by
  // 100k), the brain's default backups (32 recent, 32 sweeps over the whole capacity) 625.
  // Without beacons these settings score 162 (46 at repeat 8 with discount 0.99). Repeat 4: a
  // 16-step plan sees 1.28 s, about one swing; discount 0.995 per decision.
  pendulum_swingup: {
    actionRepeat: 4,
    brain: {
      planner: {
        discount: 0.995,
        optimism: 1,
        sweepsPerMaintain: 512,
        sweepUsedSlots: true,
        recentBackups: 64,
        rolloutDynamics: 'neighbours',
        selection: 'best',
        beacons: 8,
        beaconSlope: 0.025,
        beaconPath: true,
      },
    },
  },
  // Both cartpole tasks use the brain's default walk rollouts (horizon 16) with 128 candidates
  // (the decision budget at repeat 8 is 80 ms; step p99 9-13 ms): 100k steps x seeds 1-3, 5
  // evaluation episodes: swingup 656 and balance 950, against 532 and 867 with 32 candidates and
  // 215 and 376 with the local fit's rewards. Repeat 4 did worse (horizon 16: 398 / 515; horizon
  // 32: balance 593 / 555 at 20k steps), and so did a normaliser warm-up of 600 (361 / 712).
  // A decision every 8 steps (0.08 s) lets a short plan reach the pole: evaluation at 30k steps,
  // seed 1: 151 (repeat 1), 230 (2), 218 (4), 249 (8); PlaNet's setting for cartpole is 8 too.
  // The quadratic value kernel looked better at 30k steps (331 / 356 / 306 against about 207) but
  // not at 100k (202 against 227, seeds 1-3): left at the brain's default
  cartpole_swingup: { actionRepeat: 8, brain: { planner: { candidates: 128 } } },
  // same physics as swingup; at 30k steps 358 (repeat 8) against about 300 (1) and 303 (4); the
  // quadratic value kernel did worse here (265 against 383, seeds 1-3)
  cartpole_balance: { actionRepeat: 8, brain: { planner: { candidates: 128 } } },
  // Raw observations (no normaliser): the warm-up's 2000 steps see a corner of the arena, and its
  // statistics then magnify positions ~60x and velocities ~90x, so the kernels and the local fit
  // work at the wrong scale. With repeat 8, 100k steps x seeds 1-3, 5 evaluation episodes:
  // 848 / 658 / 698 (734); the normaliser with repeat 8: 0 at 30k steps, and with repeat 4 and
  // no warm-up 248. Count-based deep exploration (exploration.intrinsicWeight 3-10) did not help
  // here once the scale was right (636-686 at repeat 8), nor did 512 sweeps per maintain (728).
  point_mass_easy: { actionRepeat: 8, brain: { normaliser: { warmupSteps: 0 } } },
  // evaluation at 30k steps, seed 1: 16 (repeat 1), 274 (2), 504 (4), 471 (8). Rewards from the
  // local fit, not the walk: the walk scored 596 / 325 (seeds 1, 2) at 100k steps where the local
  // fit had 599.7 over seeds 1-3; 128 candidates (budget 80 ms at repeat 4, step p99 10 ms) lift the
  // local fit to 789 (757 / 789 / 820, 100k steps, 5 evaluation episodes)
  reacher_easy: { actionRepeat: 4, brain: { planner: { rolloutReward: 'local', candidates: 128 } } },
};

export function runDefaults(taskName: string): TaskRunDefaults {
  return taskRunDefaults[taskName] ?? plain;
}
