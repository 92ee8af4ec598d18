// Live progress of the learning jobs on the models page; reloads once one finishes so that new
// model versions, promotions and queue changes show.
(function () {
  "use strict";
  const rows = Array.from(document.querySelectorAll("#learning-job-table tr[data-job]"))
    .filter((row) => row.dataset.finished === "0");
  if (!rows.length) return;
  const finished = new Set(["succeeded", "failed", "cancelled"]);
  async function poll() {
    let done = false;
    for (const row of rows) {
      if (row.dataset.finished === "1") continue;
      const response = await fetch(row.dataset.url, { credentials: "same-origin" });
      if (!response.ok) continue;
      const job = await response.json();
      const status = row.querySelector(".job-status");
      status.textContent = job.status;
      status.className = "job-status status-" + job.status;
      row.querySelector(".job-progress").value = job.progress;
      row.querySelector(".job-message").textContent = job.message;
      if (finished.has(job.status)) {
        row.dataset.finished = "1";
        done = true;
      }
    }
    if (done) return setTimeout(() => window.location.reload(), 800);
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 800);
})();
