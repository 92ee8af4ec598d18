// Polls a job's REST endpoint until it finishes and updates the page in place.
(function () {
  const box = document.getElementById("job");
  if (!box || box.dataset.finished === "1") return;
  const finished = new Set(["succeeded", "failed", "cancelled"]);
  async function poll() {
    const response = await fetch(box.dataset.url, { credentials: "same-origin" });
    if (!response.ok) return setTimeout(poll, 3000);
    const job = await response.json();
    document.getElementById("job-status").textContent = job.status;
    document.getElementById("job-status").className = "status-" + job.status;
    document.getElementById("job-progress").value = job.progress;
    document.getElementById("job-message").textContent = job.message;
    if (finished.has(job.status)) {
      document.getElementById("job-result").textContent = JSON.stringify(job.result, null, 2);
      if (job.download_url) document.getElementById("job-download").hidden = false;
      if (job.traceback) window.location.reload();
      return;
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
