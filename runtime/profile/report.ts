/**
 * report.html: one self-contained file (inline SVG and CSS, no scripts, nothing fetched) with the
 * plots drawn by vega-lite, compiled to vega and rendered to SVG in Node. Long sessions are
 * bucketed for the time-series plots (max and mean per bucket keep spikes visible); histograms
 * bin every cycle.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { gcKindName } from './gc.js';
import { hostLine } from './host.js';
import type { ProfileData } from './recorder.js';
import { lookupPathNames, stageNames } from './stages.js';
import { type ProfileSummary, unaccountedNs } from './summary.js';

const chartWidth = 880;
const chartHeight = 220;
/** points per time-series line; more adds bytes, not information, at this width */
const maxBuckets = 1200;
/** overrun markers and GC rules drawn at most */
const maxMarkers = 2000;

export async function renderChart(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const baseConfig = {
  font: 'DejaVu Sans, Arial, sans-serif',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'top' as const },
};

function microseconds(values: Float64Array, count: number): { us: number }[] {
  const rows = new Array<{ us: number }>(count);
  for (let i = 0; i < count; i++) rows[i] = { us: values[i]! / 1000 };
  return rows;
}

function cycleHistogram(data: ProfileData): TopLevelSpec {
  const { cycles, meta } = data;
  let maxUs = meta.budgetNs / 1000;
  for (let i = 0; i < cycles.count; i++) maxUs = Math.max(maxUs, cycles.cycleNs[i]! / 1000);
  const nearRightEdge = meta.budgetNs / 1000 > 0.6 * maxUs;
  return {
    width: chartWidth,
    height: chartHeight,
    config: baseConfig,
    layer: [
      {
        data: { values: microseconds(cycles.cycleNs, cycles.count) },
        mark: { type: 'bar', color: '#4c78a8' },
        encoding: {
          x: { field: 'us', bin: { maxbins: 80, extent: [0, maxUs * 1.02] }, title: 'cycle time (µs)' },
          y: { aggregate: 'count', title: 'cycles', scale: { type: 'symlog' } },
        },
      },
      {
        data: { values: [{ budget: meta.budgetNs / 1000 }] },
        mark: { type: 'rule', color: '#e45756', strokeWidth: 2, strokeDash: [6, 3] },
        encoding: { x: { field: 'budget', type: 'quantitative' } },
      },
      {
        data: { values: [{ budget: meta.budgetNs / 1000, label: `budget ${(meta.budgetNs / 1000).toFixed(0)} µs` }] },
        // Label on the side of the rule with room: the budget often sits at the right edge.
        mark: {
          type: 'text',
          color: '#e45756',
          align: nearRightEdge ? 'right' : 'left',
          dx: nearRightEdge ? -4 : 4,
          dy: 2,
          baseline: 'top',
        },
        encoding: { x: { field: 'budget', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      },
    ],
  };
}

function cycleTimeline(data: ProfileData): TopLevelSpec {
  const { cycles, gc, meta } = data;
  const t0 = meta.startNs;
  const n = cycles.count;
  const bucket = Math.max(1, Math.ceil(n / maxBuckets));
  const series: { t: number; us: number; series: string }[] = [];
  for (let start = 0; start < n; start += bucket) {
    const end = Math.min(n, start + bucket);
    let max = 0;
    let sum = 0;
    for (let i = start; i < end; i++) {
      max = Math.max(max, cycles.cycleNs[i]!);
      sum += cycles.cycleNs[i]!;
    }
    const t = (cycles.wokeNs[start]! - t0) / 1e9;
    series.push({ t, us: max / 1000, series: bucket > 1 ? `max of ${bucket} cycles` : 'cycle' });
    if (bucket > 1) series.push({ t, us: sum / (end - start) / 1000, series: `mean of ${bucket} cycles` });
  }
  const overruns: { t: number; us: number; series: string }[] = [];
  for (let i = 0; i < n && overruns.length < maxMarkers; i++) {
    if (cycles.overrun[i])
      overruns.push({ t: (cycles.wokeNs[i]! - t0) / 1e9, us: cycles.cycleNs[i]! / 1000, series: 'overrun' });
  }
  const gcs: { t: number; series: string; kind: string }[] = [];
  for (let g = 0; g < gc.count && gcs.length < maxMarkers; g++) {
    const kind = gcKindName(gc.kind[g]!);
    gcs.push({ t: (gc.startNs[g]! - t0) / 1e9, series: kind === 'major' ? 'GC major' : 'GC', kind });
  }
  // Only the series present get a legend entry.
  const palette: [string, string][] = [
    ['cycle', '#4c78a8'],
    [`max of ${bucket} cycles`, '#4c78a8'],
    [`mean of ${bucket} cycles`, '#9ecae9'],
    ['overrun', '#e45756'],
    ['GC', '#b0b0b0'],
    ['GC major', '#f58518'],
    ['budget', '#e45756'],
  ];
  const present = new Set<string>(['budget']);
  for (const row of series) present.add(row.series);
  if (overruns.length > 0) present.add('overrun');
  for (const row of gcs) present.add(row.series);
  const shown = palette.filter(([name]) => present.has(name));
  const colors = { domain: shown.map(([name]) => name), range: shown.map(([, colour]) => colour) };
  return {
    width: chartWidth,
    height: chartHeight,
    config: baseConfig,
    encoding: { x: { field: 't', type: 'quantitative', title: 'session time (s)' } },
    layer: [
      {
        data: { values: gcs },
        mark: { type: 'rule', strokeWidth: 1, opacity: 0.6 },
        encoding: { color: { field: 'series', type: 'nominal', scale: colors, title: null } },
      },
      {
        data: { values: series },
        mark: { type: 'line', strokeWidth: 1 },
        encoding: {
          y: { field: 'us', type: 'quantitative', title: 'cycle time (µs)' },
          color: { field: 'series', type: 'nominal', scale: colors, title: null },
        },
      },
      {
        data: { values: overruns },
        mark: { type: 'point', filled: true, size: 30 },
        encoding: {
          y: { field: 'us', type: 'quantitative' },
          color: { field: 'series', type: 'nominal', scale: colors },
        },
      },
      {
        data: { values: [{ us: meta.budgetNs / 1000, series: 'budget' }] },
        mark: { type: 'rule', strokeDash: [6, 3], strokeWidth: 1.5 },
        encoding: {
          x: { value: 0 },
          x2: { value: chartWidth },
          y: { field: 'us', type: 'quantitative' },
          color: { field: 'series', type: 'nominal', scale: colors },
        },
      },
    ],
  };
}

function stageBreakdown(summary: ProfileSummary): TopLevelSpec {
  const rows: { stage: string; stat: string; us: number }[] = [];
  const order = [...stageNames, 'other'] as const;
  for (const stage of order) {
    const dist = summary.stages[stage];
    rows.push({ stage, stat: 'p50', us: dist.p50 / 1000 });
    rows.push({ stage, stat: 'p99', us: dist.p99 / 1000 });
  }
  return {
    width: chartWidth,
    height: chartHeight,
    config: baseConfig,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      x: { field: 'stage', type: 'nominal', sort: [...order], title: 'stage', axis: { labelAngle: 0 } },
      xOffset: { field: 'stat', type: 'nominal' },
      y: { field: 'us', type: 'quantitative', title: 'time (µs, symlog scale)', scale: { type: 'symlog' } },
      color: { field: 'stat', type: 'nominal', scale: { range: ['#4c78a8', '#f58518'] }, title: null },
      tooltip: [{ field: 'stage' }, { field: 'stat' }, { field: 'us', format: '.2f' }],
    },
  };
}

function latenessHistogram(data: ProfileData): TopLevelSpec {
  return {
    width: chartWidth,
    height: chartHeight,
    config: baseConfig,
    data: { values: microseconds(data.cycles.latenessNs, data.cycles.count) },
    mark: { type: 'bar', color: '#54a24b' },
    encoding: {
      x: { field: 'us', bin: { maxbins: 80 }, title: 'wake-up lateness (µs)' },
      y: { aggregate: 'count', title: 'cycles', scale: { type: 'symlog' } },
    },
  };
}

/** Which lookup path served the cycles, and the planner's effort level, over the session. */
function pathAndEffortTimeline(data: ProfileData): TopLevelSpec {
  const { cycles, meta } = data;
  const n = cycles.count;
  const bucket = Math.max(1, Math.ceil(n / maxBuckets));
  const paths: { t: number; path: string }[] = [];
  const effort: { t: number; level: number }[] = [];
  const counts = new Int32Array(lookupPathNames.length);
  for (let start = 0; start < n; start += bucket) {
    const end = Math.min(n, start + bucket);
    counts.fill(0);
    let level = 0;
    for (let i = start; i < end; i++) {
      const path = cycles.lookupPath[i]!;
      if (path < counts.length) counts[path]!++;
      level = Math.max(level, cycles.effortLevel[i]!);
    }
    let dominant = 0;
    for (let p = 1; p < counts.length; p++) if (counts[p]! > counts[dominant]!) dominant = p;
    const t = (cycles.wokeNs[start]! - meta.startNs) / 1e9;
    paths.push({ t, path: lookupPathNames[dominant]! });
    effort.push({ t, level });
  }
  const x = { field: 't', type: 'quantitative' as const, title: 'session time (s)' };
  return {
    config: baseConfig,
    vconcat: [
      {
        width: chartWidth,
        height: 70,
        data: { values: paths },
        mark: { type: 'tick', thickness: 2 },
        encoding: {
          x,
          y: { field: 'path', type: 'nominal', sort: [...lookupPathNames], title: 'lookup path' },
          color: { field: 'path', type: 'nominal', sort: [...lookupPathNames], legend: null },
        },
      },
      {
        width: chartWidth,
        height: 90,
        data: { values: effort },
        mark: { type: 'line', interpolate: 'step-after', color: '#54a24b' },
        encoding: {
          x,
          y: { field: 'level', type: 'quantitative', title: 'effort level', axis: { tickMinStep: 1 } },
        },
      },
    ],
  };
}

function memoryTimeline(data: ProfileData): TopLevelSpec {
  const { meta } = data;
  const { heap, machine } = data;
  const rows: { t: number; MiB: number; series: string }[] = [];
  const step = Math.max(1, Math.ceil(heap.count / maxBuckets));
  for (let s = 0; s < heap.count; s += step) {
    const t = (heap.tNs[s]! - meta.startNs) / 1e9;
    rows.push({ t, MiB: heap.heapUsedBytes[s]! / 2 ** 20, series: 'heap used' });
    rows.push({ t, MiB: heap.heapTotalBytes[s]! / 2 ** 20, series: 'heap total' });
  }
  const rssStep = Math.max(1, Math.ceil(machine.count / maxBuckets));
  for (let s = 0; s < machine.count; s += rssStep) {
    rows.push({ t: (machine.tNs[s]! - meta.startNs) / 1e9, MiB: machine.rssBytes[s]! / 2 ** 20, series: 'RSS' });
  }
  return {
    width: chartWidth,
    height: chartHeight,
    config: baseConfig,
    data: { values: rows },
    mark: { type: 'line', point: heap.count < 60 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'session time (s)' },
      y: { field: 'MiB', type: 'quantitative', title: 'process memory (MiB)' },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

function machineTimeline(data: ProfileData): TopLevelSpec {
  const { meta, machine } = data;
  const rows: { t: number; value: number; series: string }[] = [];
  for (let s = 0; s < machine.count; s++) {
    const t = (machine.tNs[s]! - meta.startNs) / 1e9;
    rows.push({ t, value: machine.cpuLoadPercent[s]!, series: 'CPU load (%)' });
    rows.push({
      t,
      value: (machine.memUsedBytes[s]! / (machine.memUsedBytes[s]! + machine.memAvailableBytes[s]!)) * 100,
      series: 'memory used (%)',
    });
  }
  return {
    width: chartWidth,
    height: 160,
    config: baseConfig,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'session time (s)' },
      y: { field: 'value', type: 'quantitative', title: 'machine (%)', scale: { domain: [0, 100] } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmtUs = (ns: number) => (ns / 1000).toFixed(ns >= 100_000 ? 0 : ns >= 10_000 ? 1 : 2);
const fmtMiB = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function rowsHtml(rows: [string, string][]): string {
  return rows.map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`).join('\n');
}

function figure(id: string, title: string, svg: string, caption: string): string {
  return `<section class="chart" id="${id}"><h2>${escapeHtml(title)}</h2>${svg}<p class="caption">${escapeHtml(caption)}</p></section>`;
}

/** The whole report as one HTML string. */
export async function buildReport(data: ProfileData, summary: ProfileSummary): Promise<string> {
  const hasMachine = data.machine.count > 0;
  const [histogram, timeline, breakdown, lateness, pathsAndEffort, memory, machine] = await Promise.all([
    renderChart(cycleHistogram(data)),
    renderChart(cycleTimeline(data)),
    renderChart(stageBreakdown(summary)),
    renderChart(latenessHistogram(data)),
    renderChart(pathAndEffortTimeline(data)),
    renderChart(memoryTimeline(data)),
    hasMachine ? renderChart(machineTimeline(data)) : Promise.resolve(''),
  ]);
  const c = summary.cycles;
  const other = unaccountedNs(data);
  let otherMax = 0;
  for (let i = 0; i < other.length; i++) otherMax = Math.max(otherMax, other[i]!);
  const stageRows = [...stageNames, 'other' as const]
    .map((stage) => {
      const d = summary.stages[stage];
      return `<tr><th>${stage}</th><td>${fmtUs(d.p50)}</td><td>${fmtUs(d.p90)}</td><td>${fmtUs(d.p99)}</td><td>${fmtUs(d.max)}</td><td>${fmtUs(d.mean)}</td></tr>`;
    })
    .join('\n');
  const host = summary.host;
  const gcKinds = Object.entries(summary.gc.byKind)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ');
  const keyFigures = rowsHtml([
    ['session', `${summary.label}, ${summary.durationS.toFixed(2)} s from ${summary.startedAt}`],
    ['rate', `${(1e9 / summary.periodNs).toFixed(0)} Hz target, ${c.achievedHz.toFixed(1)} Hz achieved`],
    ['budget', `${fmtUs(summary.budgetNs)} µs per cycle`],
    [
      'cycles',
      `${c.recorded} recorded${c.dropped ? `, ${c.dropped} dropped (table full)` : ''}, ${c.skippedTicks} ticks skipped`,
    ],
    ['overruns', `${c.overruns} (${summary.gc.overrunsWithGc} with a GC inside)`],
    [
      'cycle time',
      `p50 ${fmtUs(summary.cycleNs.p50)} µs, p99 ${fmtUs(summary.cycleNs.p99)} µs, max ${fmtUs(summary.cycleNs.max)} µs`,
    ],
    [
      'lateness',
      `p50 ${fmtUs(summary.latenessNs.p50)} µs, p99 ${fmtUs(summary.latenessNs.p99)} µs, max ${fmtUs(summary.latenessNs.max)} µs`,
    ],
    [
      'GC',
      `${summary.gc.count} events (${gcKinds || 'none'}), ${summary.gc.totalPauseMs.toFixed(2)} ms total, max ${summary.gc.maxPauseMs.toFixed(2)} ms`,
    ],
    [
      'event-loop delay',
      `p50 ${(summary.eventLoopDelayNs.p50 / 1e6).toFixed(2)} ms, p99 ${(summary.eventLoopDelayNs.p99 / 1e6).toFixed(2)} ms, max ${(summary.eventLoopDelayNs.max / 1e6).toFixed(2)} ms`,
    ],
    [
      'memory',
      `heap used max ${fmtMiB(summary.memory.heapUsedMaxBytes)} MiB, RSS ${fmtMiB(summary.memory.rssFirstBytes)} → ${fmtMiB(summary.memory.rssLastBytes)} MiB (max ${fmtMiB(summary.memory.rssMaxBytes)})`,
    ],
    [
      'lookup paths',
      Object.entries(summary.lookupPaths)
        .filter(([, count]) => count > 0)
        .map(([path, count]) => `${path} ${count}`)
        .join(', ') || 'none',
    ],
    ['effort levels', summary.effortLevels.map((count, level) => `level ${level}: ${count}`).join(', ')],
    [
      'stage accounting',
      `${c.unaccounted} cycles whose stages exceed their total; max gap between stages ${fmtUs(otherMax)} µs`,
    ],
  ]);
  const hostRows = rowsHtml([
    ['CPU', `${host.cpuModel}${host.cpuSpeedGHz ? ` @ ${host.cpuSpeedGHz} GHz` : ''}`],
    ['cores', `${host.cores} logical, ${host.physicalCores} physical`],
    ['memory', `${(host.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    [
      'GPU',
      host.gpus.length === 0
        ? 'none detected'
        : host.gpus.map((gpu) => `${gpu.vendor} ${gpu.model}${gpu.vramMiB ? ` (${gpu.vramMiB} MiB)` : ''}`).join('; '),
    ],
    ['OS', `${host.os}, kernel ${host.kernel}, ${host.arch}`],
    ['Node', `${host.node} (V8 ${host.v8})`],
    ['hostname', host.hostname],
    [
      'machine load',
      summary.machine.cpuLoadMeanPercent === null
        ? 'not sampled'
        : `CPU mean ${summary.machine.cpuLoadMeanPercent.toFixed(0)}%, max ${summary.machine.cpuLoadMaxPercent?.toFixed(0)}%`,
    ],
  ]);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>engram profile: ${escapeHtml(summary.label)}</title>
<style>
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 24px auto; max-width: 980px; color: #222; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 16px; margin: 24px 0 6px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eee; vertical-align: top; }
table.stages td { text-align: right; }
.caption { font-size: 12px; color: #555; margin: 2px 0 0; }
.host { font-size: 12px; color: #555; }
svg { display: block; }
</style>
</head>
<body>
<h1>engram profile: ${escapeHtml(summary.label)}</h1>
<p class="host">${escapeHtml(hostLine(host))}</p>
<table class="key">${keyFigures}</table>
${figure('cycle-histogram', 'Cycle time', histogram, 'Every cycle, wake to end of publish (log-scaled counts); the dashed line is the budget.')}
${figure('cycle-timeline', 'Cycle time over the session', timeline, 'Overruns as red points; vertical rules mark GC events (orange: major).')}
${figure('stage-breakdown', 'Per-stage breakdown (p50 and p99)', breakdown, '"other" is the cycle total minus its stages: loop overhead between stages. Maintenance runs after publish, outside the cycle total.')}
<table class="stages"><tr><th>stage (µs)</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th></tr>
${stageRows}
</table>
${figure('lateness', 'Wake-up lateness', lateness, "Wake time minus the tick's due time, every cycle (log-scaled counts).")}
${figure('paths-effort', 'Lookup path and effort level', pathsAndEffort, `The path that served most lookups${data.cycles.count > maxBuckets ? ' in each bucket of cycles' : ''}, and the planner's effort level (0 = full effort; higher = stepped down after overruns).`)}
${figure('memory', 'Memory over the session', memory, 'V8 heap (sampled in slack time) and RSS (sampled by a worker thread).')}
${hasMachine ? figure('machine', 'Machine load', machine, 'Whole-machine CPU load and memory use (systeminformation).') : ''}
<section id="host"><h2>Host</h2><table>${hostRows}</table></section>
</body>
</html>
`;
}
