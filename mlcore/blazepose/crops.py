"""Crops of the training frames through the frozen backbone: the cache the keypoint heads train on.

``build_cache`` cuts every frame several times (``HeadTrainConfig``: the box ROI, the detector's ROI,
the whole frame where the detector finds nobody, jittered copies of the box ROI for training frames),
runs the frozen backbone once per crop and keeps the (48, 64, 64) features as float16 with the
targets in heatmap cells. Each frame's crops go through a ``CropStore``: a retrain over frames seen
before reads them from disk instead of running the backbone again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from ..files import atomic_path
from ..training.common import ProgressFn, no_progress
from ..transforms import apply_affine
from .crop_store import CropStore, FrameCrops, frame_key
from .flip_test import MIRROR
from .head_config import HeadTrainConfig
from .heads import STRIDE
from .models import INPUT_SIZE
from .roi import Roi, crop_roi, warp_replicate

if TYPE_CHECKING:
    from ..skeletons import Skeleton
    from ..training.keypoint_common import KeypointSamples
    from .predictor import BlazePosePredictor, RoiResult

BOX, DETECTOR, AUGMENTED, FALLBACK = 0, 1, 2, 3


@dataclass
class CropCache:
    """Backbone outputs of M crops.

    features (M, 48, 64, 64) float16; points (M, K, 3) targets [x, y, v] in heatmap cells;
    matrices (M, 2, 3) image -> crop pixels (of the mirrored image where ``flipped``); sample (M,)
    index of the source frame; kind (M,) BOX | DETECTOR | AUGMENTED | FALLBACK (the whole frame as a box,
    for frames where the detector finds nobody or a pose presence < min_presence); duplicate (M,) True for a DETECTOR
    crop that is its frame's BOX crop (kept for evaluation, left out of training); flipped (M,) bool;
    landmarks (M, 39, 5) BlazePose's landmarks in image pixels (``RoiResult.landmarks39``; zeros for
    augmented crops); presence (M,) BlazePose's pose presence.
    """

    features: npt.NDArray[np.float16]
    duplicate: npt.NDArray[np.bool_]
    points: npt.NDArray[np.float64]
    matrices: npt.NDArray[np.float64]
    sample: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    flipped: npt.NDArray[np.bool_]
    landmarks: npt.NDArray[np.float64]
    presence: npt.NDArray[np.float64]

    def rows(self, samples: npt.ArrayLike,
             kinds: tuple[int, ...] = (BOX, DETECTOR, AUGMENTED, FALLBACK)) -> npt.NDArray[np.int64]:
        """Row indices of the crops of these frames and kinds."""
        keep = np.isin(self.sample, np.asarray(samples)) & np.isin(self.kind, kinds)
        return np.flatnonzero(keep)

    def training_rows(self, samples: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Rows to train on for these frames: every crop once (duplicate DETECTOR crops left out)."""
        return np.flatnonzero(np.isin(self.sample, np.asarray(samples)) & ~self.duplicate)

    def save(self, path: str | os.PathLike[str]) -> None:
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **self.__dict__)

    def concat(self, other: CropCache) -> CropCache:
        """This cache's rows followed by ``other``'s."""
        return CropCache(**{k: np.concatenate([v, getattr(other, k)]) for k, v in self.__dict__.items()})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CropCache:
        with np.load(path) as z:
            return cls(**{k: z[k] for k in z.files})


def augment_roi(roi: Roi, cfg: HeadTrainConfig, rng: np.random.Generator) -> Roi:
    """A jittered copy of ``roi``: side x U(scale), centre + N(0, shift) x side, rotation +- cfg.rotation."""
    size = roi.size * rng.uniform(*cfg.scale)
    dx, dy = rng.normal(0.0, cfg.shift, 2).clip(-2.5 * cfg.shift, 2.5 * cfg.shift) * roi.size
    rot = roi.rotation
    if rng.random() < cfg.rotation_prob:
        rot += np.deg2rad(rng.uniform(-cfg.rotation, cfg.rotation))
    return Roi(roi.center_x + dx, roi.center_y + dy, size, float(rot))


