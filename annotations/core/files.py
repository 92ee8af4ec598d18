"""Uploads kept for a job, and a local path for any storage file (atomic output files: core/atomic.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.files.storage import default_storage

from annotations.core.errors import InputError
from annotations.core.storage import forget_copy, storage_path


def save_upload(upload) -> tuple[str, str]:
    """Store an uploaded file under uploads/<id>/; returns (storage name, its local path on disk storage, else
    the storage name again) for the job that reads it (core/storage.py local_copy) and removes it."""
    if upload.size > settings.POSEREVIEW_MAX_UPLOAD_BYTES:
        raise InputError(f"{upload.name}: {upload.size:,} bytes exceeds the upload limit of "
                         f"{settings.POSEREVIEW_MAX_UPLOAD_BYTES:,} bytes")
    name = default_storage.save(f"uploads/{uuid.uuid4().hex}/{os.path.basename(upload.name)}", upload)
    return name, storage_path(name) or name


def remove_upload(name: str | None) -> None:
    """Delete an upload and its per-upload folder (uploads/<id>/), once its job ran, whatever the outcome."""
    if not name or not name.startswith("uploads/"):
        return
    if default_storage.exists(name):
        default_storage.delete(name)
    forget_copy(name)
    try:
        os.rmdir(default_storage.path(name.rsplit("/", 1)[0]))
    except (OSError, NotImplementedError):
        pass


@contextmanager
def local_file(name: str) -> Iterator[str]:
    """A local path for a storage file: the file itself on disk storage, else a temporary copy."""
    try:
        yield default_storage.path(name)
        return
    except NotImplementedError:
        pass
    suffix = os.path.splitext(name)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp, default_storage.open(name, "rb") as src:
        shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.flush()
        yield tmp.name
