// The keypoint editor: wires the stage (drawing, pointer input), the pose model (undo/redo), the
// saver (autosave, drafts, 409 conflicts) and the keyboard. One frame at a time; moving to another
// frame or the next queue item fetches its payload and swaps it in without reloading the page.
//
// The parts: context.js (config and shared state), panels.js (sidebar), prediction_view.js,
// editing.js (every change to the pose), frames.js (loading, drafts, leases), conflict.js,
// decisions.js (submit, skip, accept, reject), actions.js and controls.js (keys and buttons).

import { actions } from "./actions.js";
import { showConflict } from "./conflict.js";
import { $, K, api, cfg, drafts, parts, root, state } from "./context.js";
import { bindButtons, bindKeyboard, renderShortcutHelp, showRoleButtons } from "./controls.js";
import { dragHandlers, placeSelected, setFormLabel } from "./editing.js";
import { followHistory, loadFrame } from "./frames.js";
import { Pose, payloadKey } from "./model.js";
import { buildPanels, renderLabels, select, setStatus } from "./panels.js";
import { bindPeople } from "./people.js";
import { Stage } from "./stage.js";
import { Saver } from "./sync.js";

parts.saver = new Saver(api, drafts, {
  payload: () => state.pose.toPayload(),
  keyOf: (ann) => payloadKey(Pose.fromAnnotation(ann, K).toPayload()),
  adopt: (ann) => {
    state.pose.formLabel = ann.form_label ?? null;
    renderLabels();
  },
  status: setStatus,
  conflict: (doc, theirs) => showConflict(theirs),
  saved: () => {
    state.editedHere = true;
  },
});
parts.saver.queue = cfg.queue || null; // a frame claimed through a queue: saves say so

parts.stage = new Stage($("stage"), cfg.skeleton, {
  select: (i) => select(i),
  ...dragHandlers,
  place: (x, y) => placeSelected(x, y),
  viewChanged: () => {
    const view = parts.stage.view;
    $("zoom-level").textContent = `${Math.round((view.s / view.fit) * 100)}%`;
  },
});

buildPanels({ onSelect: select, onLabel: setFormLabel });
bindKeyboard();
bindButtons();
bindPeople();
showRoleButtons();
renderShortcutHelp();

window.addEventListener("popstate", followHistory);
window.addEventListener("pagehide", () => {
  if (!state.fromPrediction) parts.saver.leave();
});

// For tests and the curious: the editor's state, read-only by convention.
window.poseEditor = { state, stage: parts.stage, saver: parts.saver, cfg, actions };

loadFrame(cfg.frameId).then(() => {
  root.dataset.ready = "1";
});
