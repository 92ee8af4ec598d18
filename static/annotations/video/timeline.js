// Clip timeline: scrub a clip with its keypoints drawn, see per-frame uncertainty, status and
// temporal jumps in a strip, jump to the worst frames, fill between keyframes, open the editor.
// Data: GET <clip>/timeline/ (api_video.clip_timeline); shapes documented in services/timeline.py.

import { detailOf, fetchJson } from "../common/http.js";
import { isFinished, jobUrl, pollJob } from "../jobs/poller.js";

const root = document.getElementById("timeline");
const $ = (id) => document.getElementById(id);
const canvas = $("tl-canvas"), ctx = canvas && canvas.getContext("2d");
const strip = $("tl-strip"), sctx = strip && strip.getContext("2d");
const scrub = $("tl-scrub");
const STATUS_COLOURS = {
  unlabelled: "#d0d5dd", preannotated: "#b2ddff", annotated: "#fec84b", submitted: "#a48afb",
  accepted: "#32d583", rejected: "#f97066",
};
const STATE_COLOURS = { verified: "#12b76a", unverified: "#f79009", predicted: "#7a5af8", heuristic: "#98a2b3" };
const JUMP = "#d92d20";
const images = new Map();
let data = null, current = 0, playing = null;

// -- data ----------------------------------------------------------------------------------
async function load(keepFrameId) {
  const res = await fetchJson(root.dataset.url);
  if (!res.ok || !res.data) { $("tl-frame-name").textContent = "This clip could not be loaded."; return; }
  data = res.data;
  scrub.max = Math.max(0, data.frames.length - 1);
  const wanted = keepFrameId || Number(new URLSearchParams(location.hash.slice(1)).get("frame"));
  const at = data.frames.findIndex((f) => f.id === wanted);
  if ($("tl-threshold")) $("tl-threshold").textContent = `${Math.round(data.threshold * 100)} %`;
  fillWorst();
  fillKeyframes();
  root.dataset.loaded = "1";
  seek(at >= 0 ? at : 0);
}

function image(frame) {
  if (!frame.image) return null;
  let img = images.get(frame.id);
  if (!img) {
    img = new Image();
    img.onload = () => { if (data.frames[current] === frame) draw(); };
    img.src = frame.image;
    images.set(frame.id, img);
    if (images.size > 80) images.delete(images.keys().next().value); // keep memory bounded on long clips
  }
  return img;
}

// -- current frame -------------------------------------------------------------------------
function seek(i) {
  if (!data || !data.frames.length) return;
  current = Math.max(0, Math.min(data.frames.length - 1, i));
  const f = data.frames[current];
  scrub.value = current;
  $("tl-position").textContent = `${current + 1} / ${data.frames.length}`;
  $("tl-frame-name").textContent = f.file_name;
  $("tl-frame-index").textContent = f.index ?? "–";
  $("tl-frame-time").textContent = f.time == null ? "–" : `${f.time.toFixed(3)} s`;
  $("tl-frame-status").textContent = f.status;
  $("tl-frame-priority").textContent = f.priority.toFixed(3);
  $("tl-frame-jump").textContent = f.jump ? `${(f.jump.score * 100).toFixed(1)} %${f.jump.flagged ? " ▲ " + f.jump.keypoints.join(", ") : ""}` : "–";
  $("tl-frame-source").textContent = f.annotations.length ? [...new Set(f.annotations.map((a) => a.source))].join(", ") + (f.keyframe ? " (keyframe)" : "") : "no annotation";
  $("tl-editor").href = f.editor;
  history.replaceState(null, "", `#frame=${f.id}`);
  fillKeypointTable(f);
  draw();
  drawStrip();
  for (let k = 1; k <= 3; k++) if (data.frames[current + k]) image(data.frames[current + k]); // preload
}

