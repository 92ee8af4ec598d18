"""The predictor interface: images (+ optional person boxes) -> instances with keypoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..skeletons import Skeleton

VISIBLE_SCORE = 0.5  # keypoint score at or above which a prediction is written with v = 2


@dataclass
class Instance:
    """One predicted person.

    keypoints: (K, 3) [x, y, score] in source-image pixels; score in 0..1 (roughly).
    bbox: (4,) [x, y, w, h], the box the prediction was made in (or around the points).
    score: instance score (mean keypoint score unless the model says otherwise).
    extra: per-model additions the uncertainty signals use, e.g.
        ``flip_keypoints`` (K, 3) from the mirrored crop, ``mc_keypoints`` (S, K, 3).
    """

    keypoints: np.ndarray
    bbox: np.ndarray
    score: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def keypoint_scores(self) -> np.ndarray:
        """(K,) per-keypoint confidence."""
        return self.keypoints[:, 2]

    def to_coco_result(self, image_id: int, category_id: int = 1) -> dict[str, Any]:
        """A COCO keypoint result, plus ``keypoint_scores``.

        COCO's flat keypoints carry v = 2 where the score is >= 0.5 and 1
        otherwise (pycocotools ignores v on results; reviewers' tools do not).
        """
        kp = np.asarray(self.keypoints, dtype=np.float64)
        v = np.where(kp[:, 2] >= VISIBLE_SCORE, 2, 1)
        flat = np.stack([kp[:, 0], kp[:, 1], v], axis=1).reshape(-1)
        return {
            "image_id": int(image_id),
            "category_id": int(category_id),
            "keypoints": [round(float(x), 2) for x in flat],
            "keypoint_scores": [round(float(s), 4) for s in kp[:, 2]],
            "score": round(float(self.score), 4),
            "bbox": [round(float(x), 2) for x in self.bbox],
        }


class Predictor:
    """Base class: subclasses set ``skeleton`` and ``version`` and implement ``predict``."""

    skeleton: Skeleton
    version: str = "unknown"
    # (K,) each point's radius for smoothing along a clip (``temporal_smoothing``), applied by
    # ``pipeline.predict_coco`` to the answer; None: no smoothing.
    smoothing_radius: npt.NDArray[np.int64] | None = None

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        """image (H, W, 3) uint8 RGB; boxes (M, 4) [x, y, w, h] or None.

        Top-down models predict one instance per box (the whole image when
        boxes is None); bottom-up/whole-image models may ignore boxes.
        flip_test: also predict on the mirrored input and put the result in
        ``extra["flip_keypoints"]`` (the main keypoints stay un-mirrored).
        """
        raise NotImplementedError

    def predict_batch(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray | None] | None = None,
                      flip_test: bool = False) -> list[list[Instance]]:
        """``predict`` over a list of images (boxes: a list of per-image boxes or None)."""
        per_image = boxes if boxes is not None else [None] * len(images)
        return [self.predict(img, b, flip_test=flip_test) for img, b in zip(images, per_image, strict=True)]


def full_image_box(image: np.ndarray) -> np.ndarray:
    """[0, 0, W, H] for an (H, W, C) image: the box used when no detector gave one."""
    h, w = image.shape[:2]
    return np.array([0.0, 0.0, float(w), float(h)])
