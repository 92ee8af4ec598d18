// Draws every chart of a dashboard page from its JSON endpoint with Chart.js (vendored, no CDN,
// loaded as a classic script before this module). Each <figure class="chart-card" data-json=...>
// ends with data-state = ready | empty | error and data-points = the number of plotted values, so
// people (and browser tests) can tell a chart with data from an empty one.

import { fetchJson } from "../common/http.js";
import { BASE_HEIGHT, chartHeight } from "./layout.js";

const Chart = window.Chart;

function countPoints(chart) {
  let n = 0;
  for (const d of chart.data.datasets || []) {
    for (const v of d.data || []) {
      if (v !== null && v !== undefined && !(typeof v === "object" && (v.y === null || v.y === undefined))) n++;
    }
  }
  return n;
}

async function draw(card) {
  const canvas = card.querySelector("canvas");
  const note = card.querySelector(".chart-note");
  try {
    const res = await fetchJson(card.dataset.json);
    if (!res.ok || !res.data) throw new Error(`${res.status} ${res.statusText}`);
    const table = res.data;
    card.querySelector(".chart-title").textContent = table.title;
    note.textContent = table.note || "";
    const points = countPoints(table.chart);
    card.dataset.points = String(points);
    if (!points) {
      card.dataset.state = "empty";
      canvas.replaceWith(Object.assign(document.createElement("p"), { className: "chart-empty", textContent: "No data yet." }));
      return;
    }
    const config = table.chart;
    config.options = Object.assign({ responsive: true, plugins: { legend: { position: "bottom" } } }, config.options || {});
    const height = chartHeight(config);
    if (height !== BASE_HEIGHT) canvas.parentElement.style.height = `${height}px`; // a row for every label
    new Chart(canvas, config);
    card.dataset.state = "ready";
  } catch (err) {
    card.dataset.state = "error";
    note.textContent = `Could not load this chart: ${err.message}`;
  }
}

if (Chart) {
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  document.querySelectorAll(".chart-card[data-json]").forEach(draw);
}
