/**
 * Learning-curve plots drawn with vega-lite (compiled to a vega spec) and rendered to SVG by vega
 * in Node, headless (renderer 'none'). One picture: evaluation returns per seed, their mean, the
 * training-episode returns, and the random and zero-action baselines as dashed lines.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

export interface CurveSeries {
  /** legend label, e.g. 'brain (eval, seed 1)' */
  label: string;
  points: ReadonlyArray<{ step: number; value: number }>;
  style: 'evaluation' | 'mean' | 'training' | 'baseline';
}

export interface CurvePlot {
  title: string;
  subtitle?: string;
  totalSteps: number;
  /** the y axis runs from 0 to this when every value fits (the suite's 1000), else it adapts */
  maxReturn: number;
  series: CurveSeries[];
}

/** How each kind of series is drawn: the mean bold, training faint, baselines dashed. */
const markOf: Record<CurveSeries['style'], { strokeWidth: number; opacity: number; strokeDash: number[] }> = {
  evaluation: { strokeWidth: 1.5, opacity: 0.8, strokeDash: [1, 0] },
  mean: { strokeWidth: 3.5, opacity: 1, strokeDash: [1, 0] },
  training: { strokeWidth: 1, opacity: 0.4, strokeDash: [1, 0] },
  baseline: { strokeWidth: 1.5, opacity: 0.9, strokeDash: [6, 4] },
};

/** The vega-lite spec of a learning curve (returns on the suite's 0-1000 scale). */
export function learningCurveSpec(plot: CurvePlot): vegaLite.TopLevelSpec {
  const values: Array<{ step: number; value: number; series: string; style: string }> = [];
  for (const series of plot.series) {
    for (const point of series.points) {
      values.push({ step: point.step, value: point.value, series: series.label, style: series.style });
    }
  }
  const labels = plot.series.map((s) => s.label);
  let fits = true;
  for (const v of values) if (v.value < 0 || v.value > plot.maxReturn) fits = false;
  const styles = (['training', 'baseline', 'evaluation', 'mean'] as const).filter((style) =>
    plot.series.some((s) => s.style === style),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: plot.subtitle ? { text: plot.title, subtitle: plot.subtitle } : plot.title,
    width: 560,
    height: 300,
    background: 'white',
    data: { values },
    encoding: {
      x: {
        field: 'step',
        type: 'quantitative',
        title: 'environment steps (training)',
        scale: { domain: [0, plot.totalSteps] },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: fits ? `episode return (0-${plot.maxReturn})` : 'episode return',
        scale: fits ? { domain: [0, plot.maxReturn] } : { zero: true, nice: true },
      },
      color: {
        field: 'series',
        type: 'nominal',
        sort: labels,
        title: null,
        legend: { orient: 'bottom', columns: 2, labelLimit: 0 },
      },
    },
    // one layer per kind of series, drawn faint first and the mean last (on top)
    layer: styles.map((style) => ({
      transform: [{ filter: { field: 'style', equal: style } }],
      mark: { type: 'line', interpolate: 'linear', ...markOf[style] },
    })),
  };
}

/** Renders a learning curve to an SVG document. */
export async function renderLearningCurve(plot: CurvePlot): Promise<string> {
  // vega-lite warns about the merged legend settings of the styling channels: expected, silenced
  const compiled = vegaLite.compile(learningCurveSpec(plot), { logger: vega.logger(vega.None) }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A horizontal line across the whole run, for a baseline's mean return. */
export function flatSeries(label: string, value: number, totalSteps: number): CurveSeries {
  return {
    label,
    style: 'baseline',
    points: [
      { step: 0, value },
      { step: totalSteps, value },
    ],
  };
}
