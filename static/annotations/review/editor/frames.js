// One frame at a time: loading a frame's payload and swapping it in without reloading the page,
// restoring a draft left by an earlier visit, keeping the queue lease alive, and leaving a frame
// only once its content is saved (or kept as a draft).

import { $, K, api, cfg, parts, root, state } from "./context.js";
import { hideConflict } from "./conflict.js";
import { renderDisagreement } from "./disagreement.js";
import { poseFromPrediction } from "./model.js";
import { notice, refresh, select, setStatus } from "./panels.js";
import { firstToCheck, peopleOf, restoreDraft, usePerson } from "./people.js";
import { drawOnion, prediction, renderPrediction } from "./prediction_view.js";

/** The frame's editor URL, keeping the queue and its filters. */
function editUrl(path) {
  const params = new URLSearchParams();
  if (cfg.queue) params.set("queue", cfg.queue);
  for (const [k, v] of Object.entries(cfg.filters || {})) if (v) params.set(k, v);
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

/**
 * A frame nobody has placed points on but the model has: its prediction is the working copy, every
 * point `predicted` until touched or confirmed. Saved by the first edit or the submit, not by looking.
 */
function workingCopy(stored) {
  const pred = prediction();
  if (!pred || stored.labelled() > 0) return stored;
  const pose = poseFromPrediction(pred, K);
  pose.formLabel = stored.formLabel;
  state.fromPrediction = true;
  return pose;
}

export async function loadFrame(frameId, { push = false } = {}) {
  state.loading = true;
  setStatus("loading", "Loading…");
  const res = await api.call("GET", `frames/${frameId}/editor/`).catch(() => null);
  state.loading = false;
  if (!res || !res.ok) {
    setStatus("error", `Could not load frame ${frameId}${res && res.data ? ": " + res.data.detail : ""}`);
    return false;
  }
  const data = res.data;
  state.data = data;
  state.frameId = frameId;
  state.fromPrediction = false;
  state.people = peopleOf(data, frameId);
  state.current = 0; // the model's prediction (the working copy of an unannotated frame) is the first person's
  const first = state.people[0];
  first.pose = workingCopy(first.pose);
  state.editedHere = false;
  hideConflict();
  notice("");
  if (push) history.pushState({ frameId }, "", editUrl(data.edit_url));
  root.dataset.frame = frameId;
  parts.stage.setFrame(data.frame.image_url, data.frame.width, data.frame.height);
  usePerson(0);
  parts.stage.fit();
  renderFrameInfo();
  refresh();
  select(firstToCheck());
  drawOnion();
  startLeaseTimer();
  // Short: the bar has room for about 25 characters at 1280 px (the whole text is the tooltip).
  restoreDraft(first, state.fromPrediction ? "Model's points, unsaved"
    : first.stored ? `Saved · v${first.doc.version}` : "Not annotated yet");
  return true;
}

function renderFrameInfo() {
  const f = state.data.frame;
  $("ed-where").textContent = `${f.clip} · frame ${f.frame_index ?? "?"} · ${f.file_name}`;
  $("ed-where").title = $("ed-where").textContent; // the bar cuts it short on narrow screens
  $("ed-status").textContent = f.status;
  $("ed-status").className = `frame-status status-${f.status}`;
  $("btn-prev").disabled = !state.data.neighbours.prev;
  $("btn-next").disabled = !state.data.neighbours.next;
  $("btn-copy-prev").disabled = !(state.data.neighbours.prev && state.data.neighbours.prev.keypoints);
  $("link-history").href = state.data.history_url;
  document.title = `${f.file_name} · PoseReview`;
  const rej = state.data.rejection;
  $("rejection").hidden = !rej;
  if (rej) $("rejection-text").textContent = `${rej.by || "A reviewer"}: ${rej.comment}`;
  renderPrediction();
  renderDisagreement();
}

function startLeaseTimer() {
  $("btn-release").hidden = !state.data.lease;
  clearInterval(state.leaseTimer);
  if (!state.data.lease) return;
  const frameId = state.frameId;
  state.leaseTimer = setInterval(() => {
    api.call("POST", `frames/${frameId}/lease/renew/`, {}).catch(() => {});
  }, Math.max(30, cfg.leaseSeconds * 0.4) * 1000);
}

export function stopLeaseTimer() {
  clearInterval(state.leaseTimer);
}

/**
 * Save what is pending, then go. A conflict must be settled first; offline, the draft carries it. An
 * untouched model prediction is only saved when the frame is submitted (`save`).
 */
export async function leaveFrame({ save = false } = {}) {
  if (state.doc && state.doc.conflict) {
    notice("Choose a version first: yours or the one saved by someone else.", "warn");
    return false;
  }
  if (state.fromPrediction && !save) return true;
  const ok = await parts.saver.flush();
  return ok || !(state.doc && state.doc.conflict);
}

export async function goToFrame(side) {
  const target = state.data && state.data.neighbours[side];
  if (!target || !(await leaveFrame())) return;
  await loadFrame(target.id, { push: true });
}

/** Give the claimed frame back to its queue unchanged (after saving) and go back to the project. */
export async function release() {
  if (!(await leaveFrame())) return;
  await api.call("POST", `frames/${state.frameId}/lease/release/`, {}).catch(() => null);
  window.location.href = cfg.projectUrl;
}

export async function openHistory() {
  if (await leaveFrame()) window.location.href = state.data.history_url;
}

/** Back/forward in the browser: load the frame the URL now names. */
export async function followHistory() {
  const match = window.location.pathname.match(/frames\/(\d+)\/edit/);
  if (match && Number(match[1]) !== state.frameId && (await leaveFrame())) await loadFrame(Number(match[1]));
}
