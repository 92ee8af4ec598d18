"""Moving frames imported in place into media storage, so that workers on other machines can read them.

A frame referenced in place keeps only `source_path`, a file on the importing host. Moving it uploads
that file into media storage and sets `image` (and clears `source_path`); the frame keeps its id, so
its annotations, predictions and revisions are untouched. The work goes in batches, each its own
transaction holding its frames' rows: a failed or cancelled batch rolls back and deletes what it uploaded,
batches already done stay done, and running it again continues with the frames still in place
(idempotent, resumable). A file that cannot be read is listed and its frame left in place.
"""

from __future__ import annotations

import hashlib
import os

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from annotations.core.pruning import hold_reuse_lock
from annotations.core.storage import STORAGE_PREFIX
from annotations.models import Frame, Project

BATCH_SIZE = 200


def in_place_frames(project: Project):
    """The project's frames whose pixels are a file referenced in place (not in media storage)."""
    return Frame.objects.filter(project=project, image="").exclude(source_path="")


def _digest(fh) -> str:
    return hashlib.file_digest(fh, "sha256").hexdigest()


def _leftover(name: str, local, size: int) -> bool:
    """Whether `name` holds exactly the bytes of open file `local`, uploaded by an earlier run that stopped
    before its commit, and belongs to no frame: then it is reused instead of uploaded again."""
    if not default_storage.exists(name) or Frame.objects.filter(image=name).exists():
        return False
    if default_storage.size(name) != size:
        return False
    with default_storage.open(name, "rb") as stored:
        same = _digest(stored) == _digest(local)
    local.seek(0)
    return same


class Unreadable(Exception):
    """The frame's in-place file cannot be read here."""


def _upload(frame: Frame, slug: str, uploaded: list[str]) -> str:
    """The storage name holding the frame's in-place file (uploaded now, or already there).

    Only reading the source fails as Unreadable; a failing store fails the whole batch."""
    if frame.source_path.startswith(STORAGE_PREFIX):  # already a stored object, only named the old way
        return frame.source_path[len(STORAGE_PREFIX):]
    name = f"frames/{slug}/{frame.file_name}"
    try:
        fh = open(frame.source_path, "rb")
        size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise Unreadable(exc.strerror or str(exc)) from exc
    with fh:
        if _leftover(name, fh, size):
            return name
        name = default_storage.save(name, File(fh))
    uploaded.append(name)
    return name


def _move_batch(project: Project, after: int, batch_size: int, problems: list[dict]) -> tuple[int, int]:
    """Move the next batch of in-place frames with ids above `after`: (frames moved, last id seen; 0 at the end)."""
    uploaded: list[str] = []
    try:
        with transaction.atomic():
            hold_reuse_lock(shared=True)  # prune_media must not delete a leftover this batch reuses
            frames = list(in_place_frames(project).filter(pk__gt=after).order_by("pk")
                          .select_for_update()[:batch_size])
            moved = []
            for frame in frames:
                try:
                    frame.image.name = _upload(frame, project.slug, uploaded)
                except Unreadable as exc:
                    problems.append({"frame": frame.pk, "file_name": frame.file_name, "path": frame.source_path,
                                     "reason": f"{exc}; the frame stays in place"})
                    continue
                frame.source_path = ""
                moved.append(frame)
            Frame.objects.bulk_update(moved, ["image", "source_path"])
    except BaseException:
        for name in uploaded:  # the rows rolled back: the objects they would have named go too
            default_storage.delete(name)
        raise
    return len(moved), (frames[-1].pk if frames else 0)


def store_in_place_frames(project: Project, *, batch_size: int = BATCH_SIZE, job=None) -> dict:
    """Move every in-place frame of `project` into media storage; returns counts and the frames left."""
    report = job.report if job else (lambda *a, **k: None)
    total = in_place_frames(project).count()
    moved, after = 0, 0
    problems: list[dict] = []
    report(0.0, f"{total} frames referenced in place")
    while True:
        count, after = _move_batch(project, after, batch_size, problems)
        if not after:
            break
        moved += count
        # After the batch's commit: a cancel here keeps the batches done, and a new run continues.
        report(moved / max(total, 1), f"moved {moved} of {total} frames into media storage")
    left = len(problems)
    message = f"moved {moved} frames into media storage" + (
        f"; {left} could not be read and stay in place (listed under problems)" if left else "")
    if job is not None:
        job.message = message
    report(1.0, message)
    return {"frames_in_place": total, "moved": moved, "left_in_place": left, "problems": problems[:1000]}
