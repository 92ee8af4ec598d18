"""prune_media: media objects that nothing refers to go (only with --delete, only when old enough), on
local disk storage and on a real S3 server (tests/s3server.py); referenced objects and uploads/ stay."""

import io
import json
import os
import threading
import time
from datetime import datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from tests.s3server import bucket_keys, s3_media, s3_server  # noqa: F401

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

DAY = 24 * 3600


def prune_media(*args) -> tuple[list[dict], dict]:
    out = io.StringIO()
    call_command("prune_media", *args, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return lines[:-1], lines[-1]["summary"]


def save(name: str, data: bytes = b"x") -> str:
    return default_storage.save(name, ContentFile(data))


def referenced_media(project) -> list[str]:
    """A frame with image and thumbnail, a model version's file and a job's result file: their names."""
    from annotations.models import Clip, Frame, Job, ModelVersion

    clip = Clip.objects.create(project=project, key="c1")
    frame = Frame.objects.create(project=project, clip=clip, file_name="a.jpg", width=4, height=4,
                                 image=save("frames/demo/a.jpg", b"image"),
                                 thumbnail=save("thumbnails/demo/a.jpg", b"thumb"))
    version = ModelVersion.objects.create(project=project, kind="keypoints", number=1)
    version.onnx.save("model.onnx", ContentFile(b"onnx"))
    job = Job.objects.create(project=project, kind="export")
    job.result_file.save(f"{job.pk}/export.json", ContentFile(b"{}"))
    return [frame.image.name, frame.thumbnail.name, version.onnx.name, job.result_file.name]


def age(root, seconds: float, *names: str) -> None:
    """Set the modification time of the files under `root` (all, or `names`) `seconds` back."""
    then = time.time() - seconds
    paths = [root / n for n in names] if names else [p for p in root.rglob("*") if p.is_file()]
    for p in paths:
        os.utime(p, (then, then))


def test_dry_run_lists_old_unreferenced_objects_and_delete_removes_only_them(project, media_in_tmp):
    from annotations.models import Clip, Frame

    kept = referenced_media(project)
    assert kept[2].startswith("models/demo/") and kept[3].startswith("jobs/")
    lost = save("frames/demo/lost.jpg", b"lost")
    also_lost = save("models/demo/keypoints-v9/model.onnx", b"old model")
    upload = save("uploads/0a1b/in.json")
    outside = save("elsewhere/x.txt")
    # A frame merged in place on disk points at another project's stored file by its path.
    other = type(project).create("other", "Other", "coco17_spine")
    by_path = save("frames/gone/b.jpg")
    Frame.objects.create(project=other, clip=Clip.objects.create(project=other, key="c"), file_name="b.jpg",
                         width=4, height=4, source_path=default_storage.path(by_path))
    age(media_in_tmp, 2 * DAY)
    fresh = save("frames/demo/fresh.jpg", b"in flight")

    orphans, summary = prune_media()
    assert {o["name"] for o in orphans} == {lost, also_lost}
    assert {o["name"]: o["size"] for o in orphans} == {lost: 4, also_lost: 9}
    assert all(timezone.now() - datetime.fromisoformat(o["modified"]) > timedelta(days=1) for o in orphans)
    assert summary == {"orphans": 2, "bytes": 13, "kept_recent": 1, "deleted": 0,
                       "prefixes": ["frames/", "jobs/", "models/", "thumbnails/", "videos/"]}
    assert all(default_storage.exists(n) for n in [*kept, lost, also_lost, fresh, upload, outside, by_path])

    orphans, summary = prune_media("--delete")
    assert {o["name"]: o["deleted"] for o in orphans} == {lost: True, also_lost: True}
    assert summary["deleted"] == 2 and summary["kept_recent"] == 1
    assert not default_storage.exists(lost) and not default_storage.exists(also_lost)
    assert all(default_storage.exists(n) for n in [*kept, fresh, upload, outside, by_path])

    age(media_in_tmp, 2 * DAY, fresh)  # its work never committed: once old enough it goes too
    orphans, summary = prune_media("--delete", "--older-than", "36")
    assert [o["name"] for o in orphans] == [fresh] and not default_storage.exists(fresh)


def test_prefix_narrows_the_walk_and_never_reaches_uploads(project, media_in_tmp):
    in_frames, in_thumbs = save("frames/demo/x.jpg"), save("thumbnails/demo/x.jpg")
    save("uploads/1/x.jpg")
    age(media_in_tmp, 2 * DAY)
    orphans, summary = prune_media("--prefix", "thumbnails/demo")
    assert [o["name"] for o in orphans] == [in_thumbs] and summary["prefixes"] == ["thumbnails/demo/"]
    assert {o["name"] for o in prune_media("--older-than", "0")[0]} == {in_frames, in_thumbs}
    for bad in ("uploads/", "elsewhere", "frames/../uploads"):
        with pytest.raises(CommandError, match="not inside a folder that FileFields own"):
            prune_media("--prefix", bad)


@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_delete_waits_for_a_store_frames_batch_that_reuses_a_leftover(project, media_in_tmp, tmp_path, monkeypatch):
    """A rerun of store_frames reuses a killed run's object (old, unreferenced) inside its batch transaction:
    prune_media, having listed that object as an orphan, waits for the batch and then keeps it."""
    from annotations.core import pruning
    from annotations.datasets import storing
    from annotations.models import Clip, Frame

    source = tmp_path / "import" / "a.jpg"
    source.parent.mkdir()
    source.write_bytes(b"pixels")
    leftover = save("frames/demo/a.jpg", b"pixels")
    age(media_in_tmp, 2 * DAY)
    Frame.objects.create(project=project, clip=Clip.objects.create(project=project, key="c"),
                         file_name="a.jpg", width=4, height=4, source_path=str(source))
    done: dict = {}

    def run_prune():
        try:
            done["summary"] = pruning.prune(delete=True)
        finally:
            connections.close_all()

    def leftover_then_prune(name, local, size):
        reuse = real_leftover(name, local, size)
        pruner.start()  # after the batch chose to reuse the object, before it commits
        deadline = time.monotonic() + 30
        with connection.cursor() as cur:
            while time.monotonic() < deadline and pruner.is_alive():
                cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                if cur.fetchone()[0]:
                    return reuse  # prune waits for the batch's lock
                time.sleep(0.05)
        pytest.fail("prune_media went on without waiting for the store_frames batch")

    pruner = threading.Thread(target=run_prune)
    real_leftover = storing._leftover
    monkeypatch.setattr(storing, "_leftover", leftover_then_prune)
    assert storing.store_in_place_frames(project)["moved"] == 1
    pruner.join(30)
    assert Frame.objects.get().image.name == leftover and default_storage.exists(leftover)
    assert done["summary"]["orphans"] == 1 and done["summary"]["deleted"] == 0


def test_on_s3_a_killed_store_frames_leaves_orphans_that_delete_removes_and_nothing_else(s3_media, project):
    """kill -9 between store_frames' upload and its commit: objects under frames/<slug>/ that no Frame names."""
    from annotations.core import pruning
    from annotations.core.storage import local_copy

    kept = referenced_media(project)
    killed = [save(f"frames/demo/killed-{i}.jpg", b"pixels %d" % i) for i in range(3)]
    local_copy(killed[0])  # a worker cached it: the cached copy goes with the object
    upload = save("uploads/0a1b/in.json")
    assert sorted(bucket_keys(s3_media)) == sorted([*kept, *killed, upload])

    orphans, summary = prune_media("--delete")  # just written: within the grace period
    assert orphans == [] and summary["kept_recent"] == 3 and summary["deleted"] == 0
    assert sorted(bucket_keys(s3_media)) == sorted([*kept, *killed, upload])

    later = pruning.prune(now=timezone.now() + timedelta(hours=25))  # a day on (S3 times cannot be set)
    assert later["orphans"] == 3 and later["kept_recent"] == 0 and later["deleted"] == 0
    assert sorted(bucket_keys(s3_media)) == sorted([*kept, *killed, upload])

    orphans, summary = prune_media("--delete", "--older-than", "0")
    assert sorted(o["name"] for o in orphans) == sorted(killed) and all(o["deleted"] for o in orphans)
    assert summary["deleted"] == 3 and summary["bytes"] == sum(len(b"pixels %d" % i) for i in range(3))
    assert sorted(bucket_keys(s3_media)) == sorted([*kept, upload])
    assert not any(p.is_file() for p in s3_media["cache"].rglob("*"))
