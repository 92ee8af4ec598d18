"""Media on an S3-compatible object store (a real SeaweedFS server, tests/s3server.py): uploads, frames,
exports and model files land in the bucket, jobs read them back through the storage (mlcore through the
local read cache), and the local MEDIA_ROOT stays empty."""

import io
import json
import os
import subprocess
import sys
import zipfile

import pytest

from tests.annotations.learning.test_learning_jobs import register_models, tiny_model_dirs  # noqa: F401
from tests.conftest import DATASET, LUMBAR_IMAGES, LUMBAR_JSON, api_client, needs_dataset
from tests.s3server import bucket_keys, local_files, object_bytes, s3_media, s3_server  # noqa: F401

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def storage_settings(**env) -> dict:
    """STORAGES["default"] as webapp/settings.py builds it from an environment (a fresh interpreter)."""
    script = "import json, django; from django.conf import settings; django.setup(); " \
             "print(json.dumps(settings.STORAGES['default']))"
    keep = {k: v for k, v in os.environ.items() if not k.startswith("POSEREVIEW_S3_")}
    out = subprocess.run([sys.executable, "-c", script], env={**keep, "DJANGO_SETTINGS_MODULE": "webapp.settings",
                                                              **env}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_environment_chooses_the_object_store_or_the_file_system():
    assert storage_settings() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    s3 = storage_settings(POSEREVIEW_S3_ENDPOINT_URL="http://s3:8333", POSEREVIEW_S3_BUCKET="media",
                          POSEREVIEW_S3_ACCESS_KEY="ak", POSEREVIEW_S3_SECRET_KEY="sk")
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    assert {k: s3["OPTIONS"][k] for k in ("endpoint_url", "bucket_name", "access_key", "secret_key",
                                          "addressing_style", "file_overwrite")} == {
        "endpoint_url": "http://s3:8333", "bucket_name": "media", "access_key": "ak", "secret_key": "sk",
        "addressing_style": "path", "file_overwrite": False}


def test_local_copy_downloads_an_object_once_into_the_cache(s3_media):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from annotations.core.storage import forget_copy, local_copy, storage_path

    name = default_storage.save("frames/demo/a.jpg", ContentFile(b"pixels"))
    assert storage_path(name) is None
    assert bucket_keys(s3_media) == [name]
    copy = local_copy(name)
    assert copy.read_bytes() == b"pixels" and s3_media["cache"] in copy.parents
    # The second call is served from the cache: the object is gone from the bucket, the copy is not.
    s3_media["client"].delete_object(Bucket=s3_media["bucket"], Key=f"{s3_media['location']}/{name}")
    assert local_copy(name) == copy and copy.read_bytes() == b"pixels"
    forget_copy(name)
    assert not copy.exists()
    assert local_files(s3_media["media_root"]) == []


def test_training_jobs_link_frames_from_the_workers_cache_downloading_each_once(s3_media):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from annotations.learning.data import linked_images

    name = default_storage.save("frames/demo/b.jpg", ContentFile(b"frame pixels"))
    data = {"images": [{"id": 7, "file_name": "clip_1/b.jpg"}], "_paths": {7: f"storage:{name}"}}
    with linked_images(data) as folder:
        linked = folder / "clip_1" / "b.jpg"
        assert linked.read_bytes() == b"frame pixels" and s3_media["cache"] in linked.resolve().parents
    # The next job finds the frame in the cache: the bucket is not read again.
    s3_media["client"].delete_object(Bucket=s3_media["bucket"], Key=f"{s3_media['location']}/{name}")
    with linked_images(data) as folder:
        assert (folder / "clip_1" / "b.jpg").read_bytes() == b"frame pixels"
    assert not folder.exists()
    assert local_files(s3_media["media_root"]) == []


@pytest.fixture
def eager_jobs(settings):
    from webapp.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@needs_dataset
def test_import_export_and_predict_jobs_run_with_media_only_in_the_bucket(
        s3_media, project, users, settings, eager_jobs, tiny_model_dirs, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.core.jobs import run_job
    from annotations.datasets import splitting
    from annotations.models import Frame, Job, Prediction

    media_root = s3_media["media_root"]
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    pi = api_client(users["pi"])

    # Import: the COCO file is uploaded into the bucket, the frames are copied there, the upload removed.
    with django_capture_on_commit_callbacks(execute=True):
        r = pi.post("/api/projects/demo/jobs/", {
            "kind": "import", "file": SimpleUploadedFile("lumbar.json", LUMBAR_JSON.read_bytes()),
            "images_dir": str(LUMBAR_IMAGES), "copy_images": "true", "form_label": "lumbar_error"},
            format="multipart")
    assert r.status_code == 202, r.content
    job = Job.objects.get(pk=r.json()["id"])
    assert job.status == "succeeded", (job.message, job.traceback)
    every = list(Frame.objects.filter(project=project).order_by("id"))
    frames = [f for f in every if f.image]  # the demo file names a few images its folder lacks
    assert len(frames) >= 0.9 * len(every) > 0 and not any(f.source_path for f in every)
    assert all(f.image.name.startswith("frames/demo/") for f in frames)
    keys = set(bucket_keys(s3_media))
    assert {f.image.name for f in frames} <= keys
    assert not [k for k in keys if k.startswith("uploads/")]
    first = frames[0]
    stored = object_bytes(s3_media, first.image.name)
    assert stored == (LUMBAR_IMAGES / first.file_name).read_bytes()
    # The web app serves a frame's pixels from the bucket.
    r = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{first.pk}/image/")
    assert r.status_code == 200 and b"".join(r.streaming_content) == stored

    # Export with images: the zip is built from the bucket's frames, stored in the bucket, downloadable.
    splitting.create_split(project, user=users["pi"])
    with django_capture_on_commit_callbacks(execute=True):
        r = pi.post("/api/projects/demo/jobs/", {"kind": "export", "params": {
            "format": "coco", "subsets": ["all"], "include_images": True}}, format="json")
    assert r.status_code == 202, r.content
    export = Job.objects.get(pk=r.json()["id"])
    assert export.status == "succeeded", (export.message, export.traceback)
    assert export.result_file.name in bucket_keys(s3_media, "jobs/")
    r = pi.get(f"/api/jobs/{export.pk}/download/")
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))) as zf:
        images = [n for n in zf.namelist() if n.startswith("images/")]
        assert len(images) == export.result["images_copied"] == export.result["images"] > 0
        assert zf.read(f"images/all/{first.file_name}") == stored

    # Predict: the model files live in the bucket; mlcore reads model and frames through local copies.
    versions = register_models(project, tiny_model_dirs, users["pi"])
    model_keys = bucket_keys(s3_media, "models/")
    assert versions["keypoints"].checkpoint.name in model_keys and versions["form"].onnx.name in model_keys
    clip = first.clip.key
    predict = Job.objects.create(project=project, kind="predict", params={"clips": [clip], "then_score": False},
                                 created_by=users["reviewer"])
    run_job(predict.pk)
    predict.refresh_from_db()
    assert predict.status == "succeeded", (predict.message, predict.traceback)
    in_clip = Frame.objects.filter(project=project, clip__key=clip).count()
    assert predict.result["frames"] == in_clip == Prediction.objects.filter(frame__clip__key=clip).count() > 0

    # Nothing of any job landed in the local media folder.
    assert local_files(media_root) == []


