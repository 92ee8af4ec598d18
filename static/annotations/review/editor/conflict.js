// A save refused with 409 (someone saved the frame meanwhile), or a draft older than the saved
// frame: both versions side by side, theirs drawn as red rings, and the person keeps one.

import { $, K, names, parts, state } from "./context.js";
import { applyPayload } from "./editing.js";
import { Pose } from "./model.js";
import { VIS_TEXT, refresh } from "./panels.js";

function describe(p) {
  return p.v > 0 ? `${p.x.toFixed(1)}, ${p.y.toFixed(1)} · ${VIS_TEXT[p.v]} · ${p.state}` : "not placed";
}

export function showConflict(theirs) {
  const mine = state.pose;
  const other = Pose.fromAnnotation(theirs, K);
  const body = $("conflict-rows");
  body.replaceChildren();
  const add = (what, a, b) => {
    const tr = body.insertRow();
    tr.insertCell().textContent = what;
    tr.insertCell().textContent = a;
    tr.insertCell().textContent = b;
  };
  if ((mine.formLabel || null) !== (other.formLabel || null)) {
    add("form label", mine.formLabel || "—", other.formLabel || "—");
  }
  mine.points.forEach((p, i) => {
    const q = other.points[i];
    const near = Math.abs(p.x - q.x) < 0.01 && Math.abs(p.y - q.y) < 0.01;
    const same = p.v === q.v && p.state === q.state && (p.v === 0 || near);
    if (!same) add(names[i], describe(p), describe(q));
  });
  if (!body.rows.length) add("(no difference in content)", "", "");
  const who = theirs.updated_by ? `${theirs.updated_by} saved` : "Someone saved";
  $("conflict-who").textContent = `${who} version ${theirs.version} of this frame while you were editing ` +
    `version ${state.doc.version}. Their points are drawn as red rings.`;
  parts.stage.setTheirs([{ keypoints: other.toPayload().keypoints, className: "theirs", radius: 6 }]);
  $("conflict").show();
  $("keep-mine").focus();
}

export function hideConflict() {
  if ($("conflict").open) $("conflict").close();
  parts.stage.setTheirs([]);
}

export async function keepMine() {
  hideConflict();
  await parts.saver.keepMine();
}

export function takeTheirs() {
  const theirs = state.doc.conflict;
  hideConflict();
  state.undo.push(state.pose.snapshot());
  applyPayload(theirs);
  parts.saver.takeTheirs();
  refresh();
}
