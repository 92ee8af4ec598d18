"""The loop through a real Celery worker on Redis: retrain -> predict -> score changes the queue order;
cancelling a running retrain from the API."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings as django_settings

from annotations.models import Frame, Job, ModelVersion, Prediction, Queue, QueueItem
from annotations.review import queues
from tests.annotations.core.test_worker import database_url_of, stop_worker, wait_for
from tests.annotations.learning.test_learning_jobs import TINY_FORM, TINY_KEYPOINTS
from tests.conftest import ROOT, api_client, needs_dataset

pytestmark = [pytest.mark.worker, needs_dataset]

ML_TIMEOUT = 300  # seconds for a training or prediction job on a loaded machine
POOL_CLIPS = ["52916_12", "52930_2", "53055_1", "53079_6"]


@pytest.fixture
def ml_worker(transactional_db, settings, tmp_path):
    """A Celery worker subprocess on its own queue, to which default and ml tasks are sent (from here and
    from the worker itself)."""
    from django.db import connection

    from webapp.celery import app

    queue = f"test-ml-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url_of(connection),
           "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "POSEREVIEW_DEV": "1", "PYTHONUNBUFFERED": "1",
           "POSEREVIEW_ML_QUEUE": queue}
    log = open(tmp_path / "worker.log", "w")
    # Jobs queue follow-up jobs from inside the worker (retrain -> predict -> score): its own app must
    # send them to this test's queue too, never to the shared `ml` queue another checkout's worker reads.
    script = ("from webapp.celery import app; "
              f"app.conf.task_default_queue = {queue!r}; "
              f"app.worker_main(['worker', '-Q', {queue!r}, '--pool', 'solo', '--loglevel', 'INFO'])")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    settings.POSEREVIEW_ML_QUEUE = queue
    saved = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    yield proc
    app.conf.task_default_queue, app.conf.task_always_eager = saved
    stop_worker(proc, log, 30)


def open_order(project) -> list[int]:
    return list(QueueItem.objects.filter(project=project, queue=Queue.UNCERTAIN, done_at__isnull=True)
                .order_by("-priority", "id").values_list("frame_id", flat=True))


def test_retrain_then_predict_then_score_through_a_worker_changes_the_queue_order(ml_worker, imported, users):
    pool = list(Frame.objects.filter(project=imported, clip__key__in=POOL_CLIPS).order_by("id")
                .values_list("id", flat=True))
    # The queue before: frames in id order, as if nobody had scored them yet.
    queues.set_priorities(imported, Queue.UNCERTAIN, {f: -i for i, f in enumerate(pool)})
    before = open_order(imported)
    assert before == pool

    client = api_client(users["pi"])
    response = client.post("/api/projects/demo/learning/retrain/", {"params": {
        "keypoint_config": TINY_KEYPOINTS, "form_config": TINY_FORM, "predict": {"clips": POOL_CLIPS}}},
        format="json")
    assert response.status_code == 202, response.content
    retrain = wait_for(response.json()["id"], ML_TIMEOUT)
    assert retrain.status == "succeeded", (retrain.message, retrain.traceback)
    assert retrain.result["models"]["keypoints"]["promoted"] and retrain.result["next_job_kind"] == "predict"
    kp = ModelVersion.active(imported, "keypoints")
    assert kp.job_id == retrain.pk and kp.onnx and kp.metrics["keypoints"]["gt_instances"] > 0

    predict = wait_for(retrain.result["next_job"], ML_TIMEOUT)
    assert predict.status == "succeeded", (predict.message, predict.traceback)
    assert predict.result["frames"] == len(pool) == Prediction.objects.filter(model_version=kp).count()
    score = wait_for(predict.result["next_job"], ML_TIMEOUT)
    assert score.status == "succeeded", (score.message, score.traceback)
    assert score.result["model_version"] == kp.label and score.result["uncertain"]["frames"] == len(pool)

    after = open_order(imported)
    assert sorted(after) == sorted(before) and after != before
    top = QueueItem.objects.get(project=imported, queue=Queue.UNCERTAIN, frame_id=after[0])
    assert top.signals["rank"] == f"1 of {len(pool)}" and top.signals["model"] == kp.label
    assert after[:2 * len(POOL_CLIPS)] == score.result["uncertain"]["top"][:2 * len(POOL_CLIPS)][:len(after[:8])]
    # Every job of the chain ran on the worker and reported its progress to the end.
    for job in (retrain, predict, score):
        assert job.progress == 1.0 and job.started_at and job.finished_at and job.celery_task_id


def test_a_running_retrain_is_cancelled_from_the_api(ml_worker, imported, users):
    client = api_client(users["pi"])
    slow = {**TINY_KEYPOINTS, "epochs": 200, "patience": 200}
    response = client.post("/api/projects/demo/learning/retrain/", {"params": {"keypoint_config": slow}},
                           format="json")
    job_id = response.json()["id"]
    wait_for(job_id, 240, until=lambda j: j.status == "running" and j.progress > 0.03 or j.is_finished)
    cancel = client.post(f"/api/jobs/{job_id}/cancel/")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    # The worker notices within an epoch and gives up the project's retrain lock.
    deadline = time.monotonic() + 120
    while ModelVersion.objects.filter(project=imported, status="training").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    job = Job.objects.get(pk=job_id)
    assert job.status == "cancelled" and job.finished_at
    assert set(ModelVersion.objects.filter(project=imported).values_list("status", flat=True)) == {"failed"}
    assert ModelVersion.active(imported, "keypoints") is None
    assert job.progress < 0.9
