// Finishing a frame: an annotator submits or skips it, a reviewer accepts, fixes or rejects it
// (with a comment). In a queue, the server answers with the next frame, which is loaded in place.

import { $, api, cfg, parts, state } from "./context.js";
import { leaveFrame, loadFrame, stopLeaseTimer } from "./frames.js";
import { notice, setStatus } from "./panels.js";

/** What a reviewer's approval means: "fix" when the frame was changed here, else "accept". */
function approval() {
  return state.editedHere || parts.saver.dirty() ? "fix" : "accept";
}

function queueFinished() {
  stopLeaseTimer();
  notice(`Nothing left in this queue for you. <a href="${cfg.projectUrl}">Back to the project</a>`, "done");
  setStatus("saved", "Queue finished");
}

/** The queue and its filters, sent with every decision so the server can pick the next frame. */
function queueBody() {
  return { queue: cfg.queue, next: !!cfg.queue, ...cfg.filters };
}

async function afterDecision(res) {
  if (!res.ok) {
    notice(`Not done: ${res.data && res.data.detail ? res.data.detail : res.status}`, "warn");
    return;
  }
  if (res.data.next) {
    await loadFrame(res.data.next.frame, { push: true });
  } else if (cfg.queue) {
    await loadFrame(state.frameId);
    queueFinished();
  } else {
    await loadFrame(state.frameId);
    notice(`Frame is now ${res.data.status}.`, "done");
  }
}

export async function decide(decision, comment = "") {
  if (!cfg.canDecide) {
    notice("Only reviewers decide on frames.", "warn");
    return;
  }
  if (!(await leaveFrame({ save: true }))) return;
  const res = await api.call("POST", `frames/${state.frameId}/decision/`, { decision, comment, ...queueBody() });
  await afterDecision(res);
}

export function accept() {
  return decide(approval());
}

export async function submit() {
  if (cfg.decisionQueue && cfg.canDecide) return decide(approval());
  if (!(await leaveFrame({ save: true }))) return;
  const res = await api.call("POST", `frames/${state.frameId}/submit/`, queueBody());
  await afterDecision(res);
}

export async function skip() {
  if (!(await leaveFrame())) return;
  const res = await api.call("POST", `frames/${state.frameId}/lease/skip/`, queueBody());
  if (!res.ok) return notice(`Not skipped: ${res.data && res.data.detail}`, "warn");
  if (res.data.next) await loadFrame(res.data.next.frame, { push: true });
  else if (cfg.queue) queueFinished();
  else notice("Skipped: this frame will not be offered to you again.");
}

export function openReject() {
  if (!cfg.canDecide) return notice("Only reviewers decide on frames.", "warn");
  $("reject-comment").value = "";
  $("reject-dialog").showModal();
  $("reject-comment").focus();
}

export async function confirmReject() {
  const comment = $("reject-comment").value.trim();
  if (!comment) {
    $("reject-comment").setAttribute("aria-invalid", "true");
    return;
  }
  $("reject-dialog").close();
  await decide("reject", comment);
}
