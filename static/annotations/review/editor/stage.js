// The drawing surface: the frame image with the skeleton over it, in SVG.
//
// Why SVG with points in screen space: the image sits in a transformed group (zoom and pan are
// one matrix), while points and bones are positioned in screen pixels from image coordinates.
// So points keep their size and stay sharp at any zoom, and dragging a point touches only that
// point's circle, its label and the bones that end in it (never a full redraw).

const SVGNS = "http://www.w3.org/2000/svg";
const SPINE_NAMES = new Set(["hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05", "neck", "neck_02",
                             "neck_03", "head"]);
const NEUTRAL = "#d0d5dd";
const RADIUS = 5.5;
const MIN_ZOOM = 0.2;
const MAX_ZOOM = 40;

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

export class Stage {
  /**
   * svg: the <svg> element. skeleton: {keypoints, links, colours}.
   * handlers: select(i), dragStart(i), dragMove(i), dragEnd(i, moved), place(x, y), viewChanged().
   */
  constructor(svg, skeleton, handlers) {
    this.svg = svg;
    this.skeleton = skeleton;
    this.h = handlers;
    this.K = skeleton.keypoints.length;
    this.view = { s: 1, tx: 0, ty: 0, fit: 1 };
    this.size = { w: 1, h: 1 };
    this.pose = null;
    this.selected = -1;
    this.pointer = null; // last pointer position in image coordinates (for "place at pointer")
    this.layoutQueued = false;
    this.adjacent = Array.from({ length: this.K }, () => []);
    this.build();
    this.listen();
  }

  build() {
    this.world = el("g", { id: "world" }, this.svg);
    this.image = el("image", { id: "frame-image", x: 0, y: 0, preserveAspectRatio: "none" }, this.world);
    this.onionLayer = el("g", { id: "onion-layer", class: "onion" }, this.svg);
    this.ghostLayer = el("g", { id: "ghost-layer", class: "ghost" }, this.svg);
    this.boneLayer = el("g", { id: "bones" }, this.svg);
    this.pointLayer = el("g", { id: "points" }, this.svg);
    // The other version in a conflict goes on top: it is what the person must compare against.
    this.conflictLayer = el("g", { id: "conflict-layer", class: "theirs" }, this.svg);
    const { keypoints, links, colours } = this.skeleton;
    this.bones = links.map(([a, b], n) => {
      const spine = SPINE_NAMES.has(keypoints[a]) && SPINE_NAMES.has(keypoints[b]);
      const colour = spine ? colours[a] : colours[a] === colours[b] ? colours[a] : NEUTRAL;
      const line = el("line", { class: spine ? "bone spine" : "bone", stroke: colour, "data-link": n }, this.boneLayer);
      this.adjacent[a].push(n);
      this.adjacent[b].push(n);
      return { a, b, line };
    });
    this.circles = keypoints.map((name, i) => {
      const c = el("circle", { class: "kp", r: RADIUS, fill: colours[i], "data-i": i }, this.pointLayer);
      el("title", {}, c).textContent = name;
      return c;
    });
    this.tag = el("text", { id: "kp-tag", class: "kp-tag" }, this.svg);
  }

  // -- coordinates ----------------------------------------------------------------------------
  toScreen(x, y) {
    return [x * this.view.s + this.view.tx, y * this.view.s + this.view.ty];
  }

  toImage(clientX, clientY) {
    const r = this.svg.getBoundingClientRect();
    return [(clientX - r.left - this.view.tx) / this.view.s, (clientY - r.top - this.view.ty) / this.view.s];
  }

  clamp(x, y) {
    return [Math.min(Math.max(x, 0), this.size.w), Math.min(Math.max(y, 0), this.size.h)];
  }

  // -- frame and view -------------------------------------------------------------------------
  setFrame(url, width, height) {
    this.size = { w: width, h: height };
    this.image.setAttribute("width", width);
    this.image.setAttribute("height", height);
    this.image.setAttribute("href", url);
    this.fit();
  }

  fit() {
    const r = this.svg.getBoundingClientRect();
    const s = Math.min(r.width / this.size.w, r.height / this.size.h) * 0.94 || 1;
    this.view = { s, fit: s, tx: (r.width - this.size.w * s) / 2, ty: (r.height - this.size.h * s) / 2 };
    this.layout();
  }

