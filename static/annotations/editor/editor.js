// The keypoint editor: wires the stage (drawing, pointer input), the pose model (undo/redo), the
// saver (autosave, drafts, 409 conflicts) and the keyboard. One frame at a time; moving to another
// frame or the next queue item fetches its payload and swaps it in without reloading the page.

import { NEXT_VISIBILITY, Pose, UndoStack, payloadKey } from "./model.js";
import { Stage } from "./stage.js";
import { renderHelp, shortcutFor } from "./shortcuts.js";
import { Api, Drafts, Saver } from "./sync.js";

const cfg = JSON.parse(document.getElementById("editor-config").textContent);
const root = document.getElementById("editor");
const $ = (id) => document.getElementById(id);
const names = cfg.skeleton.keypoints;
const colours = cfg.skeleton.colours;
const K = names.length;

const api = new Api(cfg.api, root.dataset.csrf);
const drafts = new Drafts(cfg.slug);
const state = {
  pose: new Pose(K), undo: new UndoStack(), data: null, doc: null, selected: -1, frameId: cfg.frameId,
  showOnion: true, showGhost: true, editedHere: false, dragBefore: null, leaseTimer: null, loading: false,
};

const saver = new Saver(api, drafts, {
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

// -- the stage --------------------------------------------------------------------------------
const stage = new Stage($("stage"), cfg.skeleton, {
  select: (i) => select(i),
  dragStart: () => {
    state.dragBefore = state.pose.snapshot();
  },
  dragMove: (i, x, y) => {
    const p = state.pose.points[i];
    p.x = x;
    p.y = y;
    stage.updatePoint(i); // only this point, its label and its bones
  },
  dragEnd: (i, moved) => {
    if (!moved) return;
    state.pose.points[i].state = "verified";
    state.undo.push(state.dragBefore);
    refresh([i]);
    saver.changed();
  },
  place: (x, y) => placeSelected(x, y),
  viewChanged: () => {
    $("zoom-level").textContent = `${Math.round((stage.view.s / stage.view.fit) * 100)}%`;
  },
});

// -- sidebar ----------------------------------------------------------------------------------
const rows = names.map((name, i) => {
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
  li.addEventListener("click", () => select(i));
  $("kp-list").appendChild(li);
  return li;
});

const VIS_TEXT = { 2: "visible", 1: "occluded", 0: "—" };

function renderRow(i) {
  const p = state.pose.points[i];
  const row = rows[i];
  row.dataset.v = p.v;
  row.dataset.state = p.v > 0 ? p.state : "unlabelled";
  row.querySelector(".kp-vis").textContent = VIS_TEXT[p.v];
  row.querySelector(".kp-state").textContent = p.v > 0 ? p.state : "not placed";
  row.classList.toggle("selected", i === state.selected);
}

const labelButtons = cfg.formLabels.slice(0, 9).map((label) => {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "form-label";
  b.dataset.label = label.name;
  b.style.setProperty("--label-colour", label.colour);
  b.innerHTML = `<kbd>${label.key}</kbd> `;
  b.append(label.display_name);
  b.addEventListener("click", () => setFormLabel(label.name));
  $("form-labels").appendChild(b);
  return b;
});

function renderLabels() {
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
function refresh(points = null) {
  if (points) {
    for (const i of points) {
      stage.updatePoint(i);
      renderRow(i);
    }
  } else {
    stage.updateAll();
    rows.forEach((_, i) => renderRow(i));
  }
  renderLabels();
  renderCounts();
}

function setStatus(kind, text) {
  const node = $("save-status");
  node.dataset.state = kind;
  node.textContent = text;
}

function notice(html, kind = "info") {
  const n = $("notice");
  n.hidden = !html;
  n.className = `notice ${kind}`;
  n.innerHTML = html || "";
}

// -- changes ----------------------------------------------------------------------------------
/** Apply an undoable change to the pose. */
function change(mutate, points = null) {
  state.undo.push(state.pose.snapshot());
  mutate(state.pose);
  refresh(points);
  saver.changed();
}

function select(i) {
  const old = state.selected;
  state.selected = i;
  stage.select(i);
  if (old >= 0) renderRow(old);
  if (i >= 0) {
    renderRow(i);
    rows[i].scrollIntoView({ block: "nearest" });
  }
  $("selected-name").textContent = i >= 0 ? names[i] : "none";
  if (state.data) renderPrediction();
}

function selectedPoint() {
  return state.selected >= 0 ? state.pose.points[state.selected] : null;
}

function placeSelected(x, y) {
  const i = state.selected;
  if (i < 0) return;
  change((pose) => Object.assign(pose.points[i], { x, y, v: 2, state: "verified" }), [i]);
}

function pointerOrCentre() {
  const p = stage.pointer;
  if (p && p[0] >= 0 && p[1] >= 0 && p[0] <= stage.size.w && p[1] <= stage.size.h) return p;
  return stage.centre();
}

function nudge(dx, dy) {
  const i = state.selected;
  const p = selectedPoint();
  if (!p || p.v === 0) return;
  const [x, y] = stage.clamp(p.x + dx, p.y + dy);
  change((pose) => Object.assign(pose.points[i], { x, y, state: "verified" }), [i]);
}

function setFormLabel(name) {
  if (state.pose.formLabel === name) return;
  change((pose) => {
    pose.formLabel = name;
  }, []);
}

function prediction() {
  const preds = (state.data && state.data.predictions) || [];
  return preds.length ? preds[0] : null;
}

function acceptPredicted(indices) {
  const pred = prediction();
  if (!pred) {
    notice("This frame has no model prediction yet.");
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

// -- frames -----------------------------------------------------------------------------------
function editUrl(path) {
  const params = new URLSearchParams();
  if (cfg.queue) params.set("queue", cfg.queue);
  for (const [k, v] of Object.entries(cfg.filters || {})) if (v) params.set(k, v);
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

function firstToCheck() {
  const pts = state.pose.points;
  let i = pts.findIndex((p) => p.v > 0 && p.state !== "verified");
  if (i < 0) i = pts.findIndex((p) => p.v === 0);
  return i < 0 ? 0 : i;
}

async function loadFrame(frameId, { push = false } = {}) {
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
  state.pose = Pose.fromAnnotation(data.annotation, K);
  state.undo.clear();
  state.editedHere = false;
  const doc = { frameId, annotationId: data.annotation ? data.annotation.id : null,
                version: data.annotation ? data.annotation.version : 0, serverKey: state.pose.key(), conflict: null };
  state.doc = doc;
  saver.attach(doc);
  hideConflict();
  notice("");
  if (push) history.pushState({ frameId }, "", editUrl(data.edit_url));
  root.dataset.frame = frameId;
  stage.setFrame(data.frame.image_url, data.frame.width, data.frame.height);
  stage.setPose(state.pose);
  renderFrameInfo();
  refresh();
  select(firstToCheck());
  drawOnion();
  drawGhost();
  startLeaseTimer();
  restoreDraft(doc, data);
  return true;
}

function restoreDraft(doc, data) {
  const draft = drafts.get(doc.frameId);
  const fresh = data.annotation ? `Saved · v${doc.version}` : "Not annotated yet: place points to start";
  if (!draft) {
    setStatus("saved", fresh);
    return;
  }
  if (payloadKey(draft.payload) === doc.serverKey) {
    drafts.drop(doc.frameId); // the server has it (a save that finished after the tab closed)
    setStatus("saved", fresh);
    return;
  }
  const when = new Date(draft.savedAt).toLocaleTimeString();
  state.undo.push(state.pose.snapshot());
  applyPayload(draft.payload);
  refresh();
  if (draft.version === doc.version && (draft.annotationId ?? null) === doc.annotationId) {
    notice(`Restored your unsaved changes from ${when}.`);
    saver.changed();
  } else {
    // The frame was saved elsewhere after this draft was written: show both, let the person choose.
    doc.conflict = { ...data.annotation, id: doc.annotationId };
    setStatus("conflict", "Your unsaved draft is older than the saved frame: choose a version");
    showConflict(doc.conflict);
  }
}

function applyPayload(payload) {
  const pose = Pose.fromAnnotation(payload, K);
  state.pose.points = pose.points;
  state.pose.formLabel = pose.formLabel;
}

function renderFrameInfo() {
  const f = state.data.frame;
  $("ed-where").textContent = `${f.clip} · frame ${f.frame_index ?? "?"} · ${f.file_name}`;
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
  const signals = state.data.lease && state.data.lease.signals ? state.data.lease.signals : {};
  const why = Object.entries(signals).filter(([k]) => !k.startsWith("rejected"));
  $("signals").hidden = !why.length;
  $("signals-text").textContent = why
    .map(([k, v]) => `${k.replaceAll("_", " ")}: ${Array.isArray(v) ? v.join(", ") : v}`)
    .join(" · ");
  renderPrediction();
}

/** The prediction panel: which model, its form guess, and the selected point's confidence. */
function renderPrediction() {
  const pred = prediction();
  $("btn-accept-all").disabled = !pred;
  if (!pred) {
    $("pred-info").textContent = "No model prediction for this frame yet.";
    return;
  }
  const placed = pred.keypoints.filter((_, j) => j % 3 === 2 && pred.keypoints[j] > 0).length;
  const parts = [`${pred.model_version}${pred.active ? "" : " (not the active model)"}: ${placed} points`];
  if (pred.form_label) {
    const p = pred.form_probs && pred.form_probs[pred.form_label];
    parts.push(`form ${pred.form_label}${p != null ? ` (${Math.round(p * 100)}%)` : ""}`);
  }
  const i = state.selected;
  if (i >= 0 && pred.keypoints[3 * i + 2] > 0) {
    const heuristic = (pred.heuristic || []).includes(i);
    parts.push(`${names[i]}: ${heuristic ? "spine heuristic" : `confidence ${pred.scores[i].toFixed(2)}`} (Y accepts)`);
  }
  $("pred-info").textContent = parts.join(" · ");
}

function drawOnion() {
  const layers = [];
  const n = state.data.neighbours;
  if (state.showOnion) {
    if (n.prev && n.prev.keypoints) layers.push({ keypoints: n.prev.keypoints, className: "onion-prev" });
    if (n.next && n.next.keypoints) layers.push({ keypoints: n.next.keypoints, className: "onion-next" });
  }
  stage.setOnion(layers);
}

function drawGhost() {
  const pred = prediction();
  stage.setGhost(state.showGhost && pred ? [{ keypoints: pred.keypoints, scores: pred.scores, className: "prediction",
                                               radius: 4 }] : []);
}

/** Give the claimed frame back to its queue unchanged (after saving) and go back to the project. */
async function release() {
  if (!(await leaveFrame())) return;
  await api.call("POST", `frames/${state.frameId}/lease/release/`, {}).catch(() => null);
  window.location.href = cfg.projectUrl;
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

/** Save what is pending, then go. A conflict must be settled first; offline, the draft carries it. */
async function leaveFrame() {
  if (state.doc && state.doc.conflict) {
    notice("Choose a version first: yours or the one saved by someone else.", "warn");
    return false;
  }
  const ok = await saver.flush();
  return ok || !(state.doc && state.doc.conflict);
}

async function goToFrame(side) {
  const target = state.data && state.data.neighbours[side];
  if (!target || !(await leaveFrame())) return;
  await loadFrame(target.id, { push: true });
}

function queueFinished() {
  clearInterval(state.leaseTimer);
  notice(`Nothing left in this queue for you. <a href="${cfg.projectUrl}">Back to the project</a>`, "done");
  setStatus("saved", "Queue finished");
}

async function afterDecision(res) {
  if (!res.ok) {
    notice(`Not done: ${res.data && res.data.detail ? res.data.detail : res.status}`, "warn");
    return;
  }
  if (res.data.next) {
    await loadFrame(res.data.next.frame, { push: true });
  } else if (cfg.queue) {
    await loadFrame(state.frameId);
    queueFinished();
  } else {
    await loadFrame(state.frameId);
    notice(`Frame is now ${res.data.status}.`, "done");
  }
}

async function submit() {
  if (cfg.decisionQueue && cfg.canDecide) return decide(state.editedHere || saver.dirty() ? "fix" : "accept");
  if (!(await leaveFrame())) return;
  const res = await api.call("POST", `frames/${state.frameId}/submit/`, { queue: cfg.queue, next: !!cfg.queue,
                                                                         ...cfg.filters });
  await afterDecision(res);
}

async function decide(decision, comment = "") {
  if (!cfg.canDecide) {
    notice("Only reviewers decide on frames.", "warn");
    return;
  }
  if (!(await leaveFrame())) return;
  const res = await api.call("POST", `frames/${state.frameId}/decision/`, {
    decision, comment, queue: cfg.queue, next: !!cfg.queue, ...cfg.filters });
  await afterDecision(res);
}

async function skip() {
  if (!(await leaveFrame())) return;
  const res = await api.call("POST", `frames/${state.frameId}/lease/skip/`, { queue: cfg.queue, next: !!cfg.queue,
                                                                             ...cfg.filters });
  if (!res.ok) return notice(`Not skipped: ${res.data && res.data.detail}`, "warn");
  if (res.data.next) await loadFrame(res.data.next.frame, { push: true });
  else if (cfg.queue) queueFinished();
  else notice("Skipped: this frame will not be offered to you again.");
}

// -- conflict, reject and help dialogs --------------------------------------------------------
function describe(p) {
  return p.v > 0 ? `${p.x.toFixed(1)}, ${p.y.toFixed(1)} · ${VIS_TEXT[p.v]} · ${p.state}` : "not placed";
}

function showConflict(theirs) {
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
  stage.setTheirs([{ keypoints: other.toPayload().keypoints, className: "theirs", radius: 6 }]);
  $("conflict").show();
  $("keep-mine").focus();
}

function hideConflict() {
  if ($("conflict").open) $("conflict").close();
  stage.setTheirs([]);
}

async function keepMine() {
  hideConflict();
  await saver.keepMine();
}

function takeTheirs() {
  const theirs = state.doc.conflict;
  hideConflict();
  state.undo.push(state.pose.snapshot());
  applyPayload(theirs);
  saver.takeTheirs();
  refresh();
}

function openReject() {
  if (!cfg.canDecide) return notice("Only reviewers decide on frames.", "warn");
  $("reject-comment").value = "";
  $("reject-dialog").showModal();
  $("reject-comment").focus();
}

async function confirmReject() {
  const comment = $("reject-comment").value.trim();
  if (!comment) {
    $("reject-comment").setAttribute("aria-invalid", "true");
    return;
  }
  $("reject-dialog").close();
  await decide("reject", comment);
}

function toggleHelp() {
  const help = $("help");
  if (help.open) help.close();
  else help.showModal();
}

// -- actions (named as in shortcuts.js) -------------------------------------------------------
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

const actions = {
  nextPoint: () => select((state.selected + 1) % K),
  prevPoint: () => select((state.selected - 1 + K) % K),
  nudge: (e) => nudge(...ARROWS[e.key]),
  nudgeFar: (e) => nudge(...ARROWS[e.key].map((d) => d * 10)),
  place: () => {
    if (state.selected >= 0) placeSelected(...pointerOrCentre());
  },
  cycleVisibility: () => {
    const i = state.selected;
    const p = selectedPoint();
    if (!p) return;
    const v = NEXT_VISIBILITY[p.v];
    const [x, y] = v > 0 && p.x === 0 && p.y === 0 ? pointerOrCentre() : [p.x, p.y];
    change((pose) => Object.assign(pose.points[i], { x, y, v, state: "verified" }), [i]);
  },
  deletePoint: () => {
    const i = state.selected;
    if (i < 0 || state.pose.points[i].v === 0) return;
    change((pose) => Object.assign(pose.points[i], { v: 0, state: "verified" }), [i]);
  },
  confirm: () => {
    const i = state.selected;
    const p = selectedPoint();
    if (!p || p.v === 0 || p.state === "verified") return;
    change((pose) => {
      pose.points[i].state = "verified";
    }, [i]);
    const next = state.pose.points.findIndex((q, j) => j > i && q.v > 0 && q.state !== "verified");
    if (next >= 0) select(next);
  },
  confirmAll: () => {
    const todo = state.pose.points.map((p, i) => (p.v > 0 && p.state !== "verified" ? i : -1)).filter((i) => i >= 0);
    if (!todo.length) return;
    change((pose) => {
      for (const i of todo) pose.points[i].state = "verified";
    }, todo);
  },
  acceptPrediction: () => {
    if (state.selected >= 0) acceptPredicted([state.selected]);
  },
  acceptAllPredictions: () => acceptPredicted([...Array(K).keys()]),
  formLabel: (e) => {
    const label = cfg.formLabels[Number(e.key) - 1];
    if (label) setFormLabel(label.name);
  },
  undo: () => {
    const snap = state.undo.undo(state.pose.snapshot());
    if (!snap) return;
    state.pose.restore(snap);
    refresh();
    saver.changed();
  },
  redo: () => {
    const snap = state.undo.redo(state.pose.snapshot());
    if (!snap) return;
    state.pose.restore(snap);
    refresh();
    saver.changed();
  },
  save: () => saver.flush(),
  prevFrame: () => goToFrame("prev"),
  nextFrame: () => goToFrame("next"),
  copyPrevious: () => {
    const prev = state.data.neighbours.prev;
    if (!prev || !prev.keypoints) return notice("The previous frame has no keypoints to copy.", "warn");
    const kp = prev.keypoints;
    change((pose) => {
      pose.points.forEach((p, i) => {
        const v = kp[3 * i + 2] || 0;
        Object.assign(p, v > 0 ? { x: kp[3 * i], y: kp[3 * i + 1], v, state: "unverified" }
                               : { v: 0, state: "unverified" });
      });
    });
    notice("Copied from the previous frame: every point is unverified until you move or confirm it (Shift+C).");
  },
  history: async () => {
    if (await leaveFrame()) window.location.href = state.data.history_url;
  },
  submit: () => submit(),
  skip: () => skip(),
  accept: () => decide(state.editedHere || saver.dirty() ? "fix" : "accept"),
  reject: () => openReject(),
  zoomIn: () => stage.zoomCentre(1.25),
  zoomOut: () => stage.zoomCentre(0.8),
  fit: () => stage.fit(),
  pan: (e) => stage.panBy(...ARROWS[e.key].map((d) => -d * 60)),
  toggleOnion: () => {
    state.showOnion = !state.showOnion;
    $("toggle-onion").checked = state.showOnion;
    drawOnion();
  },
  toggleGhost: () => {
    state.showGhost = !state.showGhost;
    $("toggle-ghost").checked = state.showGhost;
    drawGhost();
  },
  help: () => toggleHelp(),
  escape: () => {
    if ($("help").open) $("help").close();
    else select(-1);
  },
};

document.addEventListener("keydown", (e) => {
  if (e.target.closest && e.target.closest("input, textarea, select")) return;
  if ($("conflict").open) {
    if (e.key === "m") keepMine();
    else if (e.key === "t") takeTheirs();
    return;
  }
  if ($("reject-dialog").open) return;
  const shortcut = shortcutFor(e);
  if (!shortcut) return;
  if ($("help").open && !["help", "escape"].includes(shortcut.action)) return;
  e.preventDefault();
  if (state.loading) return;
  actions[shortcut.action](e);
});

// -- buttons ----------------------------------------------------------------------------------
const BUTTONS = {
  "btn-prev": "prevFrame", "btn-next": "nextFrame", "btn-copy-prev": "copyPrevious", "btn-undo": "undo",
  "btn-redo": "redo", "btn-save": "save", "btn-submit": "submit", "btn-skip": "skip", "btn-accept": "accept",
  "btn-reject": "reject", "btn-help": "help", "btn-accept-all": "acceptAllPredictions", "btn-confirm-all": "confirmAll",
  "btn-zoom-in": "zoomIn", "btn-zoom-out": "zoomOut", "btn-fit": "fit",
};
for (const [id, action] of Object.entries(BUTTONS)) {
  $(id).addEventListener("click", (e) => {
    e.currentTarget.blur(); // keys go to the editor, not to a focused button
    actions[action](e);
  });
}
$("btn-release").addEventListener("click", release);
$("keep-mine").addEventListener("click", keepMine);
$("take-theirs").addEventListener("click", takeTheirs);
$("reject-confirm").addEventListener("click", confirmReject);
$("reject-cancel").addEventListener("click", () => $("reject-dialog").close());
$("reject-comment").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    confirmReject();
  }
});
$("help-close").addEventListener("click", () => $("help").close());
$("notice").addEventListener("click", (e) => {
  if (e.target.tagName !== "A") notice("");
});
$("toggle-onion").addEventListener("change", actions.toggleOnion);
$("toggle-ghost").addEventListener("change", actions.toggleGhost);
$("btn-skip").hidden = !cfg.queue;
$("btn-accept").hidden = $("btn-reject").hidden = !cfg.canDecide;
$("btn-submit").textContent = cfg.decisionQueue && cfg.canDecide ? "Accept & next"
  : cfg.queue ? "Submit & next" : "Submit";
renderHelp($("help-rows"));

window.addEventListener("popstate", async () => {
  const match = window.location.pathname.match(/frames\/(\d+)\/edit/);
  if (match && Number(match[1]) !== state.frameId && (await leaveFrame())) await loadFrame(Number(match[1]));
});
window.addEventListener("pagehide", () => saver.leave());

// For tests and the curious: the editor's state, read-only by convention.
window.poseEditor = { state, stage, saver, cfg, actions };

loadFrame(cfg.frameId).then(() => {
  root.dataset.ready = "1";
});
