"""Frames imported in place with media on an object store (a real SeaweedFS server, tests/s3server.py):
the import refuses them unless the folders are shared, store_frames moves them into the bucket batch by
batch, and a worker that meets an in-place frame it cannot read says which frame and what to do."""

import json
import re
import shutil

import pytest
from django.core.management import CommandError, call_command

from annotations.core.errors import InputError
from tests.conftest import DATASET, LUMBAR_JSON, api_client, needs_dataset
from tests.s3server import bucket_keys, local_files, object_bytes, s3_media, s3_server  # noqa: F401

pytestmark = [pytest.mark.django_db(databases=["default", "jobstate"]), needs_dataset]

FRAMES = 24


@pytest.fixture
def small_task(tmp_path, settings):
    """The first FRAMES images of the lumbar task (and their annotations) in a folder the test may delete."""
    data = json.loads(LUMBAR_JSON.read_text())
    folder = tmp_path / "import-root" / "lumbar"
    (folder / "images").mkdir(parents=True)
    images = [im for im in data["images"] if (DATASET / "images" / "lumbar" / im["file_name"]).is_file()][:FRAMES]
    for im in images:
        shutil.copy(DATASET / "images" / "lumbar" / im["file_name"], folder / "images" / im["file_name"])
    ids = {im["id"] for im in images}
    data["images"], data["annotations"] = images, [a for a in data["annotations"] if a["image_id"] in ids]
    (folder / "lumbar.json").write_text(json.dumps(data))
    settings.POSEREVIEW_IMPORT_ROOTS = [str(tmp_path / "import-root")]
    return folder


def import_in_place(project, folder):
    from annotations.datasets.importing import import_coco_file

    return import_coco_file(project, folder / "lumbar.json", images_dir=folder / "images", form_label="lumbar_error")


def annotations_of(project) -> list[tuple]:
    from annotations.models import Annotation

    return list(Annotation.objects.filter(project=project).order_by("id").values_list(
        "id", "frame_id", "keypoints", "keypoint_states", "version", "updated_at"))


def test_an_in_place_import_is_refused_naming_the_setting_and_writes_nothing(s3_media, project, users,
                                                                              small_task):
    from annotations.models import Frame, Job

    r = api_client(users["pi"]).post("/api/projects/demo/jobs/", {
        "kind": "import", "annotation_path": str(small_task / "lumbar.json"),
        "images_dir": str(small_task / "images")}, format="json")
    assert r.status_code == 400, r.content
    detail = json.dumps(r.json())
    assert "POSEREVIEW_IN_PLACE_IMPORTS=shared" in detail and "copy_images" in detail
    assert not Job.objects.exists()
    # The job checks again (params written before the setting changed, or an import started elsewhere).
    with pytest.raises(InputError, match="POSEREVIEW_S3_ENDPOINT_URL"):
        import_in_place(project, small_task)
    assert not Frame.objects.exists() and bucket_keys(s3_media) == []


def test_the_page_import_form_refuses_in_place_and_offers_copying(s3_media, project, users, small_task, client):
    from django.contrib.messages import get_messages

    from annotations.models import Job

    client.force_login(users["pi"])
    page = client.get(f"/p/{project.slug}/").content.decode()  # the project page holds the import form
    assert "needed: media are on an object store" in page
    assert re.search(r'<input type="checkbox" name="copy_images"[^>]* checked', page)
    data = {"annotation_path": str(small_task / "lumbar.json"), "images_dir": str(small_task / "images")}
    response = client.post(f"/p/{project.slug}/jobs/import/", data)
    assert response.status_code == 302 and response["Location"] == f"/p/{project.slug}/"
    assert any("POSEREVIEW_IN_PLACE_IMPORTS" in str(m) for m in get_messages(response.wsgi_request))
    assert not Job.objects.exists()
    response = client.post(f"/p/{project.slug}/jobs/import/", {**data, "copy_images": "on"})
    assert response.status_code == 302 and response["Location"].startswith("/jobs/")
    assert Job.objects.get(kind="import").params["copy_images"] is True


def test_shared_folders_import_in_place_and_copying_uploads(s3_media, project, small_task, settings):
    from annotations.datasets.importing import import_coco_file
    from annotations.models import Frame

    settings.POSEREVIEW_IN_PLACE_IMPORTS = "shared"
    import_in_place(project, small_task)
    frames = list(Frame.objects.filter(project=project))
    assert len(frames) == FRAMES and all(f.source_path and not f.image for f in frames)
    assert bucket_keys(s3_media) == []

    settings.POSEREVIEW_IN_PLACE_IMPORTS = "auto"
    Frame.objects.all().delete()
    import_coco_file(project, small_task / "lumbar.json", images_dir=small_task / "images", copy_images=True)
    frames = list(Frame.objects.filter(project=project))
    assert len(frames) == FRAMES and not any(f.source_path for f in frames)
    assert sorted(f.image.name for f in frames) == sorted(bucket_keys(s3_media, "frames/"))


