// Unit tests of the editor's plain-data parts (no browser): the pose model, undo/redo, key names.
// Run: npm test (or: node --test tests/js/), and from pytest in tests/e2e/test_editor_units.py.
import assert from "node:assert/strict";
import test from "node:test";

import {
  NEXT_VISIBILITY, Pose, UndoStack, bodyOrder, extentOf, fitTemplate, payloadKey, poseFromPrediction, stepInOrder,
} from "../../static/annotations/review/editor/model.js";
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

test("visibility switches between visible and occluded and never unplaces a point", () => {
  assert.deepEqual([NEXT_VISIBILITY[2], NEXT_VISIBILITY[1], NEXT_VISIBILITY[0]], [1, 2, 2]);
});

const COCO_SPINE = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                    "right_knee", "left_ankle", "right_ankle", "neck", "hip", "spine_01", "spine_02", "spine_03",
                    "spine_04", "spine_05"];

test("labelling walks down the body: head, arms, legs, then the neck, the spine and the hip", () => {
  const order = bodyOrder(COCO_SPINE).map((i) => COCO_SPINE[i]);
  assert.deepEqual(order.slice(0, 5), ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]);
  assert.deepEqual(order.slice(15), ["left_ankle", "right_ankle", "neck", "spine_01", "spine_02", "spine_03",
                                     "spine_04", "spine_05", "hip"]);
  assert.deepEqual(bodyOrder(["b", "nose", "a"]), [1, 0, 2]);
});

test("the next unplaced point skips placed ones and wraps round; -1 when all are placed", () => {
  const order = [2, 0, 1];
  const pts = [{ v: 2 }, { v: 0 }, { v: 0 }];
  assert.equal(stepInOrder(order, pts, 2, 1, true), 1);
  assert.equal(stepInOrder(order, pts, 1, 1, true), 2);
  assert.equal(stepInOrder(order, pts, 0, -1, false), 2);
  assert.equal(stepInOrder(order, pts, -1, 1, false), 2);
  assert.equal(stepInOrder(order, pts, -1, -1, false), 1);
  assert.equal(stepInOrder(order, [{ v: 2 }, { v: 1 }, { v: 2 }], 0, 1, true), -1);
});

test("a template in a unit box is fitted to the dragged box", () => {
  assert.deepEqual(fitTemplate([0, 0, 0.5, 1], { x: 10, y: 20, w: 100, h: 50 }), [[10, 20], [60, 70]]);
});

test("fit covers the image and every placed point, also one outside the image", () => {
  const pts = [{ x: -50, y: 10, v: 2 }, { x: 900, y: 900, v: 0 }, { x: 30, y: 700, v: 1 }];
  assert.deepEqual(extentOf(pts, 640, 480), { x: -50, y: 0, w: 690, h: 700 });
});

test("a prediction as the working copy marks every point predicted, the heuristic's as heuristic", () => {
  const pose = poseFromPrediction({ keypoints: [1, 2, 2, 0, 0, 0, 5, 6, 2], heuristic: [2] }, 3);
  assert.deepEqual(pose.points.map((p) => [p.v, p.state]), [[2, "predicted"], [0, "unverified"], [2, "heuristic"]]);
  assert.equal(pose.formLabel, null);
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