  zoomAt(factor, cx, cy) {
    const v = this.view;
    const s = Math.min(Math.max(v.s * factor, v.fit * MIN_ZOOM), v.fit * MAX_ZOOM);
    const f = s / v.s;
    v.tx = cx - (cx - v.tx) * f;
    v.ty = cy - (cy - v.ty) * f;
    v.s = s;
    this.queueLayout();
  }

  zoomCentre(factor) {
    const r = this.svg.getBoundingClientRect();
    this.zoomAt(factor, r.width / 2, r.height / 2);
  }

  panBy(dx, dy) {
    this.view.tx += dx;
    this.view.ty += dy;
    this.queueLayout();
  }

  /** Image coordinates of the view centre (where keyboard placement puts a point). */
  centre() {
    const r = this.svg.getBoundingClientRect();
    return this.clamp((r.width / 2 - this.view.tx) / this.view.s, (r.height / 2 - this.view.ty) / this.view.s);
  }

  queueLayout() {
    if (this.layoutQueued) return;
    this.layoutQueued = true;
    requestAnimationFrame(() => {
      this.layoutQueued = false;
      this.layout();
    });
  }

  /** Re-place everything after a zoom, pan or new frame (not used while dragging). */
  layout() {
    const v = this.view;
    this.world.setAttribute("transform", `matrix(${v.s} 0 0 ${v.s} ${v.tx} ${v.ty})`);
    // Past 4x the frame's pixels are what the person is placing points on: show them sharp.
    this.image.classList.toggle("pixelated", v.s > 4);
    if (this.pose) for (let i = 0; i < this.K; i++) this.placePoint(i);
    for (const bone of this.bones) this.placeBone(bone);
    this.placeTag();
    this.drawOverlay(this.onionLayer, this.onion);
    this.drawOverlay(this.ghostLayer, this.ghost);
    this.drawOverlay(this.conflictLayer, this.theirs);
    if (this.h.viewChanged) this.h.viewChanged();
  }

  // -- the pose -------------------------------------------------------------------------------
  setPose(pose) {
    this.pose = pose;
    for (let i = 0; i < this.K; i++) this.stylePoint(i);
    this.layout();
  }

  stylePoint(i) {
    const p = this.pose.points[i];
    const c = this.circles[i];
    c.classList.toggle("hidden", p.v === 0);
    c.classList.toggle("occluded", p.v === 1);
    c.classList.toggle("unverified", p.state !== "verified");
    c.classList.toggle("heuristic", p.state === "heuristic");
    c.classList.toggle("selected", i === this.selected);
    c.setAttribute("r", i === this.selected ? RADIUS + 2 : RADIUS);
  }

  placePoint(i) {
    const p = this.pose.points[i];
    const [sx, sy] = this.toScreen(p.x, p.y);
    const c = this.circles[i];
    c.setAttribute("cx", sx.toFixed(2));
    c.setAttribute("cy", sy.toFixed(2));
  }

  placeBone(bone) {
    const pa = this.pose && this.pose.points[bone.a];
    const pb = this.pose && this.pose.points[bone.b];
    const shown = pa && pb && pa.v > 0 && pb.v > 0;
    bone.line.classList.toggle("hidden", !shown);
    if (!shown) return;
    const [x1, y1] = this.toScreen(pa.x, pa.y);
    const [x2, y2] = this.toScreen(pb.x, pb.y);
    bone.line.setAttribute("x1", x1.toFixed(2));
    bone.line.setAttribute("y1", y1.toFixed(2));
    bone.line.setAttribute("x2", x2.toFixed(2));
    bone.line.setAttribute("y2", y2.toFixed(2));
    bone.line.classList.toggle("unverified", pa.state !== "verified" || pb.state !== "verified");
  }

  /** One point changed (moved, visibility, state): update it and its bones only. */
  updatePoint(i) {
    this.stylePoint(i);
    this.placePoint(i);
    for (const n of this.adjacent[i]) this.placeBone(this.bones[n]);
    if (i === this.selected) this.placeTag();
  }

  updateAll() {
    for (let i = 0; i < this.K; i++) this.stylePoint(i);
    this.layout();
  }

  select(i) {
    const old = this.selected;
    this.selected = i;
    if (old >= 0 && this.pose) this.stylePoint(old);
    if (i >= 0 && this.pose) this.stylePoint(i);
    this.placeTag();
  }

