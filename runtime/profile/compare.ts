/**
 * Compares two profiles' summaries stage by stage (and the whole cycle): p50 and p99 change from
 * the baseline `a` to the candidate `b`. A stage regresses when a percentile grew by more than the
 * threshold AND by more than an absolute noise floor, so a 0.3 µs stage going to 0.4 µs is not
 * a "33% regression" on a noisy machine.
 */

import { stageNames } from './stages.js';
import type { ProfileSummary } from './summary.js';

export interface CompareOptions {
  /** relative growth allowed, e.g. 0.1 for 10% */
  maxRegression: number;
  /** absolute growth (ns) below which a change never counts as a regression */
  noiseFloorNs: number;
}

export interface PercentileChange {
  a: number;
  b: number;
  /** (b - a) / a; Infinity when a is 0 and b is not */
  change: number;
  regressed: boolean;
}

export interface StageComparison {
  stage: string;
  p50: PercentileChange;
  p99: PercentileChange;
}

export interface Comparison {
  rows: StageComparison[];
  regressions: string[];
  options: CompareOptions;
}

function changeOf(a: number, b: number, options: CompareOptions): PercentileChange {
  const change = a === 0 ? (b === 0 ? 0 : Number.POSITIVE_INFINITY) : (b - a) / a;
  return { a, b, change, regressed: change > options.maxRegression && b - a > options.noiseFloorNs };
}

export function compareSummaries(a: ProfileSummary, b: ProfileSummary, options: CompareOptions): Comparison {
  const rows: StageComparison[] = [];
  const add = (stage: string, da: { p50: number; p99: number }, db: { p50: number; p99: number }) => {
    rows.push({ stage, p50: changeOf(da.p50, db.p50, options), p99: changeOf(da.p99, db.p99, options) });
  };
  for (const stage of [...stageNames, 'other'] as const) add(stage, a.stages[stage], b.stages[stage]);
  add('cycle', a.cycleNs, b.cycleNs);
  const regressions: string[] = [];
  for (const row of rows) {
    if (row.p50.regressed) regressions.push(`${row.stage} p50`);
    if (row.p99.regressed) regressions.push(`${row.stage} p99`);
  }
  return { rows, regressions, options };
}

/** Parses '10%' or '10' (both ten percent) into a fraction. */
export function parsePercent(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  if (!match) throw new RangeError(`expected a percentage like 10%, got '${text}'`);
  return Number(match[1]) / 100;
}

function formatUs(ns: number): string {
  const us = ns / 1000;
  return us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2);
}

function formatChange(change: number): string {
  if (!Number.isFinite(change)) return 'new';
  const percent = change * 100;
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)}%`;
}

/** The per-stage table a person reads (fixed-width text). */
export function formatComparison(comparison: Comparison, labelA: string, labelB: string): string {
  const header = ['stage', 'p50 a µs', 'p50 b µs', 'p50 Δ', 'p99 a µs', 'p99 b µs', 'p99 Δ', ''];
  const body = comparison.rows.map((row) => [
    row.stage,
    formatUs(row.p50.a),
    formatUs(row.p50.b),
    formatChange(row.p50.change),
    formatUs(row.p99.a),
    formatUs(row.p99.b),
    formatChange(row.p99.change),
    row.p50.regressed || row.p99.regressed ? 'REGRESSED' : '',
  ]);
  const widths = header.map((h, col) => Math.max(h.length, ...body.map((cells) => cells[col]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join('  ')
      .trimEnd();
  const { maxRegression, noiseFloorNs } = comparison.options;
  const verdict =
    comparison.regressions.length === 0
      ? `no stage regressed more than ${(maxRegression * 100).toFixed(0)}% (noise floor ${formatUs(noiseFloorNs)} µs)`
      : `REGRESSION past ${(maxRegression * 100).toFixed(0)}% (noise floor ${formatUs(noiseFloorNs)} µs): ${comparison.regressions.join(', ')}`;
  return [`a: ${labelA}`, `b: ${labelB}`, '', line(header), ...body.map(line), '', verdict].join('\n');
}
