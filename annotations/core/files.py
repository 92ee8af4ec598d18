"""Files every feature writes or reads: atomic output files (a temporary file beside the target,
renamed into place), uploads kept for a job, and a local path for any storage file."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from annotations.core.errors import InputError


@contextmanager
def atomic_path(out_path: str | os.PathLike):
    """Yields a temporary path in the target's folder; on success it is renamed to `out_path`,
    on any error it is removed. Readers never see a half-written file."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".tmp-", suffix=out_path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_zip(out_path: str | os.PathLike):
    """Yields an open ZipFile that lands at `out_path` only when the block completes."""
    with atomic_path(out_path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        yield zf


def save_upload(upload) -> tuple[str, str]:
    """Store an uploaded file under uploads/<id>/; returns (storage name, local path) for the job that removes it."""
    if upload.size > settings.POSEREVIEW_MAX_UPLOAD_BYTES:
        raise InputError(f"{upload.name}: {upload.size:,} bytes exceeds the upload limit of "
                         f"{settings.POSEREVIEW_MAX_UPLOAD_BYTES:,} bytes")
    name = default_storage.save(f"uploads/{uuid.uuid4().hex}/{os.path.basename(upload.name)}", upload)
    return name, default_storage.path(name)


def remove_upload(name: str | None) -> None:
    """Delete an upload and its per-upload folder (uploads/<id>/), once its job ran, whatever the outcome."""
    if not name or not name.startswith("uploads/"):
        return
    if default_storage.exists(name):
        default_storage.delete(name)
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
