// More than one person on a frame. Each person is an annotation of its own (instance 0, 1, ...) with
// its own points, states, form label, undo history, draft and version, saved on its own. One person
// is edited at a time: state.pose, state.doc and state.undo are the current person's, so every other
// part of the editor works on "the pose" as before. The others are drawn faintly on the frame.
// Switching person saves the current one first; a second person is only added to a frame whose first
// person is saved (the server refuses otherwise).

import { $, K, api, cfg, drafts, order, parts, state } from "./context.js";
import { showConflict } from "./conflict.js";
import { acceptPredicted, applyPayload } from "./editing.js";
import { Pose, UndoStack, payloadKey } from "./model.js";
import { notice, refresh, select, setStatus } from "./panels.js";
import { drawGhost, drawOnion, prediction, renderPrediction } from "./prediction_view.js";

const DEFAULT_MAX_PEOPLE = 10;

/** The draft of a person: the frame's id for the first (as before people), "frame.instance" otherwise. */
export function draftKey(frameId, instance) {
  return instance ? `${frameId}.${instance}` : frameId;
}

/** A person from its stored annotation (or none yet): {instance, stored, pose, doc, undo}. */
export function makePerson(frameId, instance, stored) {
  const pose = Pose.fromAnnotation(stored, K);
  return {
    instance, stored, pose, undo: new UndoStack(),
    doc: { frameId, instance, draftKey: draftKey(frameId, instance), annotationId: stored ? stored.id : null,
           version: stored ? stored.version : 0, serverKey: pose.key(), conflict: null },
  };
}

/**
 * The people of a frame's editor payload, the first always there (maybe not annotated yet), plus any
 * person this browser holds a draft for that never reached the server.
 */
export function peopleOf(data, frameId) {
  const stored = data.instances || (data.annotation ? [{ ...data.annotation, instance: 0 }] : []);
  const people = stored.map((ann) => makePerson(frameId, ann.instance || 0, ann));
  if (!people.some((p) => p.instance === 0)) people.unshift(makePerson(frameId, 0, null));
  for (let n = 1; n < (data.max_people || DEFAULT_MAX_PEOPLE); n++) {
    if (!people.some((p) => p.instance === n) && drafts.get(draftKey(frameId, n))) people.push(makePerson(frameId, n, null));
  }
  return people.sort((a, b) => a.instance - b.instance);
}

export function currentPerson() {
  return state.people[state.current];
}

/** Make the person at `index` the one being edited (no save: see switchPerson). */
export function usePerson(index) {
  const person = state.people[index];
  state.current = index;
  state.pose = person.pose;
  state.doc = person.doc;
  state.undo = person.undo;
  parts.saver.attach(person.doc);
  parts.stage.setPose(person.pose);
  drawOthers();
  drawGhost(); // the model's prediction of this person, if it has one
  drawOnion(); // and this person on the neighbour frames
  renderPrediction();
  renderPeople();
}

/** The other people, faint, so that the one being edited is placed apart from them. */
export function drawOthers() {
  parts.stage.setOthers(state.people.filter((_, i) => i !== state.current)
    .map((p) => ({ keypoints: p.pose.toPayload().keypoints, className: "other-person", radius: 4 })));
}

export function renderPeople() {
  const tabs = $("people-tabs");
  tabs.replaceChildren(...state.people.map((p, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "person-tab";
    b.setAttribute("role", "tab");
    b.setAttribute("aria-selected", String(i === state.current));
    b.dataset.instance = p.instance;
    b.textContent = `Person ${p.instance + 1}`;
    b.title = `${p.pose.labelled()} points placed`;
    b.addEventListener("click", (e) => {
      e.currentTarget.blur();
      switchPerson(i);
    });
    return b;
  }));
  $("btn-remove-person").disabled = state.current === 0;
  $("btn-remove-person").title = state.current === 0 ? "The frame's first person stays: remove its points instead"
    : `Remove person ${currentPerson().instance + 1} from this frame`;
}

/** The first point of a person that needs a look, down the body: unconfirmed, else unplaced. */
export function firstToCheck() {
  const pts = state.pose.points;
  let i = order.find((j) => pts[j].v > 0 && pts[j].state !== "verified");
  if (i === undefined) i = order.find((j) => pts[j].v === 0);
  return i === undefined ? order[0] : i;
}

/** Save the person being edited; false (with a notice) when it could not be saved. */
async function saveCurrent(what) {
  if (state.doc.conflict) {
    notice("Choose a version first: yours or the one saved by someone else.", "warn");
    return false;
  }
  if (await parts.saver.flush()) return true;
  if (!state.doc.conflict) notice(`Not ${what}: this person's changes are not saved yet (they are kept in this browser).`, "warn");
  return false;
}