def test_store_frames_moves_in_place_frames_into_the_bucket_and_a_worker_reads_them_without_the_folder(
        s3_media, project, small_task, settings):
    from annotations.learning.data import frames_coco, linked_images
    from annotations.models import Frame, Job

    settings.POSEREVIEW_IN_PLACE_IMPORTS = "shared"
    import_in_place(project, small_task)
    before = {f.pk: f.file_name for f in Frame.objects.filter(project=project)}
    sources = {f.pk: (small_task / "images" / f.file_name).read_bytes() for f in Frame.objects.filter(project=project)}
    annotations = annotations_of(project)
    assert annotations

    call_command("store_frames", "demo", "--batch-size", "5")
    job = Job.objects.get(kind="store_frames")
    assert job.status == "succeeded" and job.progress == 1.0
    assert job.result == {"frames_in_place": FRAMES, "moved": FRAMES, "left_in_place": 0, "problems": []}
    frames = {f.pk: f for f in Frame.objects.filter(project=project)}
    assert {pk: f.file_name for pk, f in frames.items()} == before  # same ids, same frames
    assert not any(f.source_path for f in frames.values())
    assert sorted(f.image.name for f in frames.values()) == sorted(bucket_keys(s3_media, "frames/"))
    assert all(object_bytes(s3_media, f.image.name) == sources[pk] for pk, f in frames.items())
    assert annotations_of(project) == annotations

    # The source folder is gone; a worker reads every frame from the bucket through its cache.
    shutil.rmtree(small_task)
    with linked_images(frames_coco(project)) as folder:
        assert {pk: (folder / f.file_name).read_bytes() for pk, f in frames.items()} == sources
    assert local_files(s3_media["media_root"]) == []

    # Running it again finds nothing to do.
    call_command("store_frames", "demo")
    assert Job.objects.filter(kind="store_frames").latest("id").result["moved"] == 0


def test_a_failed_batch_leaves_nothing_half_done_and_a_second_run_finishes(s3_media, project, small_task, settings,
                                                                            monkeypatch):
    from django.core.files.storage import default_storage

    from annotations.datasets import storing
    from annotations.models import Frame, Job

    settings.POSEREVIEW_IN_PLACE_IMPORTS = "shared"
    import_in_place(project, small_task)
    calls = []

    class FailingStore:
        """The media storage, whose 13th upload (the third of the third batch) fails."""

        def __getattr__(self, name):
            return getattr(default_storage, name)

        def save(self, name, content, *args, **kwargs):
            calls.append(name)
            if len(calls) == 13:
                raise RuntimeError("the store went away")
            return default_storage.save(name, content, *args, **kwargs)

    monkeypatch.setattr(storing, "default_storage", FailingStore())
    with pytest.raises(CommandError, match="the store went away"):
        call_command("store_frames", "demo", "--batch-size", "5")
    stored = list(Frame.objects.filter(project=project).exclude(image=""))
    assert len(stored) == 10 and all(not f.source_path for f in stored)  # two whole batches, not a frame more
    assert sorted(bucket_keys(s3_media, "frames/")) == sorted(f.image.name for f in stored)
    assert Job.objects.get(kind="store_frames").status == "failed"

    monkeypatch.setattr(storing, "default_storage", default_storage)
    call_command("store_frames", "demo", "--batch-size", "5")
    assert Job.objects.filter(kind="store_frames").latest("id").result["moved"] == FRAMES - 10
    assert not Frame.objects.filter(project=project, image="").exists()
    assert len(bucket_keys(s3_media, "frames/")) == FRAMES


def test_an_unreadable_source_is_listed_and_its_frame_stays_in_place(s3_media, project, small_task, settings):
    from annotations.models import Frame, Job

    settings.POSEREVIEW_IN_PLACE_IMPORTS = "shared"
    import_in_place(project, small_task)
    lost = Frame.objects.filter(project=project).order_by("id")[3]
    (small_task / "images" / lost.file_name).unlink()
    with pytest.raises(CommandError, match="1 could not be read and stay in place"):
        call_command("store_frames", "demo")
    job = Job.objects.get(kind="store_frames")
    assert job.result["moved"] == FRAMES - 1 and job.result["left_in_place"] == 1
    assert [p["frame"] for p in job.result["problems"]] == [lost.pk]
    lost.refresh_from_db()
    assert lost.source_path and not lost.image


def test_a_worker_meeting_an_in_place_frame_it_cannot_read_names_the_frame_and_the_fix(s3_media, project,
                                                                                       small_task, settings):
    from annotations.datasets import exporting
    from annotations.learning.data import frames_coco, linked_images
    from annotations.models import Frame

    settings.POSEREVIEW_IN_PLACE_IMPORTS = "shared"
    import_in_place(project, small_task)
    first = Frame.objects.filter(project=project).order_by("id").first()
    shutil.rmtree(small_task)  # what another machine sees: the importing host's folder is not there
    with pytest.raises(InputError) as err:
        with linked_images(frames_coco(project)):
            pass
    message = str(err.value)
    assert f"{FRAMES} frame(s) cannot be read on this worker" in message
    assert f"frame {first.pk} ({first.file_name}) at {first.source_path}" in message
    assert "python manage.py store_frames demo" in message
    # An export with images leaves no frame out silently either.
    with pytest.raises(InputError, match=f"frame {first.pk} .*store_frames demo"):
        exporting.export(project, "yolo_pose", ["all"], include_images=True)
