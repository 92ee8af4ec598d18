// What the model and the neighbouring frames say about this frame: the prediction panel, the
// prediction drawn as a ghost, and the previous/next frames drawn as onion skins. Each is of the
// person being edited: a person is never offered another person's points.

import { $, names, parts, state } from "./context.js";

/** The model's predictions of the person with this instance (active model's first); the first person's
 * are also in `predictions` (a payload from before people). */
export function predictionsOf(instance) {
  const data = state.data || {};
  const byPerson = data.people_predictions;
  if (byPerson) return byPerson[String(instance)] || [];
  return instance === 0 ? data.predictions || [] : [];
}

function currentInstance() {
  const person = state.people[state.current];
  return person ? person.instance : 0;
}

/** The model's prediction of the person being edited, or null. Never another person's. */
export function prediction() {
  const preds = predictionsOf(currentInstance());
  return preds.length ? preds[0] : null;
}

/** Instances the model predicted that are not on the frame yet (offered through "Add person"). */
export function predictedNewcomers() {
  const byPerson = (state.data && state.data.people_predictions) || {};
  return Object.keys(byPerson).map(Number).filter((n) => !state.people.some((p) => p.instance === n)).sort((a, b) => a - b);
}

/** Why there is no prediction for the person being edited, in plain words. */
export function missingPrediction() {
  const instance = currentInstance();
  if (instance === 0) return "No model prediction for this frame yet.";
  const predicted = state.people.filter((p) => predictionsOf(p.instance).length).map((p) => `Person ${p.instance + 1}`);
  if (!predicted.length) return `No model prediction for Person ${instance + 1} (nor anyone on this frame).`;
  return `Predictions exist for ${predicted.join(", ")} only: none for Person ${instance + 1}. ` +
    "Predicting the frame again once this person is saved gives one in their box.";
}

/** The prediction panel: which model, its form guess, and the selected point's confidence. */
export function renderPrediction() {
  const pred = prediction();
  $("btn-accept-all").disabled = !pred;
  $("btn-accept-all").textContent = state.people.length > 1 ? `Accept all predicted points of Person ${currentInstance() + 1}`
    : "Accept all predicted points";
  if (!pred) {
    $("pred-info").textContent = missingPrediction();
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
  const newcomers = predictedNewcomers();
  if (newcomers.length) {
    lines.push(`the model also sees ${newcomers.map((n) => `Person ${n + 1}`).join(", ")}: Add person starts from it`);
  }
  $("pred-info").textContent = lines.join(" · ");
}

/** A neighbour frame's points of the person with this instance, or null (payloads before people: the first's). */
export function neighbourPoints(side, instance) {
  if (!side) return null;
  if (side.people) return side.people[String(instance)] || null;
  return instance === 0 ? side.keypoints || null : null;
}

/** The neighbour frames' points of the person being edited, muted (onion skin). */
export function drawOnion() {
  const layers = [];
  const n = state.data.neighbours;
  const instance = currentInstance();
  if (state.showOnion) {
    const prev = neighbourPoints(n.prev, instance);
    const next = neighbourPoints(n.next, instance);
    if (prev) layers.push({ keypoints: prev, className: "onion-prev" });
    if (next) layers.push({ keypoints: next, className: "onion-next" });
  }
  parts.stage.setOnion(layers);
}

export function drawGhost() {
  const pred = prediction();
  parts.stage.setGhost(state.showGhost && pred ? [{ keypoints: pred.keypoints, scores: pred.scores, className: "prediction",
                                                     radius: 4 }] : []);
}
