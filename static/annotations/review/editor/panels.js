// The sidebar and status line: the keypoint list, the form-label buttons, the counts, the save
// status and the notice bar. Rendering only; changes go through editing.js.

import { $, K, cfg, colours, names, parts, state } from "./context.js";
import { renderPrediction } from "./prediction_view.js";
import { rawFigures, reasons } from "./reasons.js";

export const VIS_TEXT = { 2: "visible", 1: "occluded", 0: "—" };

let rows = [];
let labelButtons = [];

/** Builds the keypoint rows and form-label buttons; onSelect(i) and onLabel(name) handle clicks. */
export function buildPanels({ onSelect, onLabel }) {
  rows = names.map((name, i) => {
    const li = document.createElement("li");
    li.dataset.i = i;
    li.className = "kp-row";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colours[i];
    const label = document.createElement("span");
    label.className = "kp-name";
    label.textContent = name;
    const vis = document.createElement("span");
    vis.className = "kp-vis";
    const st = document.createElement("span");
    st.className = "kp-state";
    li.append(swatch, label, vis, st);
    li.addEventListener("click", () => onSelect(i));
    $("kp-list").appendChild(li);
    return li;
  });
  labelButtons = cfg.formLabels.slice(0, 9).map((label) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "form-label";
    b.dataset.label = label.name;
    b.style.setProperty("--label-colour", label.colour);
    b.innerHTML = `<kbd>${label.key}</kbd> `;
    b.append(label.display_name);
    b.addEventListener("click", () => onLabel(label.name));
    $("form-labels").appendChild(b);
    return b;
  });
}

export function renderRow(i) {
  const p = state.pose.points[i];
  const row = rows[i];
  row.dataset.v = p.v;
  row.dataset.state = p.v > 0 ? p.state : "unlabelled";
  row.querySelector(".kp-vis").textContent = VIS_TEXT[p.v];
  row.querySelector(".kp-state").textContent = p.v > 0 ? p.state : "not placed";
  row.classList.toggle("selected", i === state.selected);
}

export function renderLabels() {
  for (const b of labelButtons) b.classList.toggle("active", b.dataset.label === state.pose.formLabel);
  $("form-labels").dataset.current = state.pose.formLabel || "";
}

function renderCounts() {
  const pts = state.pose.points;
  const todo = pts.filter((p) => p.v > 0 && p.state !== "verified").length;
  $("kp-summary").textContent = `${state.pose.labelled()} of ${K} placed · ${todo} to confirm`;
  $("btn-undo").disabled = !state.undo.done.length;
  $("btn-redo").disabled = !state.undo.undone.length;
}

/** Re-render after a change: the listed points only, or everything. */
export function refresh(points = null) {
  if (points) {
    for (const i of points) {
      parts.stage.updatePoint(i);
      renderRow(i);
    }
  } else {
    parts.stage.updateAll();
    rows.forEach((_, i) => renderRow(i));
  }
  renderLabels();
  renderCounts();
  renderReasons();
}

/** "Why this frame": the queue item's signals in plain words, the spine sentence following the working pose. */
export function renderReasons() {
  const signals = (state.data && state.data.lease && state.data.lease.signals) || {};
  const items = reasons(signals, { names, points: state.pose.points });
  $("signals").hidden = !items.length;
  $("signals-list").replaceChildren(...items.map(({ key, text }) => {
    const li = document.createElement("li");
    li.dataset.signal = key;
    li.textContent = text;
    return li;
  }));
  $("signals-raw").textContent = rawFigures(signals).join(" · ");
}

export function select(i) {
  const old = state.selected;
  state.selected = i;
  parts.stage.select(i);
  if (old >= 0) renderRow(old);
  if (i >= 0) {
    renderRow(i);
    rows[i].scrollIntoView({ block: "nearest" });
  }
  $("selected-name").textContent = i >= 0 ? names[i] : "none";
  if (state.data) renderPrediction();
}

export function setStatus(kind, text) {
  const node = $("save-status");
  node.dataset.state = kind;
  node.textContent = text;
  node.title = text; // cut short on narrow screens
}

export function notice(html, kind = "info") {
  const n = $("notice");
  n.hidden = !html;
  n.className = `notice ${kind}`;
  n.innerHTML = html || "";
}
