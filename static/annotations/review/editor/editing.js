// Changing the pose: every edit is one undoable step that re-renders what it touched and hands
// the new content to the saver. Placing, dragging, nudging, visibility, confirming, accepting the
// model's points, copying the previous frame, the form label, undo and redo.

import { K, cfg, order, parts, state } from "./context.js";
import { NEXT_VISIBILITY, Pose, fitTemplate, stepInOrder } from "./model.js";
import { notice, refresh, select } from "./panels.js";
import { missingPrediction, prediction } from "./prediction_view.js";

/** Apply an undoable change to the pose. */
export function change(mutate, points = null) {
  state.undo.push(state.pose.snapshot());
  state.fromPrediction = false;
  mutate(state.pose);
  refresh(points);
  parts.saver.changed();
}

/** Replace the pose's content (a draft, the other version of a conflict) without an undo step. */
export function applyPayload(payload) {
  const pose = Pose.fromAnnotation(payload, K);
  state.pose.points = pose.points;
  state.pose.formLabel = pose.formLabel;
}

function selectedPoint() {
  return state.selected >= 0 ? state.pose.points[state.selected] : null;
}

/** Places the selected point and moves the selection on to the next unplaced point down the body. */
export function placeSelected(x, y) {
  const i = state.selected;
  if (i < 0) return;
  change((pose) => Object.assign(pose.points[i], { x, y, v: 2, state: "verified" }), [i]);
  const next = stepInOrder(order, state.pose.points, i, 1, true);
  if (next >= 0) select(next);
}

/** Tab / Shift+Tab: the next or previous keypoint down the body. */
export function selectInOrder(step) {
  select(stepInOrder(order, state.pose.points, state.selected, step));
}

function pointerOrCentre() {
  const stage = parts.stage;
  const p = stage.pointer;
  if (p && p[0] >= 0 && p[1] >= 0 && p[0] <= stage.size.w && p[1] <= stage.size.h) return p;
  return stage.centre();
}

/** The stage's pointer handlers: a drag is one undo step, taken when the point is let go. */
export const dragHandlers = {
  dragStart: () => {
    state.dragBefore = state.pose.snapshot();
  },
  dragMove: (i, x, y) => {
    const p = state.pose.points[i];
    p.x = x;
    p.y = y;
    parts.stage.updatePoint(i); // only this point, its label and its bones
  },
  dragEnd: (i, moved) => {
    if (!moved) return;
    state.pose.points[i].state = "verified";
    state.undo.push(state.dragBefore);
    state.fromPrediction = false;
    refresh([i]);
    parts.saver.changed();
  },
};

export function nudge(dx, dy) {
  const i = state.selected;
  const p = selectedPoint();
  if (!p || p.v === 0) return;
  const [x, y] = parts.stage.clamp(p.x + dx, p.y + dy);
  change((pose) => Object.assign(pose.points[i], { x, y, state: "verified" }), [i]);
}

export function placeAtPointer() {
  if (state.selected >= 0) placeSelected(...pointerOrCentre());
}

/** Visible <-> occluded; never unplaces (Delete does that). An unplaced point is placed visible. */
export function cycleVisibility() {
  const i = state.selected;
  const p = selectedPoint();
  if (!p) return;
  const v = NEXT_VISIBILITY[p.v];
  const [x, y] = p.v === 0 ? pointerOrCentre() : [p.x, p.y];
  change((pose) => Object.assign(pose.points[i], { x, y, v, state: "verified" }), [i]);
}

export function deletePoint() {
  const i = state.selected;
  if (i < 0 || state.pose.points[i].v === 0) return;
  change((pose) => Object.assign(pose.points[i], { v: 0, state: "verified" }), [i]);
}

/** Confirms the selected point and moves on to the next one still to check. */
export function confirmSelected() {
  const i = state.selected;
  const p = selectedPoint();
  if (!p || p.v === 0 || p.state === "verified") return;
  change((pose) => {
    pose.points[i].state = "verified";
  }, [i]);
  const next = state.pose.points.findIndex((q, j) => j > i && q.v > 0 && q.state !== "verified");
  if (next >= 0) select(next);
}

export function confirmAll() {
  const todo = state.pose.points.map((p, i) => (p.v > 0 && p.state !== "verified" ? i : -1)).filter((i) => i >= 0);
  if (!todo.length) return;
  change((pose) => {
    for (const i of todo) pose.points[i].state = "verified";
  }, todo);
}

export function setFormLabel(name) {
  if (state.pose.formLabel === name) return;
  change((pose) => {
    pose.formLabel = name;
  }, []);
}

/** The form label bound to a number key (1-9), if there is one. */
export function setFormLabelByKey(key) {
  const label = cfg.formLabels[Number(key) - 1];
  if (label) setFormLabel(label.name);
}

export function acceptPredicted(indices) {
  const pred = prediction();
  if (!pred) {
    notice(missingPrediction());
    return;
  }
  const kp = pred.keypoints;
  const heuristic = new Set(pred.heuristic || []);
  const take = indices.filter((i) => kp[3 * i + 2] > 0);
  if (!take.length) return;
  // Accepted points stay unverified (dashed) until a person moves or confirms them; points the
  // spine heuristic filled in for the model keep that origin.
  change((pose) => {
    for (const i of take) Object.assign(pose.points[i], { x: kp[3 * i], y: kp[3 * i + 1], v: 2,
                                                          state: heuristic.has(i) ? "heuristic" : "predicted" });
  }, take);
}

/**
 * Drops a whole pose to correct: the model's prediction when there is one, otherwise the project's
 * mean pose fitted to a box the person drags on the frame. Placed points are kept.
 */
export function dropTemplate() {
  if (prediction()) {
    acceptPredicted([...Array(K).keys()].filter((i) => state.pose.points[i].v === 0));
    return;
  }
  const template = state.data && state.data.template;
  if (!template) return;
  notice("Drag a box around the person: the template is fitted to it (Esc cancels).");
  parts.stage.startBox((box) => {
    notice("");
    const at = fitTemplate(template.keypoints, box);
    const todo = at.map((_, i) => i).filter((i) => i < K && state.pose.points[i].v === 0);
    change((pose) => {
      for (const i of todo) Object.assign(pose.points[i], { x: at[i][0], y: at[i][1], v: 2, state: "unverified" });
    }, todo);
    select(todo.length ? todo[0] : state.selected);
  });
}

/** The same person's points on the previous frame (the first person's when the payload names no people). */
function previousPoints() {
  const prev = state.data.neighbours.prev;
  const instance = (state.doc && state.doc.instance) || 0;
  if (!prev) return null;
  return prev.people ? prev.people[String(instance)] || null : instance === 0 ? prev.keypoints : null;
}

export function copyPrevious() {
  const kp = previousPoints();
  if (!kp) return notice("The previous frame has no keypoints of this person to copy.", "warn");
  change((pose) => {
    pose.points.forEach((p, i) => {
      const v = kp[3 * i + 2] || 0;
      Object.assign(p, v > 0 ? { x: kp[3 * i], y: kp[3 * i + 1], v, state: "unverified" }
                             : { v: 0, state: "unverified" });
    });
  });
  notice("Copied from the previous frame: every point is unverified until you move or confirm it (Shift+C).");
}

function restoreFrom(snap) {
  if (!snap) return;
  state.pose.restore(snap);
  refresh();
  parts.saver.changed();
}

export function undo() {
  restoreFrom(state.undo.undo(state.pose.snapshot()));
}

export function redo() {
  restoreFrom(state.undo.redo(state.pose.snapshot()));
}
