/**
 * Progress of a learning run. On a terminal: two lines redrawn in place at most 5 times a second
 * (a progress bar with episode and returns; steps/s, step p99 and memory size). Otherwise (pipes,
 * CI logs): one plain line per finished episode and per evaluation.
 */
import type { Progress } from './learn.js';

const redrawIntervalMs = 200;
const barWidth = 16;

export class LiveView {
  private drawnLines = 0;
  private lastDrawMs = 0;
  private printedEpisode = 0;
  private printedEvaluationStep = -1;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live: boolean,
    private readonly label: string,
  ) {}

  static for(out: NodeJS.WriteStream, label: string): LiveView {
    return new LiveView(out, out.isTTY === true && process.env.TERM !== 'dumb', label);
  }

  /** A permanent line (the live lines are redrawn below it). */
  line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
  }

  progress(p: Progress): void {
    if (this.live) {
      const now = Date.now();
      if (now - this.lastDrawMs < redrawIntervalMs) return;
      this.lastDrawMs = now;
      this.draw(p);
      return;
    }
    if (p.lastEvaluation && p.lastEvaluation.step !== this.printedEvaluationStep) {
      this.printedEvaluationStep = p.lastEvaluation.step;
      this.out.write(
        `${this.label} evaluation at ${p.lastEvaluation.step} steps: mean return ${p.lastEvaluation.meanReturn.toFixed(1)} over ${p.lastEvaluation.returns.length} episodes\n`,
      );
    }
    if (p.lastEpisodeReturn !== undefined && p.episodesDone > this.printedEpisode) {
      this.printedEpisode = p.episodesDone;
      this.out.write(
        `${this.label} episode ${p.episodesDone} return ${p.lastEpisodeReturn.toFixed(1)}  step ${p.step}/${p.totalSteps}  ${p.stepsPerSecond.toFixed(0)} steps/s  step p99 ${p.recentStepP99Ms.toFixed(2)} ms  memory ${p.memorySize}\n`,
      );
    }
  }
  private draw(p: Progress): void {
    const fraction = Math.min(1, p.step / Math.max(1, p.totalSteps));
    const filled = Math.round(fraction * barWidth);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}`;
    const last = p.lastEpisodeReturn === undefined ? '' : ` (last ${p.lastEpisodeReturn.toFixed(0)})`;
    const evaluation = p.lastEvaluation
      ? `eval ${p.lastEvaluation.meanReturn.toFixed(0)} @${kilo(p.lastEvaluation.step)}  `
      : '';
    const doing = p.phase === 'evaluating' ? 'evaluating' : `episode ${p.episode}`;
    const now = Number.isNaN(p.currentReturn) ? '' : `  return ${p.currentReturn.toFixed(0)}`;
    const first = `${this.label} [${bar}] ${kilo(p.step)}/${kilo(p.totalSteps)}  ${doing}${now}${last}`;
    const second = `  ${evaluation}${p.stepsPerSecond.toFixed(0)} steps/s  step p99 ${p.recentStepP99Ms.toFixed(2)} ms  memory ${p.memorySize}`;
    this.clear();
    const width = this.out.columns > 0 ? this.out.columns : 120;
    this.out.write(`${first.slice(0, width - 1)}\n${second.slice(0, width - 1)}\n`);
    this.drawnLines = 2;
  }

  private clear(): void {
    if (!this.live || this.drawnLines === 0) return;
    // up to the first live line, then clear to the end of the screen
    this.out.write(`\x1b[${this.drawnLines}A\r\x1b[J`);
    this.drawnLines = 0;
  }

  /** Removes the live lines (before the summary). */
  finish(): void {
    this.clear();
  }
}

/** 45000 -> '45k', 1500 -> '1.5k', 900 -> '900' */
function kilo(steps: number): string {
  if (steps < 1000) return String(steps);
  const thousands = steps / 1000;
  return `${Number.isInteger(thousands) || thousands >= 100 ? thousands.toFixed(0) : thousands.toFixed(1)}k`;
}
