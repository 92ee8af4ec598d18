// Resumable video upload: the file goes up in chunks at the server's offset, so a dropped
// connection (or a reload, choosing the same file again) continues where the server got to.
// Protocol: the video API (POST video-uploads/, PATCH video-uploads/<id>/ with Upload-Offset,
// GET video-uploads/<id>/ for the offset, POST video-uploads/<id>/complete/ to start extraction).
// Extraction runs as a job: the browser moves on to that job's page, which follows it.

import { csrfToken, detailOf, fetchJson } from "../common/http.js";

const box = document.getElementById("video-upload");
const slug = box ? box.dataset.slug : (document.querySelector("[data-slug]") || { dataset: {} }).dataset.slug;
const api = `/api/projects/${slug}`;
const MAX_RETRY_DELAY_S = 30;

const jobPage = (job) => `/jobs/${job.id}/`;

function options(form) {
  const data = new FormData(form);
  const out = { mode: data.get("mode") || "all" };
  if (out.mode === "every") out.every = data.get("every");
  if (out.mode === "fps") out.fps = data.get("fps");
  if (data.get("clip")) out.clip = data.get("clip");
  if (data.get("preannotate")) out.preannotate = true;
  return out;
}

function humanBytes(n) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// One chunk by XHR (fetch has no upload progress). Resolves with the server's offset.
function sendChunk(upload, blob, offset, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", `${api}/video-uploads/${upload.id}/`);
    xhr.setRequestHeader("Upload-Offset", String(offset));
    xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.onprogress = (e) => onProgress(offset + e.loaded);
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: the status decides
      }
      if (xhr.status === 200 || xhr.status === 409) resolve(body.offset);
      else if (xhr.status >= 400 && xhr.status < 500) reject(Object.assign(new Error(body.detail || xhr.statusText), { fatal: true }));
      else reject(new Error(`server answered ${xhr.status}`));
    };
    xhr.onerror = () => reject(new Error("connection lost"));
    xhr.ontimeout = () => reject(new Error("the server did not answer in time"));
    xhr.timeout = 120000;
    xhr.send(blob);
  });
}

async function startOrResume(file) {
  const key = `posereview-upload:${slug}:${file.name}:${file.size}:${file.lastModified}`;
  const known = localStorage.getItem(key);
  if (known) {
    const res = await fetchJson(`${api}/video-uploads/${known}/`);
    if (res.ok) return { upload: res.data, key };
    localStorage.removeItem(key);
  }
  const res = await fetchJson(`${api}/video-uploads/`, { method: "POST", body: { file_name: file.name, size: file.size } });
  if (!res.ok) throw Object.assign(new Error(detailOf(res, "the upload was refused")), { fatal: true });
  localStorage.setItem(key, res.data.id);
  return { upload: res.data, key };
}

async function upload(form) {
  const file = document.getElementById("upload-file").files[0];
  if (!file) return;
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const button = document.getElementById("upload-start");
  document.getElementById("upload-progress-box").hidden = false;
  button.disabled = true;
  const show = (sent, note) => {
    bar.value = file.size ? sent / file.size : 1;
    status.textContent = `${humanBytes(sent)} of ${humanBytes(file.size)} (${Math.floor(100 * bar.value)} %)${note ? " · " + note : ""}`;
  };
  try {
    const { upload, key } = await startOrResume(file);
    let offset = upload.offset;
    let failures = 0;
    if (offset > 0) show(offset, "resuming where the server got to");
    while (offset < file.size) {
      try {
        offset = await sendChunk(upload, file.slice(offset, offset + upload.chunk_size), offset, (sent) => show(sent));
        failures = 0;
        show(offset);
      } catch (err) {
        if (err.fatal) throw err;
        failures += 1;
        const wait = Math.min(MAX_RETRY_DELAY_S, 2 ** failures);
        show(offset, `${err.message}; retrying in ${wait} s`);
        await new Promise((r) => setTimeout(r, wait * 1000));
        // Whatever part of the chunk arrived is kept: continue from the server's offset.
        const res = await fetchJson(`${api}/video-uploads/${upload.id}/`).catch(() => null);
        if (res && res.ok) offset = res.data.offset;
      }
    }
    status.textContent = "Upload complete; starting frame extraction...";
    const res = await fetchJson(`${api}/video-uploads/${upload.id}/complete/`, { method: "POST", body: options(form) });
    if (!res.ok) throw new Error(detailOf(res, "extraction could not start"));
    localStorage.removeItem(key);
    window.location.href = jobPage(res.data);
  } catch (err) {
    status.textContent = `Upload failed: ${err.message}`;
    status.classList.add("status-failed");
    button.disabled = false;
  }
}

const form = document.getElementById("upload-form");
if (form) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    upload(form);
  });
}

document.querySelectorAll("form.reextract").forEach((f) => f.addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await fetchJson(`${api}/videos/${f.dataset.video}/extract/`, { method: "POST", body: options(f) });
  if (res.ok) window.location.href = jobPage(res.data);
  else alert(detailOf(res, "extraction could not start"));
}));
