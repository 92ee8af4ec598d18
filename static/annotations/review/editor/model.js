// The pose being edited (K points with visibility and review state, one form label) and its
// undo/redo history. Plain data, no DOM: the stage and the sidebar read it, actions change it.

export const STATES = ["verified", "unverified", "predicted", "heuristic"];
// Visibility cycles visible <-> occluded (COCO v = 2, 1) and never unplaces a point: removing one is
// its own key (Delete). An unplaced point becomes visible.
export const NEXT_VISIBILITY = { 2: 1, 1: 2, 0: 2 };

// The order labelling follows: down the body, head first, then the spine points.
const BODY = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "head", "left_shoulder", "right_shoulder",
              "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
              "right_knee", "left_ankle", "right_ankle", "neck", "neck_02", "neck_03"];

/** Keypoint indices in body order: the names above first, then spine points, the hip, then the rest as listed. */
export function bodyOrder(names) {
  const rank = (name, i) => {
    const at = BODY.indexOf(name);
    if (at >= 0) return at;
    if (/^spine/.test(name)) return BODY.length + i / 1000;
    if (name === "hip") return BODY.length + 1;
    return BODY.length + 2 + i / 1000;
  };
  return names.map((name, i) => [rank(name, i), i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
}

/**
 * The point after (step 1) or before (step -1) `from` in `order`, wrapping round; with `unplaced`, the
 * next one not placed yet (-1 when every point is placed).
 */
export function stepInOrder(order, points, from, step = 1, unplaced = false) {
  const n = order.length;
  const at = order.indexOf(from);
  for (let k = 1; k <= n; k++) {
    const i = order[(((at < 0 ? (step > 0 ? -1 : 0) : at) + step * k) % n + n) % n];
    if (!unplaced || points[i].v === 0) return i;
  }
  return -1;
}

/** A template (flat x, y in a unit box) fitted to the box {x, y, w, h}: [[x, y], ...]. */
export function fitTemplate(unit, box) {
  const out = [];
  for (let i = 0; 2 * i + 1 < unit.length; i++) out.push([box.x + unit[2 * i] * box.w, box.y + unit[2 * i + 1] * box.h]);
  return out;
}

/** The box around the image (w x h) and every placed point: what Fit shows. */
export function extentOf(points, w, h) {
  let [x0, y0, x1, y1] = [0, 0, w, h];
  for (const p of points) {
    if (p.v === 0) continue;
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x);
    y1 = Math.max(y1, p.y);
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

export class Pose {
  constructor(K) {
    this.K = K;
    this.points = Array.from({ length: K }, () => ({ x: 0, y: 0, v: 0, state: "unverified" }));
    this.formLabel = null;
  }

  /** A pose from an annotation as the API returns it (flat COCO keypoints, maybe shorter than K). */
  static fromAnnotation(ann, K) {
    const pose = new Pose(K);
    if (!ann) return pose;
    const kp = ann.keypoints || [];
    const states = ann.keypoint_states || [];
    for (let i = 0; i < K; i++) {
      if (3 * i + 2 < kp.length) {
        pose.points[i] = { x: kp[3 * i], y: kp[3 * i + 1], v: kp[3 * i + 2], state: states[i] || "unverified" };
      }
    }
    pose.formLabel = ann.form_label ?? null;
    return pose;
  }

  snapshot() {
    return { points: this.points.map((p) => ({ ...p })), formLabel: this.formLabel };
  }

  restore(snap) {
    this.points = snap.points.map((p) => ({ ...p }));
    this.formLabel = snap.formLabel;
  }

  /** The body of a save: unlabelled points are written as 0, 0, 0 (clean COCO). */
  toPayload() {
    const keypoints = [];
    for (const p of this.points) {
      if (p.v > 0) keypoints.push(round2(p.x), round2(p.y), p.v);
      else keypoints.push(0, 0, 0);
    }
    return { keypoints, keypoint_states: this.points.map((p) => p.state), form_label: this.formLabel };
  }

  key() {
    return JSON.stringify(this.toPayload());
  }

  labelled() {
    return this.points.filter((p) => p.v > 0).length;
  }
}

export function payloadKey(payload) {
  return JSON.stringify({ keypoints: payload.keypoints, keypoint_states: payload.keypoint_states,
                          form_label: payload.form_label ?? null });
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

/** Undo/redo of whole-pose snapshots (a pose is at most a few hundred numbers). */
export class UndoStack {
  constructor(limit = 300) {
    this.limit = limit;
    this.done = [];
    this.undone = [];
  }

  /** Record the state before a change. */
  push(snapshot) {
    this.done.push(snapshot);
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
  }

  undo(current) {
    if (!this.done.length) return null;
    this.undone.push(current);
    return this.done.pop();
  }

  redo(current) {
    if (!this.undone.length) return null;
    this.done.push(current);
    return this.undone.pop();
  }

  clear() {
    this.done = [];
    this.undone = [];
  }
}

/** The working copy of a frame with no annotation yet: the model's points, each `predicted` until touched. */
export function poseFromPrediction(pred, K) {
  const pose = new Pose(K);
  const heuristic = new Set(pred.heuristic || []);
  const kp = pred.keypoints;
  for (let i = 0; i < K; i++) {
    if (kp[3 * i + 2] > 0) {
      pose.points[i] = { x: kp[3 * i], y: kp[3 * i + 1], v: 2, state: heuristic.has(i) ? "heuristic" : "predicted" };
    }
  }
  pose.formLabel = pred.form_label ?? null;
  return pose;
}
