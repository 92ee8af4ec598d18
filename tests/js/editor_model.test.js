// Unit tests of the editor's plain-data parts (no browser): the pose model, undo/redo, key names.
// Run: npm test (or: node --test tests/js/), and from pytest in tests/e2e/test_editor_units.py.
import assert from "node:assert/strict";
import test from "node:test";

import { NEXT_VISIBILITY, Pose, UndoStack, payloadKey } from "../../static/annotations/review/editor/model.js";
import { SHORTCUTS, comboOf, shortcutFor } from "../../static/annotations/review/editor/shortcuts.js";

test("a pose reads a stored annotation shorter than the skeleton as unlabelled tail points", () => {
  const pose = Pose.fromAnnotation({ keypoints: [10, 20, 2, 30, 40, 1], keypoint_states: ["verified", "heuristic"],
                                     form_label: "correct" }, 4);
  assert.deepEqual(pose.points.map((p) => [p.v, p.state]),
                   [[2, "verified"], [1, "heuristic"], [0, "unverified"], [0, "unverified"]]);
  assert.equal(pose.formLabel, "correct");
  assert.equal(pose.labelled(), 2);
});

test("a saved payload writes unlabelled points as 0, 0, 0 and rounds to hundredths", () => {
  const pose = new Pose(2);
  pose.points[0] = { x: 10.126, y: 5.004, v: 2, state: "verified" };
  pose.points[1] = { x: 99, y: 99, v: 0, state: "verified" };
  assert.deepEqual(pose.toPayload(), { keypoints: [10.13, 5, 2, 0, 0, 0], keypoint_states: ["verified", "verified"],
                                       form_label: null });
  assert.equal(payloadKey(pose.toPayload()), pose.key());
});

test("visibility cycles visible, occluded, unlabelled, visible", () => {
  assert.deepEqual([NEXT_VISIBILITY[2], NEXT_VISIBILITY[1], NEXT_VISIBILITY[0]], [1, 0, 2]);
});

test("undo and redo walk snapshots and a new change drops the redo branch", () => {
  const stack = new UndoStack(2);
  stack.push("a");
  stack.push("b");
  stack.push("c"); // over the limit: "a" falls off
  assert.equal(stack.undo("d"), "c");
  assert.equal(stack.undo("c"), "b");
  assert.equal(stack.undo("b"), null);
  assert.equal(stack.redo("b"), "c");
  stack.push("x");
  assert.equal(stack.redo("y"), null);
});

test("key events get one canonical name, and every shortcut key is unique", () => {
  const ev = (key, mods = {}) => ({ key, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });
  assert.equal(comboOf(ev("Z", { ctrlKey: true, shiftKey: true })), "Ctrl+Shift+z");
  assert.equal(comboOf(ev("?", { shiftKey: true })), "?");
  assert.equal(comboOf(ev("ArrowLeft", { shiftKey: true })), "Shift+ArrowLeft");
  assert.equal(shortcutFor(ev("Enter", { ctrlKey: true })).action, "submit");
  assert.equal(shortcutFor(ev("D", { shiftKey: true })).action, "copyPrevious");
  assert.equal(shortcutFor(ev("3")).action, "formLabel");
  const keys = SHORTCUTS.flatMap((s) => s.keys);
  assert.equal(new Set(keys).size, keys.length);
});
