"""Resumable video uploads: a file arrives in chunks at known offsets and survives a dropped connection.

The protocol (tus-like, over plain HTTP):
    begin(file name, size)       -> upload id, offset 0
    append(id, offset, bytes)    -> new offset; refused (OffsetMismatch, with the server's offset)
                                    unless `offset` is where the stored part ends
    state(id)                    -> offset so far (a client that lost its connection asks this,
                                    then sends the rest from there)
    finish(id)                   -> the complete file as an upload for the extraction job

Parts live under uploads/video-parts/<id>/ (data + meta.json) of the media folder on disk storage,
so any web process sharing the media volume can take the next chunk. Appending needs a local file:
with media on an object store the parts are kept in the web host's media cache folder
(POSEREVIEW_MEDIA_CACHE, which every web process of the host must share), and `finish` uploads the
complete file into the store.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.http import Http404, UnreadablePostError

from annotations.core.errors import InputError
from annotations.core.storage import cache_root, storage_path
from annotations.video.naming import check_video_file_name

PARTS = "uploads/video-parts"
MAX_CHUNK_BYTES = 64 * 1024 * 1024
# What browsers are told to send per request: small enough that a retry after a drop costs little.
CHUNK_BYTES = 8 * 1024 * 1024
# An upload nobody continued for this long is abandoned; begin() sweeps such parts away.
ABANDONED_AFTER_S = 2 * 24 * 3600
_BLOCK = 1 << 20


class OffsetMismatch(InputError):
    """A chunk that does not start where the stored part ends; `offset` is the server's."""

    def __init__(self, offset: int, sent: int):
        super().__init__(f"this upload is at byte {offset:,}, the chunk starts at byte {sent:,}; "
                         f"send the rest from byte {offset:,}")
        self.offset = offset


@dataclass
class Upload:
    id: str
    project: str
    user_id: int
    file_name: str
    size: int
    offset: int = 0
    created: float = 0.0

    @property
    def complete(self) -> bool:
        return self.offset >= self.size

    def as_dict(self) -> dict:
        return {"id": self.id, "file_name": self.file_name, "size": self.size, "offset": self.offset,
                "complete": self.complete, "chunk_size": CHUNK_BYTES}


def parts_root() -> str:
    """The local folder of the parts: in the media folder on disk storage, else in the media cache."""
    return storage_path(PARTS) or str(cache_root() / PARTS)


def _folder(upload_id: str) -> str:
    return os.path.join(parts_root(), upload_id)


def begin(project, user, file_name: str, size) -> Upload:
    """Start an upload of `size` bytes of `file_name` (a video file name) into `project`."""
    check_video_file_name(file_name)
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise InputError("'size' (the file's size in bytes) is required") from None
    if size <= 0:
        raise InputError(f"{file_name}: the file is empty")
    if size > settings.POSEREVIEW_MAX_UPLOAD_BYTES:
        raise InputError(f"{file_name}: {size:,} bytes exceeds the upload limit of "
                         f"{settings.POSEREVIEW_MAX_UPLOAD_BYTES:,} bytes")
    sweep_abandoned()
    upload = Upload(id=uuid.uuid4().hex, project=project.slug, user_id=user.pk,
                    file_name=os.path.basename(file_name)[:200], size=size, created=time.time())
    folder = _folder(upload.id)
    os.makedirs(folder)  # parents too (the root appears with the first upload)
    open(os.path.join(folder, "data"), "wb").close()
    with open(os.path.join(folder, "meta.json"), "w") as fh:
        json.dump(asdict(upload), fh)
    return upload


def state(project, user, upload_id: str) -> Upload:
    """The upload with its current offset; Http404 for an unknown id or someone else's upload."""
    if not upload_id.isalnum() or len(upload_id) != 32:
        raise Http404("No such upload.")
    folder = _folder(upload_id)
    try:
        with open(os.path.join(folder, "meta.json")) as fh:
            upload = Upload(**json.load(fh))
        upload.offset = os.path.getsize(os.path.join(folder, "data"))
    except (OSError, ValueError, TypeError):
        raise Http404("No such upload (it may have expired).") from None
    if upload.project != project.slug or upload.user_id != user.pk:
        raise Http404("No such upload.")
    return upload


def append(project, user, upload_id: str, offset, stream, length: int | None) -> Upload:
    """Write a chunk read from `stream` at `offset`. Bytes that arrived before a connection dropped
    stay written, so the client resumes from whatever `state` reports."""
    upload = state(project, user, upload_id)
    try:
        offset = int(offset)
    except (TypeError, ValueError):
        raise InputError("the 'Upload-Offset' header (where this chunk starts) is required") from None
    if length is not None and length > MAX_CHUNK_BYTES:
        raise InputError(f"chunks may be at most {MAX_CHUNK_BYTES:,} bytes")
    path = os.path.join(_folder(upload_id), "data")
    with open(path, "ab") as fh:
        # One writer per upload: a retried chunk racing a slow original must not interleave.
        fcntl.flock(fh, fcntl.LOCK_EX)
        current = os.path.getsize(path)
        if offset != current:
            raise OffsetMismatch(current, offset)
        remaining = upload.size - current
        if length is not None and length > remaining:
            raise InputError(f"the chunk is {length:,} bytes but only {remaining:,} are left of {upload.file_name}")
        wanted = remaining if length is None else length
        while wanted > 0:
            try:
                block = stream.read(min(_BLOCK, wanted))
            except (OSError, UnreadablePostError):
                break  # the client went away mid-chunk: keep what arrived, it resumes from there
            if not block:
                break
            fh.write(block[:wanted])
            fh.flush()
            wanted -= len(block)
        upload.offset = fh.tell()
    return upload


def finish(project, user, upload_id: str) -> tuple[str, str]:
    """Hand the complete file over as an upload: (storage name under uploads/, original file name)."""
    upload = state(project, user, upload_id)
    if not upload.complete:
        raise InputError(f"{upload.file_name} is not complete: {upload.offset:,} of {upload.size:,} bytes arrived")
    name = f"uploads/{uuid.uuid4().hex}/{upload.file_name}"
    data = os.path.join(_folder(upload_id), "data")
    target = storage_path(name)
    if target is None:  # object store: upload the assembled file
        with open(data, "rb") as fh:
            name = default_storage.save(name, File(fh))
    else:
        os.makedirs(os.path.dirname(target))
        os.replace(data, target)
    shutil.rmtree(_folder(upload_id), ignore_errors=True)
    return name, upload.file_name


def discard(project, user, upload_id: str) -> None:
    state(project, user, upload_id)
    shutil.rmtree(_folder(upload_id), ignore_errors=True)


def sweep_abandoned(now: float | None = None) -> int:
    """Remove parts nobody added to for ABANDONED_AFTER_S; returns how many went."""
    root = parts_root()
    now = now or time.time()
    removed = 0
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    for entry in entries:
        data = os.path.join(entry.path, "data")
        try:
            last = os.path.getmtime(data if os.path.exists(data) else entry.path)
        except OSError:
            continue
        if now - last > ABANDONED_AFTER_S:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed
