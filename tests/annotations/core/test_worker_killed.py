"""A real Celery worker killed (SIGKILL) in the middle of an import: the job ends failed on its own, with no
rows left behind, and the import runs again."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings as django_settings

from annotations.core.jobs import reap_stale_jobs, start_job
from annotations.models import Annotation, Frame, Job
from tests.annotations.core.test_worker import database_url_of, stop_worker, wait_for
from tests.conftest import ROOT

pytestmark = [pytest.mark.worker]

FRAMES = 30000


def big_coco(path, names) -> None:
    kp = [v for k in range(len(names)) for v in (100.0 + 10 * k, 200.0 + 5 * k, 2)]
    data = {"categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}],
            "images": [{"id": i + 1, "file_name": f"clip{i // 100}_{i % 100:05d}.jpg", "width": 640, "height": 480}
                       for i in range(FRAMES)],
            "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1, "keypoints": kp,
                             "num_keypoints": len(names), "bbox": [90, 190, 200, 100], "area": 20000, "iscrowd": 0}
                            for i in range(FRAMES)]}
    path.write_text(json.dumps(data))


@pytest.fixture
def killable_worker(transactional_db, settings, tmp_path):
    """Start worker subprocesses (beating every 0.5 s) on a queue of this test; yields a starter."""
    from django.db import connection

    from webapp.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url_of(connection),
           "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL, "MEDIA_ROOT": str(settings.MEDIA_ROOT),
           "POSEREVIEW_DEV": "1", "PYTHONUNBUFFERED": "1", "POSEREVIEW_IMPORT_ROOTS": str(tmp_path),
           "POSEREVIEW_JOB_HEARTBEAT_SECONDS": "0.5"}
    settings.POSEREVIEW_IMPORT_ROOTS = [str(tmp_path)]
    settings.POSEREVIEW_JOB_STALE_SECONDS = 3
    started = []

    def start():
        log = open(tmp_path / f"worker-{len(started)}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queue, "--pool",
                                 "solo", "--loglevel", "INFO"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        started.append((proc, log))
        return proc

    old_queue, old_eager = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    yield start
    app.conf.task_default_queue, app.conf.task_always_eager = old_queue, old_eager
    for proc, log in started:
        stop_worker(proc, log, 20)


def test_a_worker_killed_mid_import_leaves_a_failed_job_no_rows_and_the_import_runs_again(
        killable_worker, project, users, tmp_path):
    path = tmp_path / "big.json"
    big_coco(path, list(project.get_skeleton().keypoints)[:17])
    worker = killable_worker()
    job = start_job(project, Job.Kind.IMPORT, {"annotation_path": str(path)}, users["pi"])
    # Polled closely: on a fast machine the writing phase (progress 0.2 until the commit) lasts about a second.
    seen = wait_for(job.pk, 120, until=lambda j: j.is_finished or (j.status == "running" and j.progress >= 0.2),
                    every=0.02)
    assert seen.status == "running", f"the import ended ({seen.status}) before it could be killed"
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not reap_stale_jobs():  # what the beat task does every minute
        time.sleep(0.5)
    job.refresh_from_db()
    assert job.status == "failed" and "worker stopped while running this job" in job.message
    assert not Frame.objects.filter(project=project).exists()
    assert not Annotation.objects.filter(project=project).exists()

    killable_worker()
    again = start_job(project, Job.Kind.IMPORT, {"annotation_path": str(path)}, users["pi"])
    again = wait_for(again.pk, 180)
    assert again.status == "succeeded", (again.message, again.traceback)
    assert Frame.objects.filter(project=project).count() == FRAMES
