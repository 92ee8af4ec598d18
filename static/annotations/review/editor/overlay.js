// The layers drawn over the frame besides the pose: the neighbour frames (onion skin, muted grey),
// the model's prediction (solid squares with a dark outline, readable on any frame) and the other
// version in a conflict. Screen-space, redrawn on every zoom or pan.

const SVGNS = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const node = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  parent.appendChild(node);
  return node;
}

/** layers: [{keypoints: flat 3K, className, scores?, radius?}]; squares for the prediction, dots otherwise. */
export function drawOverlay(stage, group, layers) {
  group.replaceChildren();
  const colours = stage.skeleton.colours;
  for (const layer of layers || []) {
    const kp = layer.keypoints;
    const g = el("g", { class: layer.className }, group);
    const square = layer.className === "prediction";
    for (const { a, b } of stage.bones) {
      if (kp[3 * a + 2] > 0 && kp[3 * b + 2] > 0) {
        const [x1, y1] = stage.toScreen(kp[3 * a], kp[3 * a + 1]);
        const [x2, y2] = stage.toScreen(kp[3 * b], kp[3 * b + 1]);
        el("line", { x1, y1, x2, y2, stroke: colours[a] }, g);
      }
    }
    for (let i = 0; i * 3 < kp.length && i < stage.K; i++) {
      if (kp[3 * i + 2] <= 0) continue;
      const [x, y] = stage.toScreen(kp[3 * i], kp[3 * i + 1]);
      const r = layer.radius || 3;
      const dot = square
        ? el("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill: colours[i], "data-i": i }, g)
        : el("circle", { cx: x, cy: y, r, fill: colours[i], "data-i": i }, g);
      const score = layer.scores ? layer.scores[i] : null;
      // A low-confidence point is lighter but never faint: it stays readable on a bright frame.
      if (score != null) dot.setAttribute("fill-opacity", (0.55 + 0.45 * Math.max(0, Math.min(1, score))).toFixed(2));
    }
  }
}