export async function switchPerson(index) {
  if (index === state.current || index < 0 || index >= state.people.length) return;
  if (!(await saveCurrent("switched"))) return;
  usePerson(index);
  refresh();
  select(firstToCheck());
  const person = currentPerson();
  restoreDraft(person, person.doc.annotationId != null ? `Person ${person.instance + 1} · saved · v${person.doc.version}`
    : `Person ${person.instance + 1}: not annotated yet`);
}

export async function addPerson() {
  const max = (state.data && state.data.max_people) || DEFAULT_MAX_PEOPLE;
  const next = Math.max(...state.people.map((p) => p.instance)) + 1;
  if (next >= max) return notice(`A frame holds at most ${max} people here.`, "warn");
  const firstPerson = state.people[0];
  if (firstPerson.doc.annotationId == null && firstPerson.pose.labelled() === 0) {
    return notice("Place the first person's points before adding another.", "warn");
  }
  state.fromPrediction = false; // adding a person works on this frame: the first one's points are kept
  if (!(await saveCurrent("added"))) return;
  if (state.people[0].doc.annotationId == null) return notice("Save the first person before adding another.", "warn");
  state.people.push(makePerson(state.frameId, next, null));
  usePerson(state.people.length - 1);
  refresh();
  select(order[0]);
  setStatus("saved", `Person ${next + 1}: not annotated yet`);
  const pred = prediction();
  if (pred) {
    // The model saw this person: start from its points (one undo step), each `predicted` until confirmed.
    acceptPredicted([...Array(K).keys()]);
    select(firstToCheck());
    return notice(`Person ${next + 1} added from the model's prediction: confirm what is right, move what is wrong (Ctrl+Z empties it).`);
  }
  notice(`Person ${next + 1} added: place their points (click the frame after choosing a point), or drop the template (T).`);
}

export function openRemove() {
  if (state.current === 0) return;
  const person = currentPerson();
  $("remove-person-text").textContent = `Person ${person.instance + 1} and their ${person.pose.labelled()} placed ` +
    "points leave this frame. The frame's history keeps what was removed.";
  $("remove-person-dialog").showModal();
  $("remove-person-cancel").focus();
}

export async function confirmRemove() {
  $("remove-person-dialog").close();
  const index = state.current;
  const person = currentPerson();
  if (index === 0) return;
  if (person.doc.annotationId != null) {
    if (!(await saveCurrent("removed"))) return;
    const body = { version: person.doc.version, ...(cfg.queue ? { queue: cfg.queue } : {}) };
    const res = await api.call("DELETE", `annotations/${person.doc.annotationId}/`, body).catch(() => null);
    if (!res || !res.ok) {
      return notice(`Not removed: ${res && res.data && res.data.detail ? res.data.detail : "the server could not be reached"}`, "warn");
    }
    state.editedHere = true;
  }
  drafts.drop(person.doc.draftKey);
  state.people.splice(index, 1);
  usePerson(0);
  refresh();
  select(firstToCheck());
  setStatus("saved", state.doc.annotationId != null ? `Saved · v${state.doc.version}` : "Not annotated yet");
  notice(`Person ${person.instance + 1} removed from this frame.`);
}

/**
 * A draft of the person left by an earlier visit: taken back when it continues the saved version,
 * shown next to it when the person was saved elsewhere meanwhile. `fresh`: the status without one.
 */
export function restoreDraft(person, fresh) {
  const doc = person.doc;
  const draft = drafts.get(doc.draftKey);
  if (!draft || payloadKey(draft.payload) === doc.serverKey) {
    if (draft) drafts.drop(doc.draftKey); // the server has it (a save that finished after the tab closed)
    setStatus("saved", fresh);
    return false;
  }
  const when = new Date(draft.savedAt).toLocaleTimeString();
  state.fromPrediction = false;
  state.undo.push(state.pose.snapshot());
  applyPayload(draft.payload);
  refresh();
  if (draft.version === doc.version && (draft.annotationId ?? null) === doc.annotationId) {
    notice(`Restored your unsaved changes from ${when}.`);
    parts.saver.changed();
  } else {
    // Saved elsewhere after this draft was written: show both, let the person choose.
    doc.conflict = { ...person.stored, id: doc.annotationId };
    setStatus("conflict", "Your unsaved draft is older than the saved frame: choose a version");
    showConflict(doc.conflict);
  }
  return true;
}

export function bindPeople() {
  $("btn-add-person").addEventListener("click", (e) => {
    e.currentTarget.blur();
    addPerson();
  });
  $("btn-remove-person").addEventListener("click", (e) => {
    e.currentTarget.blur();
    openRemove();
  });
  $("remove-person-confirm").addEventListener("click", confirmRemove);
  $("remove-person-cancel").addEventListener("click", () => $("remove-person-dialog").close());
}
