// What the model and the neighbouring frames say about this frame: the prediction panel, the
// prediction drawn as a ghost, and the previous/next frames drawn as onion skins.

import { $, names, parts, state } from "./context.js";

/** The frame's prediction (the active model's first), or null; it is of the frame's first person only. */
export function prediction() {
  if (state.current > 0) return null;
  const preds = (state.data && state.data.predictions) || [];
  return preds.length ? preds[0] : null;
}

/** The prediction panel: which model, its form guess, and the selected point's confidence. */
export function renderPrediction() {
  const pred = prediction();
  $("btn-accept-all").disabled = !pred;
  if (!pred) {
    $("pred-info").textContent = state.current > 0 ? "The model predicts the frame's first person only."
      : "No model prediction for this frame yet.";
    return;
  }
  const placed = pred.keypoints.filter((_, j) => j % 3 === 2 && pred.keypoints[j] > 0).length;
  const lines = [`${pred.model_version}${pred.active ? "" : " (not the active model)"}: ${placed} points`];
  if (pred.form_label) {
    const p = pred.form_probs && pred.form_probs[pred.form_label];
    lines.push(`form ${pred.form_label}${p != null ? ` (${Math.round(p * 100)}%)` : ""}`);
  }
  const i = state.selected;
  if (i >= 0 && pred.keypoints[3 * i + 2] > 0) {
    const heuristic = (pred.heuristic || []).includes(i);
    lines.push(`${names[i]}: ${heuristic ? "spine heuristic" : `confidence ${pred.scores[i].toFixed(2)}`} (Y accepts)`);
  }
  $("pred-info").textContent = lines.join(" · ");
}

export function drawOnion() {
  const layers = [];
  const n = state.data.neighbours;
  if (state.showOnion) {
    if (n.prev && n.prev.keypoints) layers.push({ keypoints: n.prev.keypoints, className: "onion-prev" });
    if (n.next && n.next.keypoints) layers.push({ keypoints: n.next.keypoints, className: "onion-next" });
  }
  parts.stage.setOnion(layers);
}

export function drawGhost() {
  const pred = prediction();
  parts.stage.setGhost(state.showGhost && pred ? [{ keypoints: pred.keypoints, scores: pred.scores, className: "prediction",
                                                     radius: 4 }] : []);
}