def mirror_roi(roi: Roi, width: int) -> Roi:
    """``roi`` in the left-right mirrored frame of ``width`` pixels."""
    return Roi(width - 1 - roi.center_x, roi.center_y, roi.size, -roi.rotation)


def mirror_keypoints(keypoints: npt.NDArray[np.float64], width: int, flip_index: list[int]) -> npt.NDArray[np.float64]:
    """keypoints (K, 3) in the mirrored frame, left/right names swapped."""
    kp = keypoints.copy()
    kp[:, 0] = width - 1 - kp[:, 0]
    return kp[flip_index]


def mirror(image: npt.NDArray[np.uint8], keypoints: npt.NDArray[np.float64], roi: Roi,
           flip_index: list[int]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64], Roi]:
    """The mirrored frame, its keypoints (K, 3) with left/right swapped, and the mirrored ROI."""
    w = image.shape[1]
    return np.ascontiguousarray(image[:, ::-1]), mirror_keypoints(keypoints, w, flip_index), mirror_roi(roi, w)


def frame_fallback(predictor: BlazePosePredictor, image: npt.NDArray[np.uint8]) -> RoiResult:
    """The landmark pass on the whole frame taken as a person box (ROI rules and tracking pass of boxes)."""
    from ..predictors.base import full_image_box
    from .finetuned import person_results

    return person_results(predictor, image, full_image_box(image)[None])[0][0]


def _row(result: RoiResult, kind: int, duplicate: bool = False) -> dict[str, Any]:
    return {"features": result.output.features[0].cpu().numpy().astype(np.float16), "matrices": result.matrix,
            "kind": kind, "duplicate": duplicate, "flipped": False, "landmarks": result.landmarks39,
            "presence": result.presence}


def base_crops(predictor: BlazePosePredictor, image: npt.NDArray[np.uint8], box: npt.NDArray[np.float64],
               cfg: HeadTrainConfig) -> tuple[FrameCrops, Roi]:
    """The BOX crop (``BlazePosePredictor``'s ROI rules with a box), the DETECTOR crop when the detector finds
    someone, and a FALLBACK crop when it does not (or its presence < min_presence); with the box ROI."""
    from .finetuned import person_results

    box_res = person_results(predictor, image, np.asarray(box, dtype=np.float64)[None])[0][0]
    rows = [_row(box_res, BOX)]
    frame = predictor.rois(image, None)
    res = None
    if frame:
        res = box_res if frame[0][0] == box_res.roi else predictor.run_roi(image, frame[0][0])
        rows.append(_row(res, DETECTOR, duplicate=res is box_res))
    if res is None or res.presence < cfg.min_presence:
        rows.append(_row(frame_fallback(predictor, image), FALLBACK))
    return FrameCrops.stack(rows), box_res.roi


def augmented_crops(predictor: BlazePosePredictor, image: npt.NDArray[np.uint8], box_roi: Roi, cfg: HeadTrainConfig,
                    rng: np.random.Generator) -> FrameCrops:
    """``cfg.variants`` jittered copies of the box ROI (mirrored with ``cfg.flip``, colour jitter), one batch."""
    crops, rows = [], []
    for _ in range(cfg.variants):
        roi = augment_roi(box_roi, cfg, rng)
        img, flipped = image, False
        if rng.random() < cfg.flip:
            img, roi, flipped = np.ascontiguousarray(image[:, ::-1]), mirror_roi(roi, image.shape[1]), True
        crop, m = crop_roi(img, roi, INPUT_SIZE)
        if cfg.colour > 0:
            alpha = 1.0 + rng.uniform(-cfg.colour, cfg.colour)
            beta = rng.uniform(-cfg.colour, cfg.colour) / 2
            crop = np.clip(crop * alpha + beta, 0.0, 1.0).astype(np.float32)
        crops.append(crop)
        rows.append({"matrices": m, "kind": AUGMENTED, "duplicate": False, "flipped": flipped,
                     "landmarks": np.zeros((39, 5))})
    if not crops:
        return FrameCrops.stack([])
    x = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        out = predictor.net.run(x.to(predictor.device))
    for j, row in enumerate(rows):
        row["features"] = out.features[j].cpu().numpy().astype(np.float16)
        row["presence"] = float(out.presence.reshape(-1)[j])
    return FrameCrops.stack(rows)


