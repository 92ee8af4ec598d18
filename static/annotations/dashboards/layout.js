// Sizes of dashboard charts, as plain functions of a chart's Chart.js configuration (no DOM), so
// that they can be tested under Node.

/** The height of a chart box in the page's stylesheet (.chart-box), in CSS pixels. */
export const BASE_HEIGHT = 300;
/** Room for the legend, the value axis and its title under a horizontal bar chart. */
export const FRAME_HEIGHT = 100;
/** A row must be at least one label's line high (12 px text and its padding) for every label to show. */
export const MIN_ROW = 18;

function isHorizontalBar(config) {
  return !!config && config.type === "bar" && !!config.options && config.options.indexAxis === "y";
}

/**
 * The height a chart needs so that each of its labels can be written out: a horizontal bar chart
 * gets a row per label (taller rows for side-by-side bars of several datasets), never less than the
 * stylesheet's height; any other chart keeps that height.
 */
export function chartHeight(config, base = BASE_HEIGHT) {
  if (!isHorizontalBar(config)) return base;
  const labels = ((config.data && config.data.labels) || []).length;
  const sets = ((config.data && config.data.datasets) || []).length;
  const scales = config.options.scales || {};
  const stacked = !!(scales.y && scales.y.stacked);
  const row = Math.max(MIN_ROW, (stacked ? 1 : sets) * 8 + 6);
  return Math.max(base, labels * row + FRAME_HEIGHT);
}
