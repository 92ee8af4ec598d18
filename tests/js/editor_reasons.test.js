// Unit tests of "Why this frame": queue signals in plain words (static/annotations/review/editor/reasons.js).
// Run: npm test (or: node --test tests/js/).
import assert from "node:assert/strict";
import test from "node:test";

import {
  figure, listOf, parseRank, rawFigures, reasons, spineStillToConfirm, topShare,
} from "../../static/annotations/review/editor/reasons.js";

const texts = (signals, options) => reasons(signals, options).map((r) => r.text);

test("the uncertain queue's signals read as sentences, the ranking signal first with its share of the queue", () => {
  const out = texts({ model: "v3", uncertainty: 0.93, rank: "1 of 880", main_signal: "flip", flip: 0.412,
                      confidence: 0.2, form_margin: 0.977 });
  assert.deepEqual(out, [
    "The model disagrees with itself when the frame is mirrored (top 1% of the queue)",
    "The form label is uncertain (the classifier is nearly 50/50)",
    "Position 1 of 880 in this queue",
    "Scored by model v3",
  ]);
  assert.ok(!out.join(" ").includes("0.412"), "no raw figures in the sentences");
});

test("a secondary doubt is only mentioned when it is large; the main one always is", () => {
  const quiet = texts({ main_signal: "confidence", confidence: 0.3, flip: 0.02, spread: 0.01, temporal: 0.05,
                        form_margin: 0.4, rank: "44 of 880" });
  assert.deepEqual(quiet, ["Its keypoints are low-confidence: the model is unsure where they are (top 5% of the queue)",
                           "Position 44 of 880 in this queue"]);
  const loud = texts({ main_signal: "form", form_margin: 0.85, confidence: 0.7, temporal: 0.3, spread: 0.2 });
  assert.equal(loud[0], "The form label is uncertain (the classifier's top two answers are only 15 points apart)");
  assert.ok(loud.includes("Its keypoints are low-confidence: the model is unsure where they are"));
  assert.ok(loud.includes("The points jump compared with the neighbouring frames"));
  assert.ok(loud.includes("The model gives a different answer each time it is asked"));
});

test("the share of the queue is at least 1% and left out past the top half", () => {
  assert.equal(topShare("1 of 880"), "top 1% of the queue");
  assert.equal(topShare("44 of 880"), "top 5% of the queue");
  assert.equal(topShare("600 of 880"), "");
  assert.equal(topShare("nonsense"), "");
  assert.deepEqual(parseRank("3 of 12"), { position: 3, total: 12 });
  assert.equal(parseRank("3 of 0"), null);
});

test("spine points read by name and only those still unconfirmed in the working pose", () => {
  const names = ["nose", "neck", "spine_01", "spine_02", "hip"];
  const signals = { unverified_spine_points: ["neck", "spine_01", "spine_02"] };
  assert.deepEqual(texts(signals), ["Spine points neck, spine 01 and spine 02 are guesses: confirm or move them"]);
  const points = [{ v: 2, state: "verified" }, { v: 2, state: "verified" }, { v: 2, state: "heuristic" },
                  { v: 2, state: "unverified" }, { v: 2, state: "heuristic" }];
  assert.deepEqual(texts(signals, { names, points }),
                   ["Spine points spine 01 and spine 02 are guesses: confirm or move them"]);
  points[3].state = "verified";
  assert.deepEqual(texts(signals, { names, points }), ["Spine point spine 01 is a guess: confirm or move it"]);
  points[2].v = 0; // removed: nothing left to confirm there
  assert.deepEqual(texts(signals, { names, points }), []);
  assert.deepEqual(spineStillToConfirm(["neck", "spine_09"], names, points), ["spine_09"]); // unknown names stay
});

test("label-error, jump, check and review signals have their own sentences", () => {
  const out = texts({ model: "v2", label_error_score: 0.81, suspect_joints: ["left_knee"],
                      form: "model says correct (0.91), label lumbar_error",
                      jump: 0.412, jump_keypoints: ["left_wrist", "right_wrist"], jump_threshold: 0.15,
                      label_checks: [{ kind: "swap", keypoints: ["left_knee", "right_knee"],
                                       reason: "left and right knee look swapped" }, { kind: "collapsed", keypoints: [] }],
                      label_check_kinds: ["collapsed", "swap"], dismissed_checks: [{ kind: "jump" }],
                      submitted_from: "unverified_spine", submitted_by: "ann" });
  assert.deepEqual(out, [
    "A confident model disagrees with the saved points",
    "Check left knee: the model puts it elsewhere",
    "The form label may be wrong: the model says correct (0.91), label lumbar_error",
    "Left wrist and right wrist jump away from the neighbouring frames (the largest move is 41% of the body's size)",
    "A label check says: left and right knee look swapped",
    "A label check flagged collapsed",
    "A reviewer already dismissed one earlier check here",
    "ann submitted it from the unverified spine queue: check and accept or reject",
    "Scored by model v2",
  ]);
});

test("unknown keys stay readable; the rejection is left to its own box", () => {
  assert.deepEqual(texts({ batch_note: "re-check", odd_score: 0.12345, parts: ["a_b", 2], extra: { top_k: 3 },
                           rejected: "fix it", rejected_by: "rev" }),
                   ["Batch note: re-check", "Odd score: 0.123", "Parts: a_b, 2", "Extra: top k: 3"]);
  assert.deepEqual(reasons(null), []);
  assert.deepEqual(rawFigures({ flip: 0.41234, rank: "1 of 2", rejected: "x" }), ["flip: 0.412", "rank: 1 of 2"]);
  assert.equal(figure(null), "");
  assert.equal(listOf(["a"]), "a");
  assert.equal(listOf([]), "");
});
