"""Import, export and predict through a real Celery worker whose MEDIA_ROOT is an empty folder and
whose storage settings come from POSEREVIEW_S3_* (as on another host): everything it reads and writes
goes through the SeaweedFS server (tests/s3server.py)."""

import io
import os
import shutil
import subprocess
import sys
import uuid
import zipfile

import pytest
from django.conf import settings as django_settings

from annotations.models import Frame, Prediction
from tests.annotations.core.test_in_place_frames_on_s3 import small_task  # noqa: F401
from tests.annotations.core.test_worker import database_url_of, stop_worker, wait_for
from tests.annotations.learning.test_learning_jobs import register_models, tiny_model_dirs  # noqa: F401
from tests.conftest import DATASET, LUMBAR_IMAGES, LUMBAR_JSON, ROOT, api_client, needs_dataset
from tests.s3server import ACCESS_KEY, SECRET_KEY, bucket_keys, local_files, object_bytes, s3_media, s3_server  # noqa: F401

pytestmark = [pytest.mark.worker, needs_dataset]

TIMEOUT = 300


@pytest.fixture
def s3_worker(transactional_db, s3_media, settings, tmp_path):
    """A worker subprocess on its own queue (default and ml jobs alike), configured only by environment:
    the S3 endpoint, bucket, keys and folder of `s3_media`, an empty MEDIA_ROOT and a cache of its own."""
    from django.db import connection

    from webapp.celery import app

    queue = f"test-s3-{uuid.uuid4().hex[:8]}"
    worker_media, worker_cache = tmp_path / "worker-media-root", tmp_path / "worker-cache"
    worker_media.mkdir()
    env = {**os.environ, "DATABASE_URL": database_url_of(connection),
           "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL, "POSEREVIEW_DEV": "1", "PYTHONUNBUFFERED": "1",
           "MEDIA_ROOT": str(worker_media), "POSEREVIEW_MEDIA_CACHE": str(worker_cache),
           "POSEREVIEW_ML_QUEUE": queue,
           "POSEREVIEW_IMPORT_ROOTS": str(DATASET),
           "POSEREVIEW_S3_ENDPOINT_URL": s3_media["endpoint"], "POSEREVIEW_S3_BUCKET": s3_media["bucket"],
           "POSEREVIEW_S3_ACCESS_KEY": ACCESS_KEY, "POSEREVIEW_S3_SECRET_KEY": SECRET_KEY,
           "POSEREVIEW_S3_LOCATION": s3_media["location"]}
    log = open(tmp_path / "worker.log", "w")
    script = ("from webapp.celery import app; "
              f"app.conf.task_default_queue = {queue!r}; "
              f"app.worker_main(['worker', '-Q', {queue!r}, '--pool', 'solo', '--loglevel', 'INFO'])")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    settings.POSEREVIEW_ML_QUEUE = queue
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    saved = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    yield {"media_root": worker_media, "cache": worker_cache}
    app.conf.task_default_queue, app.conf.task_always_eager = saved
    stop_worker(proc, log, 30)


def test_import_export_and_predict_run_on_a_worker_with_an_empty_media_root(s3_worker, s3_media, project, users,
                                                                           tiny_model_dirs):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.datasets import splitting

    pi = api_client(users["pi"])
    r = pi.post("/api/projects/demo/jobs/", {
        "kind": "import", "file": SimpleUploadedFile("lumbar.json", LUMBAR_JSON.read_bytes()),
        "images_dir": str(LUMBAR_IMAGES), "copy_images": "true", "form_label": "lumbar_error"}, format="multipart")
    assert r.status_code == 202, r.content
    job = wait_for(r.json()["id"], TIMEOUT)
    assert job.status == "succeeded", (job.message, job.traceback)
    frames = list(Frame.objects.filter(project=project).exclude(image="").order_by("id"))
    assert frames and {f.image.name for f in frames} <= set(bucket_keys(s3_media, "frames/"))
    assert not bucket_keys(s3_media, "uploads/")

    splitting.create_split(project, user=users["pi"])
    r = pi.post("/api/projects/demo/jobs/", {"kind": "export", "params": {
        "format": "coco", "subsets": ["all"], "include_images": True}}, format="json")
    assert r.status_code == 202, r.content
    export = wait_for(r.json()["id"], TIMEOUT)
    assert export.status == "succeeded", (export.message, export.traceback)
    r = pi.get(f"/api/jobs/{export.pk}/download/")
    with zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))) as zf:
        assert zf.read(f"images/all/{frames[0].file_name}") == object_bytes(s3_media, frames[0].image.name)

    register_models(project, tiny_model_dirs, users["pi"])  # model files into the bucket, from this process
    clip = frames[0].clip.key
    r = api_client(users["reviewer"]).post("/api/projects/demo/learning/predict/", {
        "params": {"clips": [clip], "then_score": False}}, format="json")
    assert r.status_code == 202, r.content
    predict = wait_for(r.json()["id"], TIMEOUT)
    assert predict.status == "succeeded", (predict.message, predict.traceback)
    assert predict.result["frames"] == Prediction.objects.filter(frame__clip__key=clip).count() > 0
    # The worker fetched the model from the bucket into its own cache; neither media folder holds anything.
    assert any(p.name == "model.onnx" for p in (s3_worker["cache"] / "models").rglob("*"))
    assert local_files(s3_worker["media_root"]) == [] and local_files(s3_media["media_root"]) == []


@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])  # store_frames reports progress
def test_a_worker_reads_in_place_frames_once_stored_and_names_them_until_then(s3_worker, s3_media, project, users,
                                                                              settings, small_task, tiny_model_dirs):
    from django.core.management import call_command

    from tests.annotations.core.test_in_place_frames_on_s3 import import_in_place

    settings.POSEREVIEW_IN_PLACE_IMPORTS = "shared"
    import_in_place(project, small_task)
    register_models(project, tiny_model_dirs, users["pi"])
    first = Frame.objects.filter(project=project).order_by("id").first()
    clip = first.clip.key
    reviewer = api_client(users["reviewer"])

    def predict():
        r = reviewer.post("/api/projects/demo/learning/predict/", {"params": {"clips": [clip], "then_score": False}},
                          format="json")
        assert r.status_code == 202, r.content
        return wait_for(r.json()["id"], TIMEOUT)

    # The worker sees the importing host's folder as missing: the job fails naming the frames and the fix.
    hidden = small_task.with_name("elsewhere")
    small_task.rename(hidden)
    job = predict()
    assert job.status == "failed", (job.message, job.traceback)
    assert f"frame {first.pk} ({first.file_name}) at {first.source_path}" in job.message
    assert "python manage.py store_frames demo" in job.message and not job.traceback
    assert not Prediction.objects.exists()

    hidden.rename(small_task)
    call_command("store_frames", "demo")
    shutil.rmtree(small_task)
    job = predict()
    assert job.status == "succeeded", (job.message, job.traceback)
    assert job.result["frames"] == Prediction.objects.filter(frame__clip__key=clip).count() > 0
    assert local_files(s3_worker["media_root"]) == [] and local_files(s3_media["media_root"]) == []
