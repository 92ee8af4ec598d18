"""A disk store of each frame's backbone crops, so a retrain over frames seen before skips the backbone.

A retrain's cost on CPU is the frozen backbone run on every crop (``training.build_cache``); the
heads train in seconds per epoch. The crops of a frame depend only on its pixels, its person box,
the crop settings and the model files, never on where its keypoints lie, so they are stored per
frame under a key of exactly those inputs and the targets are recomputed from the current labels
(a person moving a point does not invalidate anything; a new box does).

Layout: ``<root>/<key[:2]>/<key>.npz`` (``FrameCrops``' arrays). ``root`` is ``$MLCORE_CROP_STORE``,
else ``$MLCORE_CACHE_DIR/blazepose-crops``, unless given. The store is pruned to ``max_bytes`` (default
``$MLCORE_CROP_CACHE_MB``, else 4096 MB; 0 switches the store off) by least recent use: a hit touches its
file. Writes go through
a temporary file and a rename, so concurrent retrains at worst compute the same entry twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..files import atomic_path

# The HeadTrainConfig fields that change which crops are cut: for the box/detector/fallback crops, and
# (with those) for the jittered ones.
BASE_SETTINGS = ("min_presence", "box_roi", "box_rotation", "track")
AUGMENT_SETTINGS = (*BASE_SETTINGS, "variants", "scale", "shift", "rotation", "rotation_prob", "flip", "colour",
                    "seed")
FORMAT = 1  # bump when FrameCrops or the cropping rules change


@dataclass
class FrameCrops:
    """The crops of one frame (m of them), without targets.

    features (m, 48, 64, 64) float16; matrices (m, 2, 3) image -> crop pixels (of the mirrored frame
    where ``flipped``); kind (m,) training.BOX | DETECTOR | AUGMENTED | FALLBACK; duplicate (m,);
    flipped (m,); landmarks (m, 39, 5) BlazePose's landmarks in image pixels (zeros for augmented
    crops); presence (m,).
    """

    features: npt.NDArray[np.float16]
    matrices: npt.NDArray[np.float64]
    kind: npt.NDArray[np.int64]
    duplicate: npt.NDArray[np.bool_]
    flipped: npt.NDArray[np.bool_]
    landmarks: npt.NDArray[np.float64]
    presence: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def stack(cls, rows: list[dict[str, Any]]) -> FrameCrops:
        """From per-crop dicts with one value per field."""
        return cls(**{f.name: np.stack([np.asarray(r[f.name]) for r in rows]) if rows else _empty(f.name)
                      for f in fields(cls)})


def _empty(name: str) -> npt.NDArray[Any]:
    shapes = {"features": (0, 48, 64, 64), "matrices": (0, 2, 3), "landmarks": (0, 39, 5)}
    dtypes = {"features": np.float16, "kind": np.int64, "duplicate": np.bool_, "flipped": np.bool_}
    return np.zeros(shapes.get(name, (0,)), dtype=dtypes.get(name, np.float64))


def frame_key(image: npt.NDArray[np.uint8], box: npt.ArrayLike, settings: dict[str, Any], model_id: str,
              part: str) -> str:
    """sha256 of the frame's pixels and shape, its box (to 0.01 px), the crop settings, the model files' id
    and ``part`` ("base": box/detector/fallback crops, "augmented": the jittered ones)."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "shape": list(image.shape), "part": part, "model": model_id,
                         "box": [round(float(v), 2) for v in np.asarray(box, dtype=np.float64).ravel()],
                         "settings": {k: settings.get(k) for k in (BASE_SETTINGS if part == "base"
                                                                   else AUGMENT_SETTINGS)}},
                        sort_keys=True, default=list).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def default_root() -> Path:
    from .torch_builder import cache_dir

    env = os.environ.get("MLCORE_CROP_STORE")
    return Path(env) if env else cache_dir() / "blazepose-crops"


def default_max_bytes() -> int:
    return int(float(os.environ.get("MLCORE_CROP_CACHE_MB", "4096")) * 2**20)


def default_store() -> CropStore:
    """The store under ``default_root()``, or a disabled one when ``$MLCORE_CROP_CACHE_MB`` is 0."""
    limit = default_max_bytes()
    return CropStore(default_root() if limit > 0 else None, limit)


class CropStore:
    """Frame crops on disk by key; ``None`` root disables the store (every lookup misses, nothing is written)."""

    def __init__(self, root: str | os.PathLike[str] | None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> FrameCrops | None:
        if self.root is None:
            self.misses += 1
            return None
        path = self._path(key)
        try:
            with np.load(path) as z:
                crops = FrameCrops(**{f.name: z[f.name] for f in fields(FrameCrops)})
            os.utime(path)  # least recently used goes first when pruning
        except (OSError, KeyError, ValueError):  # absent, or a damaged entry: recompute it
            self.misses += 1
            return None
        self.hits += 1
        return crops

    def put(self, key: str, crops: FrameCrops) -> None:
        if self.root is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **crops.__dict__)

    def prune(self) -> int:
        """Delete least recently used entries until the store holds at most ``max_bytes``; returns files deleted."""
        if self.root is None or not self.root.is_dir():
            return 0
        entries = []
        for path in self.root.glob("*/*.npz"):
            try:
                st = path.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed
