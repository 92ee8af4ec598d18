// What every part of the editor shares: the page's configuration (json_script "editor-config"),
// the API and draft store, and the one mutable editor state. The stage and the saver are created
// by editor.js once the callbacks they need exist, and parked in `parts` for the other modules.

import { Pose, UndoStack, bodyOrder } from "./model.js";
import { Api, Drafts } from "./sync.js";

export const $ = (id) => document.getElementById(id);

export const cfg = JSON.parse($("editor-config").textContent);
export const root = $("editor");
export const names = cfg.skeleton.keypoints;
export const colours = cfg.skeleton.colours;
export const K = names.length;
/** Keypoint indices in the order labelling walks the body (Tab, and the next point after placing one). */
export const order = bodyOrder(names);

export const api = new Api(cfg.api);
export const drafts = new Drafts(cfg.slug);

export const state = {
  pose: new Pose(K), undo: new UndoStack(), data: null, doc: null, selected: -1, frameId: cfg.frameId,
  showOnion: false, showGhost: true, editedHere: false, dragBefore: null, leaseTimer: null, loading: false,
  fromPrediction: false, // the working copy is the untouched model prediction (not saved by only looking)
  people: [], current: 0, // every person on the frame and the one being edited (people.js)
};

/** stage: the drawing surface (stage.js); saver: autosave and conflicts (sync.js). */
export const parts = { stage: null, saver: null };
