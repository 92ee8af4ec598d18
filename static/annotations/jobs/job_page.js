// The job page: follows the job and updates it in place; reloads once when it ends, so the server renders
// its readable result (links to what it made) and any traceback.

import { pollJob } from "./poller.js";

const $ = (id) => document.getElementById(id);

function show(job) {
  $("job-status").textContent = job.status;
  $("job-status").className = `status-${job.status}`;
  $("job-progress").value = job.progress;
  $("job-message").textContent = job.message;
}

function showResult(job) {
  $("job-result").textContent = JSON.stringify(job.result, null, 2);
  if (job.download_url) $("job-download").hidden = false;
  window.location.reload(); // the summary, its links and the traceback are rendered by the server
}

const box = $("job");
if (box && box.dataset.finished !== "1") {
  pollJob(box.dataset.url, { onUpdate: show, first: 500, every: 1000, retry: 3000 }).then(showResult);
}