@needs_dataset
def test_a_video_uploaded_in_chunks_extracts_into_the_bucket(s3_media, project, users, eager_jobs, tmp_path,
                                                             django_capture_on_commit_callbacks):
    from annotations.models import Frame, Job, Video
    from tests.annotations.video.video_builders import barbell_frames, write_video

    video_bytes = write_video(tmp_path / "set.mp4", barbell_frames(4)).read_bytes()
    pi = api_client(users["pi"])
    r = pi.post("/api/projects/demo/video-uploads/", {"file_name": "set.mp4", "size": len(video_bytes)},
                format="json")
    assert r.status_code == 201, r.content
    url = f"/api/projects/demo/video-uploads/{r.json()['id']}/"
    offset = 0
    while offset < len(video_bytes):  # the parts grow in the web host's media cache, not in MEDIA_ROOT
        r = pi.generic("PATCH", url, video_bytes[offset:offset + 30_000],
                       content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET=str(offset))
        assert r.status_code == 200, r.content
        offset = r.json()["offset"]
    assert any(p.name == "data" for p in (s3_media["cache"] / "uploads" / "video-parts").rglob("*"))
    with django_capture_on_commit_callbacks(execute=True):
        r = pi.post(url + "complete/", {"mode": "every", "every": 1, "clip": "53001_4"}, format="json")
    assert r.status_code == 202, r.content
    job = Job.objects.get(pk=r.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, (job.message, job.traceback)
    video = Video.objects.get()
    keys = set(bucket_keys(s3_media))
    assert video.file.name in keys
    assert object_bytes(s3_media, video.file.name) == video_bytes
    frames = list(Frame.objects.filter(project=project))
    assert len(frames) == 4
    assert all(f.image.name in keys and f.thumbnail.name in keys for f in frames)
    assert not [k for k in keys if k.startswith("uploads/")]
    assert not list((s3_media["cache"] / "uploads" / "video-parts").rglob("data"))
    assert local_files(s3_media["media_root"]) == []


@needs_dataset
def test_a_retrain_reads_frames_from_the_bucket_and_stores_its_models_there(s3_media, project, users):
    from annotations.datasets.importing import import_coco_file
    from annotations.models import ModelVersion
    from tests.annotations.learning.test_learning_jobs import retrain
    from tests.conftest import CORRECT_IMAGES, CORRECT_JSON

    import_coco_file(project, CORRECT_JSON, images_dir=CORRECT_IMAGES, form_label="correct", copy_images=True)
    import_coco_file(project, LUMBAR_JSON, images_dir=LUMBAR_IMAGES, form_label="lumbar_error", copy_images=True)
    job = retrain(project, users["pi"])
    kp = ModelVersion.active(project, "keypoints")
    assert kp is not None and kp.job_id == job.pk and kp.metrics["keypoints"]["gt_instances"] > 0
    keys = set(bucket_keys(s3_media, "models/"))
    assert kp.checkpoint.name in keys and kp.onnx.name in keys
    assert local_files(s3_media["media_root"]) == []
