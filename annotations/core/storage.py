"""Media storage as local files: the storage's own path on disk storage, else a cached download.

Everything that writes media goes through Django's default storage (the file system under MEDIA_ROOT,
or an S3-compatible object store, webapp/settings.py). Code that needs a file on disk (mlcore, video
decoding, zip readers) asks `local_copy` for one: on an object store the object is downloaded once
into POSEREVIEW_MEDIA_CACHE (atomically, so concurrent workers never see half a file) and reused.
Storage names are never overwritten (S3 file_overwrite is off; disk storage picks a free name), so
a cached copy stays valid for as long as its object exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

# Marks a storage name where a local path would otherwise be (frames on an object store).
STORAGE_PREFIX = "storage:"


def local_image(path: str) -> str:
    """A local path for a frame's pixels given as a path or as STORAGE_PREFIX + storage name."""
    if path.startswith(STORAGE_PREFIX):
        return str(local_copy(path[len(STORAGE_PREFIX):]))
    return path


def storage_path(name: str) -> str | None:
    """The file's own local path when the storage keeps files on disk, else None."""
    try:
        return default_storage.path(name)
    except NotImplementedError:
        return None


def is_local() -> bool:
    """Whether the default storage keeps files on this machine's disk."""
    return storage_path("x") is not None


def cache_root() -> Path:
    return Path(settings.POSEREVIEW_MEDIA_CACHE or Path(tempfile.gettempdir()) / "posereview-media-cache")


def _cache_file(name: str) -> Path:
    """Where the cached copy of storage object `name` lives: per storage location, then per name."""
    options: dict = dict(settings.STORAGES["default"].get("OPTIONS") or {})
    where = f"{options.get('endpoint_url', '')}/{options.get('bucket_name', '')}/{options.get('location', '')}"
    digest = hashlib.sha256(f"{where}\x00{name}".encode()).hexdigest()
    base = os.path.basename(name)[-80:]
    return cache_root() / digest[:2] / f"{digest[2:26]}-{base}"


def local_copy(name: str) -> Path:
    """A local file with the content of storage file `name` (the file itself on disk storage)."""
    own = storage_path(name)
    if own is not None:
        return Path(own)
    target = _cache_file(name)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, default_storage.open(name, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def forget_copy(name: str) -> None:
    """Drop the cached copy of `name` (after the object was deleted)."""
    if storage_path(name) is None:
        _cache_file(name).unlink(missing_ok=True)


STORE_FRAMES_FIX = ("move the project's in-place frames into media storage (`python manage.py store_frames {slug}`, "
                    "or a store_frames job), or mount that folder at the same path on every worker")


def in_place_refusal() -> str | None:
    """Why an import may not reference images in place here (None: it may).

    Frames in place stay on the importing host's disk; with media on an object store, workers on other
    machines read frames only from the store, so such frames would be unreadable to them.
    """
    if settings.POSEREVIEW_IN_PLACE_IMPORTS == "shared" or is_local():
        return None
    return ("images cannot be referenced in place while media live on an object store "
            "(POSEREVIEW_S3_ENDPOINT_URL): workers on other machines could not read them. Copy them into media "
            "storage (copy_images, or --copy-images), or set POSEREVIEW_IN_PLACE_IMPORTS=shared when every worker "
            "mounts the import folders at the same path")


def unreadable_frames_message(missing: list[tuple[int, str, str]], slug: str) -> str:
    """What a worker says of frames whose files it cannot read: (frame id, file name, path) each."""
    shown = "; ".join(f"frame {pk} ({name}) at {path}" for pk, name, path in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return (f"{len(missing)} frame(s) cannot be read on this worker ({socket.gethostname()}): {shown}{more}. "
            "Frames imported in place stay on the importing host's disk. Fix: " + STORE_FRAMES_FIX.format(slug=slug))
