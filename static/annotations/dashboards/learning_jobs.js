// Live progress of the learning jobs on the models page; reloads once one finishes so that new
// model versions, promotions and queue changes show.

import { pollJob } from "../jobs/poller.js";

function showIn(row) {
  return (job) => {
    const status = row.querySelector(".job-status");
    status.textContent = job.status;
    status.className = `job-status status-${job.status}`;
    row.querySelector(".job-progress").value = job.progress;
    row.querySelector(".job-message").textContent = job.message;
  };
}

const running = Array.from(document.querySelectorAll("#learning-job-table tr[data-job]"))
  .filter((row) => row.dataset.finished === "0");

let reloading = false;
for (const row of running) {
  pollJob(row.dataset.url, { onUpdate: showIn(row), first: 800, every: 1500 }).then(() => {
    row.dataset.finished = "1";
    if (reloading) return;
    reloading = true;
    setTimeout(() => window.location.reload(), 800);
  });
}
