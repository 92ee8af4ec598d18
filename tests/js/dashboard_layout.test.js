// Unit tests of the dashboards' chart sizes (static/annotations/dashboards/layout.js).
// Run: npm test (or: node --test tests/js/).
import assert from "node:assert/strict";
import test from "node:test";

import { BASE_HEIGHT, FRAME_HEIGHT, MIN_ROW, chartHeight } from "../../static/annotations/dashboards/layout.js";

const names = (n) => Array.from({ length: n }, (_, i) => `keypoint_${i}`);
const horizontal = (labels, sets, stacked = false) => ({
  type: "bar",
  data: { labels, datasets: Array.from({ length: sets }, (_, i) => ({ label: `v${i}`, data: labels.map(() => 1) })) },
  options: { indexAxis: "y", scales: { x: { stacked }, y: { stacked, ticks: { autoSkip: false } } } },
});

test("a horizontal bar chart gets a row tall enough for a label per keypoint", () => {
  for (const [n, sets] of [[24, 1], [24, 3], [37, 3]]) {
    const h = chartHeight(horizontal(names(n), sets));
    assert.ok((h - FRAME_HEIGHT) / n >= MIN_ROW, `${n} labels, ${sets} datasets: ${h}px`);
    assert.ok((h - FRAME_HEIGHT) / n >= sets * 8, "side-by-side bars keep 8 px each");
  }
  assert.ok(chartHeight(horizontal(names(37), 3)) > chartHeight(horizontal(names(24), 3)));
});

test("stacked bars share one row; short charts and vertical ones keep the stylesheet's height", () => {
  assert.equal(chartHeight(horizontal(names(30), 3, true)), 30 * MIN_ROW + FRAME_HEIGHT);
  assert.equal(chartHeight(horizontal(names(4), 2)), BASE_HEIGHT);
  assert.equal(chartHeight({ type: "bar", data: { labels: names(40), datasets: [] }, options: {} }), BASE_HEIGHT);
  assert.equal(chartHeight({ type: "line", data: { datasets: [] } }), BASE_HEIGHT);
  assert.equal(chartHeight(null), BASE_HEIGHT);
});