function fillKeypointTable(f) {
  const body = $("tl-kps").querySelector("tbody");
  body.innerHTML = "";
  const jumping = new Set(f.jump && f.jump.flagged ? f.jump.keypoints : []);
  for (const ann of f.annotations) {
    data.skeleton.keypoints.forEach((name, k) => {
      const [x, y, v] = ann.keypoints.slice(3 * k, 3 * k + 3);
      if (!v) return;
      const state = ann.keypoint_states[k];
      const tr = document.createElement("tr");
      tr.className = `state-${state}` + (jumping.has(name) ? " jumping" : "");
      tr.dataset.keypoint = name;
      for (const text of [(f.annotations.length > 1 ? `#${ann.instance} ` : "") + name, x.toFixed(1), y.toFixed(1), v, state + (jumping.has(name) ? " ▲" : "")]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    });
  }
}

function draw() {
  const f = data.frames[current];
  const maxW = canvas.parentElement.clientWidth - 2;
  const scale = Math.min(maxW / f.width, 560 / f.height);
  canvas.width = Math.round(f.width * scale);
  canvas.height = Math.round(f.height * scale);
  ctx.fillStyle = "#101828";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const img = image(f);
  const ready = img && img.complete && img.naturalWidth;
  if (ready) ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  else {
    ctx.fillStyle = "#98a2b3";
    ctx.font = "14px system-ui";
    ctx.textAlign = "center";
    ctx.fillText(f.image ? "loading the frame..." : "this frame has no image", canvas.width / 2, canvas.height / 2);
  }
  canvas.dataset.drawn = ready ? String(f.id) : ""; // which frame's pixels are on screen (tests wait on it)
  const jumping = new Set(f.jump && f.jump.flagged ? f.jump.keypoints : []);
  const names = data.skeleton.keypoints, colours = data.skeleton.colours;
  for (const ann of f.annotations) {
    const p = (k) => [ann.keypoints[3 * k] * scale, ann.keypoints[3 * k + 1] * scale, ann.keypoints[3 * k + 2]];
    ctx.lineWidth = 2;
    for (const [a, b] of data.skeleton.links) {
      const [xa, ya, va] = p(a), [xb, yb, vb] = p(b);
      if (!va || !vb) continue;
      ctx.strokeStyle = colours[a] || "#fff";
      ctx.globalAlpha = 0.8;
      ctx.setLineDash(ann.keypoint_states[a] === "verified" && ann.keypoint_states[b] === "verified" ? [] : [5, 4]);
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xb, yb); ctx.stroke();
    }
    ctx.globalAlpha = 1;
    names.forEach((name, k) => {
      const [x, y, v] = p(k);
      if (!v) return;
      const state = ann.keypoint_states[k] || "unverified";
      const r = v === 1 ? 3.5 : 5;
      ctx.setLineDash(state === "verified" ? [] : [3, 2]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      if (state === "heuristic") ctx.rect(x - r, y - r, 2 * r, 2 * r); else ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = state === "verified" ? (colours[k] || STATE_COLOURS.verified) : "#ffffff";
      ctx.strokeStyle = state === "verified" ? "#ffffff" : STATE_COLOURS[state] || STATE_COLOURS.unverified;
      ctx.fill(); ctx.stroke();
      if (jumping.has(name)) {
        ctx.setLineDash([]); ctx.strokeStyle = JUMP; ctx.lineWidth = 2.5;
        ctx.beginPath(); ctx.arc(x, y, r + 5, 0, 2 * Math.PI); ctx.stroke();
      }
    });
    ctx.setLineDash([]);
  }
}

// -- the strip -----------------------------------------------------------------------------
function drawStrip() {
  const n = data.frames.length;
  strip.width = strip.parentElement.clientWidth - 2;
  const W = strip.width, H = strip.height, cell = W / Math.max(n, 1);
  const maxP = Math.max(1e-9, ...data.frames.map((f) => f.priority));
  sctx.clearRect(0, 0, W, H);
  data.frames.forEach((f, i) => {
    const x = i * cell, w = Math.max(1, cell - (cell > 4 ? 1 : 0));
    sctx.fillStyle = STATUS_COLOURS[f.status] || "#d0d5dd";
    sctx.fillRect(x, H - 12, w, 12);
    const h = (H - 28) * (f.priority / maxP);
    sctx.fillStyle = "#2457c5";
    sctx.fillRect(x, H - 14 - h, w, h);
    sctx.font = "10px system-ui";
    sctx.textAlign = "center";
    if (f.jump && f.jump.flagged) { sctx.fillStyle = JUMP; sctx.fillText("▲", x + cell / 2, 10); }
    else if (f.keyframe) { sctx.fillStyle = "#101828"; sctx.fillText("◆", x + cell / 2, 10); }
  });
  sctx.strokeStyle = "#101828";
  sctx.lineWidth = 2;
  sctx.strokeRect(current * cell, 0, Math.max(cell, 2), H);
}

function fillWorst() {
  const list = $("tl-worst");
  list.innerHTML = "";
  const byId = new Map(data.frames.map((f, i) => [f.id, i]));
  for (const id of data.worst) {
    const i = byId.get(id), f = data.frames[i];
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.dataset.frame = f.id;
    b.textContent = `frame ${f.index ?? f.file_name} · priority ${f.priority.toFixed(2)}` + (f.jump && f.jump.flagged ? ` · jump ${f.jump.keypoints.join(", ")}` : "");
    b.addEventListener("click", () => seek(i));
    li.appendChild(b);
    list.appendChild(li);
  }
  $("tl-worst-empty").hidden = data.worst.length > 0;
}

// -- interpolation and the temporal check ---------------------------------------------------
function fillKeyframes() {
  const a = $("tl-key-a"), b = $("tl-key-b");
  if (!a) return;
  const keys = data.frames.filter((f) => f.keyframe);
  for (const select of [a, b]) {
    select.innerHTML = "";
    for (const f of keys) select.add(new Option(`frame ${f.index}`, f.id));
  }
  if (keys.length) b.value = keys[keys.length - 1].id;
  for (const id of ["tl-fill-pair", "tl-fill-all"]) $(id).disabled = keys.length < 2;
  if (keys.length < 2) $("tl-job").textContent = "Label at least two keyframes (verified points) to fill between them.";
}

function showJob(job, status) {
  status.textContent = `${job.kind} job ${job.id}: ${job.status} ${Math.round(job.progress * 100)} %`;
}

async function waitForJob(job, status) {
  if (isFinished(job)) return job;
  showJob(job, status);
  // The last answer is left to the caller: it reloads the clip before saying how the job ended.
  const onUpdate = (update) => {
    if (!isFinished(update)) showJob(update, status);
  };
  return pollJob(jobUrl(job.id), { onUpdate, first: 700, every: 700 });
}

async function interpolate(pair) {
  const status = $("tl-job");
  const body = { method: "linear" };
  if (pair) { body.start_frame = $("tl-key-a").value; body.end_frame = $("tl-key-b").value; }
  status.textContent = "starting...";
  const res = await fetchJson(root.dataset.interpolateUrl, { method: "POST", body });
  if (!res.ok) { status.textContent = detailOf(res, "interpolation could not start"); return; }
  const done = await waitForJob(res.data, status);
  await load(data.frames[current].id); // the new points first, then the news
  status.textContent = done.message || done.status;
  status.className = `status-${done.status}`;
}

// -- playback and keys ---------------------------------------------------------------------
function play() {
  if (playing) { clearInterval(playing); playing = null; $("tl-play").textContent = "▶"; return; }
  const fps = Math.min(30, (data.video && data.video.fps) || 10);
  $("tl-play").textContent = "❚❚";
  playing = setInterval(() => (current >= data.frames.length - 1 ? play() : seek(current + 1)), 1000 / fps);
}

/** Wires the page's controls and loads the clip; only on a page with a timeline. */
function start() {
  strip.addEventListener("click", (e) => {
    const rect = strip.getBoundingClientRect();
    seek(Math.floor(((e.clientX - rect.left) / rect.width) * data.frames.length));
  });
  strip.addEventListener("mousemove", (e) => {
    if (!data) return;
    const rect = strip.getBoundingClientRect();
    const f = data.frames[Math.floor(((e.clientX - rect.left) / rect.width) * data.frames.length)];
    if (f) strip.title = `${f.file_name} · ${f.status} · priority ${f.priority.toFixed(3)}${f.jump && f.jump.flagged ? " · jump: " + f.jump.keypoints.join(", ") : ""}`;
  });

  if ($("tl-fill-pair")) {
    $("tl-fill-pair").addEventListener("click", () => interpolate(true));
    $("tl-fill-all").addEventListener("click", () => interpolate(false));
  }
  if ($("tl-feed")) {
    $("tl-feed").addEventListener("click", async () => {
      const res = await fetchJson(root.dataset.temporalUrl, { method: "POST", body: {} });
      $("tl-feed-status").textContent = res.ok
        ? `${res.data.flagged.length} frames with jumping keypoints; label-error queue: ${res.data.queue}`
        : detailOf(res, "the check failed");
    });
  }

  scrub.addEventListener("input", () => seek(Number(scrub.value)));
  $("tl-prev").addEventListener("click", () => seek(current - 1));
  $("tl-next").addEventListener("click", () => seek(current + 1));
  $("tl-play").addEventListener("click", play);
  document.addEventListener("keydown", (e) => {
    if (!data || ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) && e.target !== scrub) return;
    if (e.target === scrub && ["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return; // the slider moves itself
    if (e.key === "ArrowRight") seek(current + 1);
    else if (e.key === "ArrowLeft") seek(current - 1);
    else if (e.key === "Home") seek(0);
    else if (e.key === "End") seek(data.frames.length - 1);
    else if (e.key === " ") { e.preventDefault(); play(); }
    else if (e.key === "w" && data.worst.length) {
      const order = data.worst.map((id) => data.frames.findIndex((f) => f.id === id));
      seek(order.find((i) => i > current) ?? order[0]);
    } else return;
  });
  window.addEventListener("resize", () => data && seek(current));
  load();
}

if (root) start();
