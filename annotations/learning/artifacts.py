"""Model files: from a training run's model directory into Django storage, and back to a local folder.

Artifacts live in storage (S3-style storage can replace the disk); mlcore loads models from a
folder, so `local_model_dir` copies a version's files into a per-version cache folder once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File

from annotations.models import ModelVersion

# ModelVersion field -> file name inside an mlcore model directory.
FILES = {"checkpoint": "model.pt", "onnx": "model.onnx", "onnx_int8": "model.int8.onnx"}


def store_model_dir(version: ModelVersion, model_dir: Path) -> None:
    """Save model.pt / model.onnx / model.int8.onnx of `model_dir` into the version's file fields."""
    for field, name in FILES.items():
        path = Path(model_dir) / name
        if path.is_file():
            with open(path, "rb") as fh:
                getattr(version, field).save(name, File(fh), save=False)
    meta_path = Path(model_dir) / "model.json"
    if meta_path.is_file():
        version.meta = json.loads(meta_path.read_text())
    version.save()


def cache_root() -> Path:
    return Path(getattr(settings, "POSEREVIEW_MODEL_CACHE", "") or Path(tempfile.gettempdir()) / "posereview-models")


def local_model_dir(version: ModelVersion) -> Path:
    """A local mlcore model directory (model.json + the version's files), built once per content."""
    names = [getattr(version, f).name for f in FILES if getattr(version, f)]
    key = hashlib.sha1(json.dumps([str(settings.MEDIA_ROOT), version.pk, names]).encode()).hexdigest()[:16]
    folder = cache_root() / f"{version.pk}-{key}"
    if (folder / "model.json").is_file():
        return folder
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=_ensure(cache_root())))
    for field, name in FILES.items():
        f = getattr(version, field)
        if f:
            with f.open("rb") as src, open(tmp / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    meta = dict(version.meta or {})
    meta.setdefault("kind", version.kind)
    (tmp / "model.json").write_text(json.dumps(meta))
    try:
        os.replace(tmp, folder)
    except OSError:  # another process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
