/**
 * What a learning run leaves behind: runs/<name>/results.json (every seed's evaluations, training
 * returns, step timings and the baselines) and runs/<name>/learning-curve.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BaselineResult, LearnResult } from './learn.js';
import { type CurveSeries, flatSeries, renderLearningCurve } from './plot.js';

export interface RunReport {
  task: string;
  controller: string;
  seeds: number[];
  /** mean over seeds of the final evaluation's mean return */
  score: number;
  /** per seed: final evaluation mean return */
  scores: number[];
  /** worst p99 of controller.step over the seeds' training steps (ms) */
  stepP99Ms: number;
  baselines: { random: BaselineResult; zero: BaselineResult };
  runs: LearnResult[];
  machine: object;
  command: string;
}

export const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);

export function buildReport(
  runs: LearnResult[],
  baselines: RunReport['baselines'],
  machine: object,
  command: string,
): RunReport {
  const first = runs[0];
  if (!first) throw new Error('buildReport: no runs');
  const scores = runs.map((r) => r.finalScore);
  return {
    task: first.task,
    controller: first.controller,
    seeds: runs.map((r) => r.seed),
    score: mean(scores),
    scores,
    stepP99Ms: Math.max(...runs.map((r) => r.stepTime.p99Ms)),
    baselines,
    runs,
    machine,
    command,
  };
}

/** The learning curve of a report: each seed's evaluations, their mean, training returns, baselines. */
export function curveSeries(report: RunReport): CurveSeries[] {
  const series: CurveSeries[] = [];
  const totalSteps = report.runs[0]?.steps ?? 0;
  for (const run of report.runs) {
    series.push({
      label: `${run.controller} evaluation, seed ${run.seed}`,
      style: report.runs.length > 1 ? 'evaluation' : 'mean',
      points: run.evaluations.map((e) => ({ step: e.step, value: e.meanReturn })),
    });
  }
  if (report.runs.length > 1) {
    const first = report.runs[0] as LearnResult;
    series.push({
      label: `${report.controller} evaluation, mean of ${report.runs.length} seeds`,
      style: 'mean',
      points: first.evaluations.map((e, i) => ({
        step: e.step,
        value: mean(report.runs.map((r) => r.evaluations[i]?.meanReturn ?? Number.NaN)),
      })),
    });
  } else if (report.runs[0]) {
    series.push({
      label: `${report.controller} training episodes (exploring)`,
      style: 'training',
      points: report.runs[0].trainingEpisodes.map((e) => ({ step: e.step, value: e.return })),
    });
  }
  series.push(flatSeries('uniformly random policy', report.baselines.random.meanReturn, totalSteps));
  series.push(flatSeries('zero action', report.baselines.zero.meanReturn, totalSteps));
  return series;
}

export async function renderReportCurve(report: RunReport): Promise<string> {
  const seeds = report.seeds.length === 1 ? `seed ${report.seeds[0]}` : `seeds ${report.seeds.join(', ')}`;
  return renderLearningCurve({
    title: `${report.task}: ${report.controller} learning online`,
    subtitle: `score ${report.score.toFixed(0)} (mean evaluation return at ${report.runs[0]?.steps ?? 0} steps, ${seeds}); step p99 ${report.stepP99Ms.toFixed(2)} ms`,
    totalSteps: report.runs[0]?.steps ?? 0,
    maxReturn: report.runs[0]?.episodeSteps ?? 1000,
    series: curveSeries(report),
  });
}

/** Writes results.json and learning-curve.svg into `folder`; returns their paths. */
export async function writeRunReport(folder: string, report: RunReport): Promise<{ json: string; svg: string }> {
  mkdirSync(folder, { recursive: true });
  const json = join(folder, 'results.json');
  const svg = join(folder, 'learning-curve.svg');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(svg, await renderReportCurve(report));
  return { json, svg };
}