  placeTag() {
    const i = this.selected;
    const p = i >= 0 && this.pose ? this.pose.points[i] : null;
    if (!p || p.v === 0) {
      this.tag.classList.add("hidden");
      return;
    }
    const [sx, sy] = this.toScreen(p.x, p.y);
    this.tag.classList.remove("hidden");
    this.tag.setAttribute("x", (sx + 10).toFixed(1));
    this.tag.setAttribute("y", (sy - 8).toFixed(1));
    const name = this.skeleton.keypoints[i];
    if (this.tag.textContent !== name) this.tag.textContent = name;
  }

  // -- faint layers: onion skin, model prediction, the other version in a conflict -------------
  /** layers: [{keypoints: flat 3K, className, scores?}] drawn as small dots and thin bones. */
  setOnion(layers) {
    this.onion = layers;
    this.drawOverlay(this.onionLayer, layers);
  }

  setGhost(layers) {
    this.ghost = layers;
    this.drawOverlay(this.ghostLayer, layers);
  }

  setTheirs(layers) {
    this.theirs = layers;
    this.drawOverlay(this.conflictLayer, layers);
  }

  drawOverlay(group, layers) {
    group.replaceChildren();
    for (const layer of layers || []) {
      const kp = layer.keypoints;
      const g = el("g", { class: layer.className }, group);
      for (const { a, b } of this.bones) {
        if (kp[3 * a + 2] > 0 && kp[3 * b + 2] > 0) {
          const [x1, y1] = this.toScreen(kp[3 * a], kp[3 * a + 1]);
          const [x2, y2] = this.toScreen(kp[3 * b], kp[3 * b + 1]);
          el("line", { x1, y1, x2, y2, stroke: this.skeleton.colours[a] }, g);
        }
      }
      for (let i = 0; i * 3 < kp.length && i < this.K; i++) {
        if (kp[3 * i + 2] <= 0) continue;
        const [x, y] = this.toScreen(kp[3 * i], kp[3 * i + 1]);
        const score = layer.scores ? layer.scores[i] : null;
        const dot = el("circle", { cx: x, cy: y, r: layer.radius || 3, fill: this.skeleton.colours[i], "data-i": i },
                       g);
        if (score != null) dot.setAttribute("opacity", (0.25 + 0.75 * Math.max(0, Math.min(1, score))).toFixed(2));
      }
    }
  }

  // -- pointer input --------------------------------------------------------------------------
  listen() {
    const svg = this.svg;
    let drag = null;
    let pan = null;
    let pending = null;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      this.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 && e.button !== 1) return;
      const i = e.target.dataset && e.target.classList.contains("kp") ? Number(e.target.dataset.i) : -1;
      if (i >= 0 && e.button === 0) {
        this.h.select(i);
        this.h.dragStart(i);
        drag = { i, moved: false };
        svg.setPointerCapture(e.pointerId);
        e.preventDefault();
        return;
      }
      const sel = this.selected >= 0 && this.pose ? this.pose.points[this.selected] : null;
      if (e.button === 0 && sel && sel.v === 0) {
        const [x, y] = this.toImage(e.clientX, e.clientY);
        if (x >= 0 && y >= 0 && x <= this.size.w && y <= this.size.h) {
          this.h.place(x, y);
          e.preventDefault();
          return;
        }
      }
      pan = { x: e.clientX, y: e.clientY };
      svg.setPointerCapture(e.pointerId);
      svg.classList.add("panning");
    });
    svg.addEventListener("pointermove", (e) => {
      this.pointer = this.toImage(e.clientX, e.clientY);
      if (drag) {
        // Coalesce to one update per animation frame: a mouse can report far more often.
        pending = this.clamp(...this.pointer);
        if (!drag.queued) {
          drag.queued = true;
          requestAnimationFrame(() => {
            if (!drag) return;
            drag.queued = false;
            drag.moved = true;
            this.h.dragMove(drag.i, pending[0], pending[1]);
          });
        }
      } else if (pan) {
        this.panBy(e.clientX - pan.x, e.clientY - pan.y);
        pan = { x: e.clientX, y: e.clientY };
      }
    });
    const end = (e) => {
      if (drag) {
        if (pending && drag.queued) this.h.dragMove(drag.i, pending[0], pending[1]);
        this.h.dragEnd(drag.i, drag.moved || !!drag.queued);
        drag = null;
        pending = null;
      }
      pan = null;
      svg.classList.remove("panning");
      if (svg.hasPointerCapture(e.pointerId)) svg.releasePointerCapture(e.pointerId);
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("pointerleave", () => {
      if (!drag && !pan) this.pointer = null;
    });
    new ResizeObserver(() => this.fit()).observe(svg);
  }
}