def crop_targets(keypoints: npt.NDArray[np.float64], crops: FrameCrops, width: int,
                 flip_index: list[int]) -> npt.NDArray[np.float64]:
    """(m, K, 3) targets [x, y, v] in heatmap cells of each crop, from the frame's keypoints (K, 3)."""
    mirrored = mirror_keypoints(keypoints, width, flip_index)
    out = np.repeat(keypoints[None], len(crops), axis=0)
    for j, (m, flipped) in enumerate(zip(crops.matrices, crops.flipped, strict=True)):
        src = mirrored if flipped else keypoints
        out[j, :, 2] = src[:, 2]
        out[j, :, :2] = apply_affine(src[:, :2], m) / STRIDE
    return out


def model_id(predictor: BlazePosePredictor) -> str:
    """The landmark and detector files' sha256s (what the crops depend on besides the frame and settings), and
    what a crop keeps when that is not the features (``tail.FrontierNet``: the last stage's inputs)."""
    stored = getattr(predictor.net, "stored", "")
    return f"{predictor.net.graph.sha256}:{getattr(predictor.detector.net, 'sha256', '')}" + (
        f":{stored}" if stored else "")


def build_cache(samples: KeypointSamples, skeleton: Skeleton, predictor: BlazePosePredictor, cfg: HeadTrainConfig,
                augment: npt.ArrayLike | None = None, progress: ProgressFn = no_progress,
                store: CropStore | None = None) -> CropCache:
    """Crops of every frame through the frozen backbone (or from ``store``). augment: frame indices that get
    augmented crops (default all); the others (held-out frames) get only the box, detector and fallback crops.

    The jitter of a frame's augmented crops is drawn from a generator seeded by the frame's key, so a
    frame gets the same crops whatever the order of the frames and whether or not they come from the store.
    """
    aug = set(range(len(samples.images)) if augment is None else np.asarray(augment).tolist())
    store = store or CropStore(None)
    settings, model = cfg.to_dict(), model_id(predictor)
    parts: list[tuple[int, FrameCrops]] = []
    for i, image in enumerate(samples.images):
        box = samples.bboxes[i]
        key = frame_key(image, box, settings, model, "base")
        base, box_roi = store.get(key), None
        if base is None:
            base, box_roi = base_crops(predictor, image, box, cfg)
            store.put(key, base)
        parts.append((i, base))
        if i in aug and cfg.variants > 0:
            akey = frame_key(image, box, settings, model, "augmented")
            extra = store.get(akey)
            if extra is None:
                if box_roi is None:  # the base crops came from the store: cut the box ROI again
                    from .finetuned import person_results

                    box_roi = person_results(predictor, image, np.asarray(box)[None])[0][0].roi
                extra = augmented_crops(predictor, image, box_roi, cfg, np.random.default_rng(
                    [cfg.seed, 7, int(akey[:15], 16)]))
                store.put(akey, extra)
            parts.append((i, extra))
        progress((i + 1) / len(samples.images), f"backbone features {i + 1}/{len(samples.images)}"
                 + (f" ({store.hits} from the store)" if store.hits else ""))
    store.prune()
    points = [crop_targets(samples.keypoints[i], c, samples.images[i].shape[1], skeleton.flip_index)
              for i, c in parts]
    return CropCache(features=np.concatenate([c.features for _, c in parts]),
                     duplicate=np.concatenate([c.duplicate for _, c in parts]),
                     points=np.concatenate(points), matrices=np.concatenate([c.matrices for _, c in parts]),
                     sample=np.concatenate([np.full(len(c), i, dtype=np.int64) for i, c in parts]),
                     kind=np.concatenate([c.kind for _, c in parts]).astype(np.int64),
                     flipped=np.concatenate([c.flipped for _, c in parts]),
                     landmarks=np.concatenate([c.landmarks for _, c in parts]),
                     presence=np.concatenate([c.presence for _, c in parts]))


