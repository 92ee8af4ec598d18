// "People disagree": on a frame whose independent annotations did not agree (annotations/consensus/),
// a reviewer sees each person's points beside each other, the points they disagree on drawn orange,
// and can take one person's points for those keypoints (and their form label) into the frame's
// annotation in one undoable step, then accept as usual. Reviewers only: the votes are read from
// GET consensus/frames/<id>/, which annotators may not call.

import { $, api, cfg, names, state } from "./context.js";
import { cropAround } from "./crop.js";
import { change, setFormLabel } from "./editing.js";

const SVG = "http://www.w3.org/2000/svg";

function svgElement(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** One person's points over the frame: (K*3 flat) keypoints, the disagreeing indices orange. */
function panel(vote, disagreeing, frame, crop) {
  const fig = document.createElement("figure");
  fig.className = "disagreement-person";
  fig.dataset.who = vote.user;
  const svg = svgElement("svg", { viewBox: crop.join(" "), role: "img", "aria-label": `points of ${vote.user}` });
  svg.append(svgElement("image", { href: frame.image_url, width: frame.width, height: frame.height }));
  const r = crop[2] / 30;
  const kp = vote.keypoints || [];
  for (let i = 0; i < names.length; i++) {
    if (!(kp[3 * i + 2] > 0)) continue;
    const dot = svgElement("circle", { cx: kp[3 * i], cy: kp[3 * i + 1], r, "data-keypoint": names[i] });
    dot.append(svgElement("title", {}));
    dot.lastChild.textContent = names[i];
    dot.setAttribute("class", disagreeing.has(i) ? "pt disagree" : "pt");
    svg.append(dot);
  }
  const caption = document.createElement("figcaption");
  caption.textContent = `${vote.user} · ${vote.form_label || "no label"}`;
  const take = document.createElement("button");
  take.type = "button";
  take.className = "secondary take-person";
  take.dataset.who = vote.user;
  take.textContent = `Use ${vote.user}'s`;
  take.title = `Take ${vote.user}'s points for the keypoints people disagree on, and their form label`;
  take.addEventListener("click", () => takeFrom(vote, disagreeing));
  fig.append(svg, caption, take);
  return fig;
}

/** The person's points for the disagreeing keypoints (verified: a reviewer chose them) and their label. */
function takeFrom(vote, disagreeing) {
  const kp = vote.keypoints || [];
  const take = [...disagreeing].filter((i) => kp[3 * i + 2] > 0);
  if (take.length) {
    change((pose) => {
      for (const i of take) Object.assign(pose.points[i], { x: kp[3 * i], y: kp[3 * i + 1], v: kp[3 * i + 2],
                                                            state: "verified" });
    }, take);
  }
  if (vote.form_label && vote.form_label !== state.pose.formLabel) setFormLabel(vote.form_label);
}

/** Shows the disagreement of the frame's finished consensus, if it has one that went to review. */
export async function renderDisagreement() {
  const box = $("disagreement");
  if (!box) return;
  box.hidden = true;
  if (!cfg.canDecide || !state.data || !state.data.consensus_disputed) return;
  const frameId = state.frameId;
  const res = await api.call("GET", `consensus/frames/${frameId}/`).catch(() => null);
  if (frameId !== state.frameId || !res || !res.ok || res.data.status !== "disputed") return;
  const info = res.data;
  const disagreeing = new Set(info.disagreeing.map((n) => names.indexOf(n)).filter((i) => i >= 0));
  $("disagreement-summary").textContent = `${info.votes.length} people, mean pairwise OKS ${info.mean_oks ?? "–"}; `
    + `they disagree on ${info.disagreeing.length ? info.disagreeing.join(", ") : "the form label"}.`;
  const frame = state.data.frame;
  const crop = cropAround(info.votes, disagreeing, frame.width, frame.height);
  $("disagreement-people").replaceChildren(...info.votes.map((v) => panel(v, disagreeing, frame, crop)));
  $("disagreement-compare").href = `${cfg.projectUrl}frames/${frameId}/consensus/`;
  box.hidden = false;
}
