// The drawing surface: the frame image with the skeleton over it, in SVG.
//
// Why SVG with points in screen space: the image sits in a transformed group (zoom and pan are
// one matrix), while points and bones are positioned in screen pixels from image coordinates.
// So points keep their size and stay sharp at any zoom, and dragging a point touches only that
// point's circle, its label and the bones that end in it (never a full redraw).

import { extentOf } from "./model.js";
import { drawOverlay } from "./overlay.js";

const SVGNS = "http://www.w3.org/2000/svg";
const SPINE_NAMES = new Set(["hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05", "neck", "neck_02",
                             "neck_03", "head"]);
const NEUTRAL = "#d0d5dd";
const RADIUS = 5.5;
const MIN_ZOOM = 0.2;
const MAX_ZOOM = 40;
const PICK = 14; // screen pixels: a press this close to a point grabs it
const DRAG_START = 4; // screen pixels of movement before a press on a point becomes a drag

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
    this.othersLayer = el("g", { id: "others-layer", class: "others" }, this.svg); // the frame's other people
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
    this.boxRect = el("rect", { id: "template-box", class: "template-box hidden" }, this.svg);
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

  /** Frame the image and every placed point (even one outside the image), clear of the zoom bar. */
  fit() {
    const r = this.svg.getBoundingClientRect();
    const tools = this.svg.parentElement && this.svg.parentElement.querySelector(".stage-tools");
    const below = tools ? tools.offsetHeight + 12 : 0;
    const e = this.pose ? extentOf(this.pose.points, this.size.w, this.size.h) : { x: 0, y: 0, ...this.size };
    const height = Math.max(r.height - below, 1);
    const s = Math.min(r.width / e.w, height / e.h) * 0.94 || 1;
    this.view = { s, fit: s, tx: (r.width - e.w * s) / 2 - e.x * s, ty: (height - e.h * s) / 2 - e.y * s };
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
    this.drawOverlay(this.othersLayer, this.others);
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

  // -- faint layers: onion skin, model prediction, other people, the other version in a conflict
  /** layers: [{keypoints: flat 3K, className, scores?}] drawn as small dots and thin bones. */
  setOnion(layers) {
    this.onion = layers;
    this.drawOverlay(this.onionLayer, layers);
  }

  setGhost(layers) {
    this.ghost = layers;
    this.drawOverlay(this.ghostLayer, layers);
  }

  setOthers(layers) {
    this.others = layers;
    this.drawOverlay(this.othersLayer, layers);
  }

  setTheirs(layers) {
    this.theirs = layers;
    this.drawOverlay(this.conflictLayer, layers);
  }

  drawOverlay(group, layers) {
    drawOverlay(this, group, layers);
  }

  // -- picking and the template box -----------------------------------------------------------
  /** Placed points within PICK screen pixels of a pointer, nearest first. */
  pick(clientX, clientY) {
    if (!this.pose) return [];
    const r = this.svg.getBoundingClientRect();
    const [px, py] = [clientX - r.left, clientY - r.top];
    const near = [];
    this.pose.points.forEach((p, i) => {
      if (p.v === 0) return;
      const [sx, sy] = this.toScreen(p.x, p.y);
      const d = Math.hypot(sx - px, sy - py);
      if (d <= PICK) near.push([d, i]);
    });
    return near.sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  }

  /** The next drag on the frame draws a box; done({x, y, w, h}) gets it in image coordinates. */
  startBox(done) {
    this.boxDone = done;
    this.svg.classList.add("boxing");
  }

  cancelBox() {
    this.boxDone = null;
    this.svg.classList.remove("boxing");
    this.boxRect.classList.add("hidden");
  }

  drawBox(a, b) {
    const [x1, y1] = this.toScreen(Math.min(a[0], b[0]), Math.min(a[1], b[1]));
    const [x2, y2] = this.toScreen(Math.max(a[0], b[0]), Math.max(a[1], b[1]));
    for (const [k, v] of Object.entries({ x: x1, y: y1, width: x2 - x1, height: y2 - y1 })) {
      this.boxRect.setAttribute(k, v.toFixed(1));
    }
    this.boxRect.classList.remove("hidden");
  }

  // -- pointer input --------------------------------------------------------------------------
  // A press near placed points picks the nearest (or the selected one, when it is among them): moved, it
  // drags that point; let go where it was pressed, it places the selected point if that one is not
  // placed yet, else selects the next of the points under the pointer (so a repeated click cycles
  // through overlapping points). A press away from points places the selected unplaced point, or pans.
  listen() {
    const svg = this.svg;
    let drag = null;
    let press = null;
    let pan = null;
    let box = null;
    let pending = null;
    const inImage = ([x, y]) => x >= 0 && y >= 0 && x <= this.size.w && y <= this.size.h;
    const unplacedSelected = () => this.selected >= 0 && this.pose && this.pose.points[this.selected].v === 0;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      this.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 && e.button !== 1) return;
      const at = this.toImage(e.clientX, e.clientY);
      if (e.button === 0 && this.boxDone) {
        box = { from: at, to: at };
        svg.setPointerCapture(e.pointerId);
        e.preventDefault();
        return;
      }
      const near = e.button === 0 ? this.pick(e.clientX, e.clientY) : [];
      if (near.length) {
        press = { near, x: e.clientX, y: e.clientY, at };
        svg.setPointerCapture(e.pointerId);
        e.preventDefault();
        return;
      }
      if (e.button === 0 && unplacedSelected() && inImage(at)) {
        this.h.place(...at);
        e.preventDefault();
        return;
      }
      pan = { x: e.clientX, y: e.clientY };
      svg.setPointerCapture(e.pointerId);
      svg.classList.add("panning");
    });
    svg.addEventListener("pointermove", (e) => {
      this.pointer = this.toImage(e.clientX, e.clientY);
      if (box) {
        box.to = this.pointer;
        this.drawBox(box.from, box.to);
      } else if (press && !drag && Math.hypot(e.clientX - press.x, e.clientY - press.y) > DRAG_START) {
        const i = press.near.includes(this.selected) ? this.selected : press.near[0];
        this.h.select(i);
        this.h.dragStart(i);
        drag = { i, moved: false };
      }
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
      if (box) {
        const [a, b] = [box.from, box.to];
        const done = this.boxDone;
        box = null;
        this.cancelBox();
        const rect = { x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]), w: Math.abs(a[0] - b[0]), h: Math.abs(a[1] - b[1]) };
        if (e.type === "pointerup" && rect.w * this.view.s > 8 && rect.h * this.view.s > 8) done(rect);
      } else if (drag) {
        if (pending && drag.queued) this.h.dragMove(drag.i, pending[0], pending[1]);
        this.h.dragEnd(drag.i, drag.moved || !!drag.queued);
      } else if (press && e.type === "pointerup") {
        if (unplacedSelected() && inImage(press.at)) this.h.place(...press.at);
        else this.h.select(press.near[(press.near.indexOf(this.selected) + 1) % press.near.length]);
      }
      drag = null;
      press = null;
      pending = null;
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
