/** Writes a finished profile as <dir>/trace.json, <dir>/report.html and <dir>/summary.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProfileData } from './recorder.js';
import { buildReport } from './report.js';
import { type ProfileSummary, summarize } from './summary.js';
import { writeTrace } from './trace.js';

export interface WrittenProfile {
  dir: string;
  trace: string;
  report: string;
  summaryPath: string;
  summary: ProfileSummary;
}

export async function writeProfile(data: ProfileData, dir: string): Promise<WrittenProfile> {
  mkdirSync(dir, { recursive: true });
  const summary = summarize(data);
  const summaryPath = join(dir, 'summary.json');
  writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  const trace = join(dir, 'trace.json');
  writeTrace(data, trace);
  const report = join(dir, 'report.html');
  writeFileSync(report, await buildReport(data, summary));
  return { dir, trace, report, summaryPath, summary };
}
