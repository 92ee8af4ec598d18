// Following a background job (import, export, retrain, interpolate, ...) through its REST
// endpoint until it finishes. Every page that shows a running job polls through here.

import { fetchJson } from "../common/http.js";

export const FINISHED_STATUSES = new Set(["succeeded", "failed", "cancelled"]);

export function isFinished(job) {
  return !!job && FINISHED_STATUSES.has(job.status);
}

export function jobUrl(id) {
  return `/api/jobs/${id}/`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls url until the job finishes and resolves with the finished job. onUpdate(job) hears every
 * answer, the last (finished) one included. first: wait before the first request (ms); every:
 * wait between answers; retry: wait after a failed request (an error status or no network),
 * which is tried again rather than given up, since a job outlives a server restart.
 */
export async function pollJob(url, { onUpdate = () => {}, first = 0, every = 1000, retry = every } = {}) {
  await sleep(first);
  for (;;) {
    const res = await fetchJson(url).catch(() => null);
    if (res && res.ok && res.data) {
      onUpdate(res.data);
      if (isFinished(res.data)) return res.data;
      await sleep(every);
    } else {
      await sleep(retry);
    }
  }
}
