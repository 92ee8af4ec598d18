// The pose being edited (K points with visibility and review state, one form label) and its
// undo/redo history. Plain data, no DOM: the stage and the sidebar read it, actions change it.

export const STATES = ["verified", "unverified", "predicted", "heuristic"];
// Visibility cycles visible -> occluded -> unlabelled -> visible (COCO v = 2, 1, 0).
export const NEXT_VISIBILITY = { 2: 1, 1: 0, 0: 2 };

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