def fallback_cache(samples: KeypointSamples, predictor: BlazePosePredictor, cache: CropCache,
                   min_presence: float) -> CropCache:
    """FALLBACK rows for the frames of ``cache`` that lack them: no DETECTOR row, or its presence below
    ``min_presence`` (extends a cache built before FALLBACK rows existed)."""
    have = set(cache.sample[cache.kind == FALLBACK].tolist())
    detected = {int(s): float(p) for s, p, k in zip(cache.sample, cache.presence, cache.kind, strict=True)
                if k == DETECTOR}
    rows: dict[str, list[Any]] = {k: [] for k in cache.__dict__}
    for i, image in enumerate(samples.images):
        if i in have or detected.get(i, -1.0) >= min_presence:
            continue
        fb = frame_fallback(predictor, image)
        pt = samples.keypoints[i].copy()
        pt[:, :2] = apply_affine(pt[:, :2], fb.matrix) / STRIDE
        for k, v in (("features", fb.output.features[0].cpu().numpy().astype(np.float16)), ("duplicate", False),
                     ("points", pt), ("matrices", fb.matrix), ("sample", i), ("kind", FALLBACK),
                     ("flipped", False), ("landmarks", fb.landmarks39), ("presence", fb.presence)):
            rows[k].append(v)
    if not rows["sample"]:
        return cache
    extra = CropCache(**{k: np.asarray(v, dtype=getattr(cache, k).dtype) for k, v in rows.items()})
    return cache.concat(extra)


def mirrored_features(net: Any, cache: CropCache, rows: npt.NDArray[np.int64], images: list[np.ndarray],
                      batch: int = 8, dtype: type = np.float16) -> np.ndarray:
    """The cache's features (len(rows), *feature shape) of each row's crop mirrored left-right, in ``dtype``
    (the cache's float16 by default).

    net: what built the cache (``BlazePoseLandmarkNet``, or ``tail.FrontierNet`` for a staged cache);
    images: the frames (H, W, 3) uint8 RGB, indexed by ``cache.sample``. The crop is the cache's own
    mirrored about the ROI's centre (MediaPipe's 8-bit rounding as the predictor's).
    """
    return view_features(net, cache, rows, images, MIRROR, batch, dtype)


def view_features(net: Any, cache: CropCache, rows: npt.NDArray[np.int64], images: list[np.ndarray],
                  view: npt.NDArray[np.float64], batch: int = 8, dtype: type = np.float16) -> np.ndarray:
    """As ``mirrored_features``, for any view (3, 3) of the crops: plain crop pixels -> view crop pixels
    (``test_views``); the view's image -> crop matrix is view @ the row's matrix."""
    out = []
    device = next(iter(net.parameters())).device  # where the predictor put it (a FrontierNet passes its net's)
    for s in range(0, len(rows), batch):
        chunk = rows[s:s + batch]
        crops = [np.round(warp_replicate(images[int(cache.sample[r])],
                                         (view @ np.vstack([cache.matrices[r], [0.0, 0.0, 1.0]]))[:2], INPUT_SIZE))
                 / 255.0 for r in chunk]
        x = torch.from_numpy(np.stack(crops).astype(np.float32).transpose(0, 3, 1, 2).copy())
        with torch.no_grad():
            out.append(net.run(x.to(device)).features.cpu().numpy().astype(dtype))
    return np.concatenate(out) if out else np.zeros((0, *cache.features.shape[1:]), dtype=dtype)
