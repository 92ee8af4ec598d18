// "Why this frame": a queue item's signals (the figures the score job, the checks and the review
// workflow store with it) turned into short sentences an annotator understands. Plain data, no DOM.
//
// Known signals come from annotations/learning/score.py (uncertain and label-error queues),
// annotations/review/queues.py (unverified spine points), annotations/video/temporal.py (jumps),
// annotations/quality/checks.py (label checks) and annotations/review/decisions.py (submissions).
// Any other key is shown as "key: value", readable but unexplained.

/** "spine_01" -> "spine 01", "left_wrist" -> "left wrist". */
export function pointName(name) {
  return String(name).replaceAll("_", " ");
}

/** "a", "a and b", "a, b and c". */
export function listOf(items) {
  const words = items.map(pointName);
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** A raw figure as text: numbers to 3 decimals, lists joined, objects as key: value pairs. */
export function figure(value) {
  if (typeof value === "number") return String(Math.round(value * 1000) / 1000);
  if (Array.isArray(value)) return value.map(figure).join(", ");
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${pointName(k)}: ${figure(v)}`).join("; ");
  }
  return value == null ? "" : String(value);
}

/** "3 of 880" -> {position: 3, total: 880}, or null. */
export function parseRank(rank) {
  const m = /^\s*(\d+)\s+of\s+(\d+)\s*$/.exec(String(rank ?? ""));
  if (!m || Number(m[2]) < 1) return null;
  return { position: Number(m[1]), total: Number(m[2]) };
}

/** The share of the queue at or above this position, as "top 5%" (at least 1%), or "" past the top half. */
export function topShare(rank) {
  const r = parseRank(rank);
  if (!r) return "";
  const pct = Math.max(1, Math.ceil((100 * r.position) / r.total));
  return pct <= 50 ? `top ${pct}% of the queue` : "";
}

// Uncertainty signals (higher = more doubtful). `notable`: the value from which the sentence is worth
// showing when the signal is not the one that ranked the frame. Distances are shares of the body's size.
const DOUBTS = {
  confidence: { notable: 0.5, text: () => "Its keypoints are low-confidence: the model is unsure where they are" },
  flip: { notable: 0.1, text: () => "The model disagrees with itself when the frame is mirrored" },
  spread: { notable: 0.1, text: () => "The model gives a different answer each time it is asked" },
  temporal: { notable: 0.1, text: () => "The points jump compared with the neighbouring frames" },
  form_margin: {
    notable: 0.8,
    text: (v) => (v >= 0.9 ? "The form label is uncertain (the classifier is nearly 50/50)"
      : `The form label is uncertain (the classifier's top two answers are only ${Math.round((1 - v) * 100)} points apart)`),
  },
};
const MAIN_ALIAS = { form: "form_margin" };

// Keys that only qualify another sentence, or that another box shows (the rejection).
const SILENT = new Set(["main_signal", "uncertainty", "label_check_kinds", "jump_threshold", "jump_keypoints",
                        "rejected", "rejected_by", "submitted_by"]);

/**
 * Sentences for a queue item's signals, most important first: [{key, text}].
 * options.points: the working pose's points ({v, state}) and options.names their names; with them,
 * the spine sentence lists only the spine points still unconfirmed (and is left out when none is).
 */
export function reasons(signals, { names = null, points = null } = {}) {
  const s = signals || {};
  const out = [];
  const add = (key, text) => {
    if (text) out.push({ key, text });
  };
  const main = MAIN_ALIAS[s.main_signal] || s.main_signal;

  if (main && DOUBTS[main] && typeof s[main] === "number") {
    const share = topShare(s.rank);
    add(main, DOUBTS[main].text(s[main]) + (share ? ` (${share})` : ""));
  }
  for (const [key, doubt] of Object.entries(DOUBTS)) {
    if (key !== main && typeof s[key] === "number" && s[key] >= doubt.notable) add(key, doubt.text(s[key]));
  }
  if (Array.isArray(s.doubtful_points) && s.doubtful_points.length) {
    add("doubtful_points", `The model is least sure about ${listOf(s.doubtful_points)}`);
  }
  if (Array.isArray(s.unverified_spine_points)) add("unverified_spine_points", spineSentence(s, names, points));
  if ("label_error_score" in s) add("label_error_score", "A confident model disagrees with the saved points");
  if (Array.isArray(s.suspect_joints) && s.suspect_joints.length) {
    const n = s.suspect_joints.length;
    add("suspect_joints", `Check ${listOf(s.suspect_joints)}: the model puts ${n === 1 ? "it" : "them"} elsewhere`);
  }
  if (typeof s.form === "string") add("form", `The form label may be wrong: the ${s.form}`);
  if ("jump" in s) add("jump", jumpSentence(s));
  if (Array.isArray(s.label_checks)) {
    for (const flag of s.label_checks) add("label_checks", checkSentence(flag));
  }
  if (Array.isArray(s.dismissed_checks) && s.dismissed_checks.length) {
    const n = s.dismissed_checks.length;
    add("dismissed_checks", `A reviewer already dismissed ${n === 1 ? "one earlier check" : `${n} earlier checks`} here`);
  }
  if ("submitted_from" in s) {
    const who = s.submitted_by ? `${s.submitted_by}` : "An annotator";
    add("submitted_from", `${who} submitted it${s.submitted_from ? ` from the ${pointName(s.submitted_from)} queue` : ""}: check and accept or reject`);
  }
  if (s.restored) add("restored", `An earlier version was restored: ${s.restored}`);
  const rank = parseRank(s.rank);
  if (rank) add("rank", `Position ${rank.position} of ${rank.total} in this queue`);
  if (s.model) add("model", `Scored by model ${s.model}`);

  const known = new Set([...Object.keys(DOUBTS), "doubtful_points", "unverified_spine_points", "label_error_score",
                         "suspect_joints", "form", "jump", "label_checks", "dismissed_checks", "submitted_from",
                         "restored", "rank", "model"]);
  for (const [key, value] of Object.entries(s)) {
    if (known.has(key) || SILENT.has(key)) continue;
    const text = figure(value);
    add(key, text ? `${capitalise(pointName(key))}: ${text}` : "");
  }
  return out;
}

/** The spine points still to confirm: from the signal, less those the working pose has confirmed or removed. */
export function spineStillToConfirm(listed, names, points) {
  if (!names || !points) return listed.slice();
  return listed.filter((name) => {
    const i = names.indexOf(name);
    if (i < 0 || !points[i]) return true;
    return points[i].v > 0 && points[i].state !== "verified";
  });
}

function spineSentence(s, names, points) {
  const todo = spineStillToConfirm(s.unverified_spine_points, names, points);
  if (!todo.length) return "";
  return todo.length === 1 ? `Spine point ${listOf(todo)} is a guess: confirm or move it`
    : `Spine points ${listOf(todo)} are guesses: confirm or move them`;
}

function jumpSentence(s) {
  const pts = Array.isArray(s.jump_keypoints) ? s.jump_keypoints : [];
  const size = typeof s.jump === "number" ? ` (the largest move is ${Math.round(s.jump * 100)}% of the body's size)` : "";
  const who = pts.length ? `${capitalise(listOf(pts))} ${pts.length === 1 ? "jumps" : "jump"}` : "Points jump";
  return `${who} away from the neighbouring frames${size}`;
}

function checkSentence(flag) {
  if (!flag || typeof flag !== "object") return figure(flag);
  if (flag.reason) return `A label check says: ${flag.reason}`;
  const pts = Array.isArray(flag.keypoints) && flag.keypoints.length ? ` (${listOf(flag.keypoints)})` : "";
  return `A label check flagged ${pointName(flag.kind || "something")}${pts}`;
}

/** Every signal as "key: value", for whoever wants the figures behind the sentences. */
export function rawFigures(signals) {
  return Object.entries(signals || {}).filter(([k]) => !k.startsWith("rejected"))
    .map(([k, v]) => `${pointName(k)}: ${figure(v)}`);
}
