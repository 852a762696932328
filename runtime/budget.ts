/**
 * Budgets in ns, and the effort ladder: after an overrun (or a cycle that used most of its budget)
 * the brain's planning effort steps down one rung; after a run of calm cycles it steps back up.
 * Rungs are precomputed at start, so stepping is an index change plus Controller.setEffort.
 */
import type { Effort } from './contracts.js';

export interface StageBudgetsNs {
  ingest: number;
  encode: number;
  lookup: number;
  plan: number;
  publish: number;
}

export interface EffortLadderConfig {
  levels: number;
  downAbove: number;
  upBelow: number;
  upAfterCycles: number;
}

/** Rung i halves candidates and ef i times (never below the floor), and shortens the horizon. */
export function effortRungs(full: Effort, levels: number): Effort[] {
  const rungs: Effort[] = [];
  for (let i = 0; i < levels; i++) {
    const factor = 2 ** i;
    rungs.push({
      candidates: Math.max(1, Math.floor(full.candidates / factor)),
      horizon: Math.max(1, Math.ceil(full.horizon / factor)),
      ef: Math.max(8, Math.floor(full.ef / factor)),
    });
  }
  return rungs;
}

export class EffortLadder {
  readonly rungs: readonly Effort[];
  level = 0;
  private calmCycles = 0;
  stepsDown = 0;
  stepsUp = 0;

  constructor(
    full: Effort,
    private readonly config: EffortLadderConfig,
  ) {
    this.rungs = effortRungs(full, config.levels);
  }

  get effort(): Effort {
    return this.rungs[this.level]!;
  }

  /** Called once per cycle with its time against budget; returns true when the rung changed. */
  update(cycleNs: number, budgetNs: number, overrun: boolean): boolean {
    if (overrun || cycleNs > this.config.downAbove * budgetNs) {
      this.calmCycles = 0;
      if (this.level < this.rungs.length - 1) {
        this.level++;
        this.stepsDown++;
        return true;
      }
      return false;
    }
    if (cycleNs < this.config.upBelow * budgetNs) {
      this.calmCycles++;
      if (this.calmCycles >= this.config.upAfterCycles && this.level > 0) {
        this.calmCycles = 0;
        this.level--;
        this.stepsUp++;
        return true;
      }
      return false;
    }
    this.calmCycles = 0; // between the marks: hold the rung, restart the calm count (hysteresis)
    return false;
  }
}
