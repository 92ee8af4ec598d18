// The crop of the editor's side-by-side panels of people who disagree (static/annotations/review/editor/crop.js).
// Run: node --test tests/js/
import assert from "node:assert/strict";
import test from "node:test";

import { cropAround } from "../../static/annotations/review/editor/crop.js";

const flat = (points) => points.flatMap(([x, y, v = 2]) => [x, y, v]);

test("the crop is a square around every person's disagreeing points with room around them", () => {
  // Two keypoints; people disagree on keypoint 1: at (100, 200) and (300, 260). Span 200, pad 120, side 440
  // centred on (200, 230).
  const votes = [{ keypoints: flat([[10, 10], [100, 200]]) }, { keypoints: flat([[12, 10], [300, 260]]) }];
  assert.deepEqual(cropAround(votes, new Set([1]), 640, 480), [-20, 10, 440, 440]);
});

test("points close together still get at least a tenth of the frame, and unplaced ones are left out", () => {
  const votes = [{ keypoints: flat([[100, 100]]) }, { keypoints: flat([[104, 100]]) }, { keypoints: flat([[900, 900, 0]]) }];
  const [x, y, w, h] = cropAround(votes, new Set([0]), 1000, 500);
  assert.equal(w, 220); // a tenth of 1000 px, and 60 % of it on each side
  assert.equal(h, w);
  assert.ok(x < 100 && x + w > 104 && y < 100 && y + h > 100);
});

test("people who disagree on the form label only see the whole frame", () => {
  assert.deepEqual(cropAround([{ keypoints: flat([[5, 5]]) }], new Set(), 640, 480), [0, 0, 640, 480]);
});
