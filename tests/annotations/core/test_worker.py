"""Jobs through a real Celery worker process on a real Redis broker, against the test database."""

import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings

from annotations.models import Frame, Job
from tests.conftest import CORRECT_IMAGES, CORRECT_JSON, DATASET, ROOT, api_client, needs_dataset

pytestmark = [pytest.mark.worker, needs_dataset]


def database_url_of(connection) -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db.get("PASSWORD") else "")
    host = db["HOST"] or "localhost"
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    """A `celery worker` subprocess on its own queue; the Celery app publishes to that queue."""
    from django.db import connection

    from webapp.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    broker = django_settings.CELERY_BROKER_URL
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]  # imports by server path: checked here and in the worker
    env = {**os.environ, "DATABASE_URL": database_url_of(connection), "CELERY_BROKER_URL": broker,
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "POSEREVIEW_DEV": "1", "PYTHONUNBUFFERED": "1",
           "POSEREVIEW_IMPORT_ROOTS": str(DATASET)}
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queue, "--pool", "solo",
                             "--loglevel", "INFO"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    old_queue, old_eager = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    yield proc
    app.conf.task_default_queue, app.conf.task_always_eager = old_queue, old_eager
    stop_worker(proc, log, 20)


def stop_worker(proc: subprocess.Popen, log, timeout: float) -> None:
    """Stop a worker subprocess (killing it if it does not exit within `timeout` s) and close its log."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(job_id: int, timeout: float = 120, until=None, every: float = 0.3) -> Job:
    """Poll the job row every `every` s until `until(job)` (default: the job finished); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    job = None
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if (until or (lambda j: j.is_finished))(job):
            return job
        time.sleep(every)
    raise AssertionError(f"job {job_id} did not get there in {timeout}s; last state {job.status} {job.message!r}")


def test_import_split_and_export_jobs_run_through_a_real_worker(worker, project, users):
    client = api_client(users["pi"])
    response = client.post(f"/api/projects/{project.slug}/jobs/",
                           {"kind": "import", "annotation_path": str(CORRECT_JSON), "images_dir": str(CORRECT_IMAGES),
                            "form_label": "correct"}, format="multipart")
    assert response.status_code == 202, response.content
    job = wait_for(response.json()["id"])
    assert job.status == "succeeded", (job.message, job.traceback)
    assert job.result["annotated"] == 102 and job.progress == 1.0 and job.started_at and job.finished_at
    assert Frame.objects.filter(project=project, annotations__isnull=False).distinct().count() == 102

    response = client.post(f"/api/projects/{project.slug}/jobs/", {"kind": "split", "params": {"seed": 3}},
                           format="json")
    split = wait_for(response.json()["id"])
    assert split.status == "succeeded" and split.result["split_version"] == 1

    response = client.post(f"/api/projects/{project.slug}/jobs/",
                           {"kind": "export", "params": {"format": "coco", "subsets": ["test"]}}, format="json")
    export = wait_for(response.json()["id"])
    assert export.status == "succeeded", export.traceback
    status = client.get(f"/api/jobs/{export.pk}/").json()
    assert status["download_url"] == f"/api/jobs/{export.pk}/download/"
    body = b"".join(client.get(status["download_url"]).streaming_content)
    import json

    exported = json.loads(body)
    assert len(exported["annotations"]) == export.result["counts"]["test"]["annotations"] > 0


def test_a_failing_job_ends_failed_with_its_message_through_the_worker(worker, project, users):
    client = api_client(users["pi"])
    response = client.post(f"/api/projects/{project.slug}/jobs/",
                           {"kind": "export", "params": {"format": "coco", "subsets": ["train"]}}, format="json")
    job = wait_for(response.json()["id"])
    assert job.status == "failed"
    assert "no split yet" in job.message
