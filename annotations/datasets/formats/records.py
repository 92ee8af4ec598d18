"""Plain records passed between the services (database side) and the format code (file side)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlcore.skeletons import Skeleton


@dataclass
class ImageRecord:
    id: int
    file_name: str
    width: int
    height: int
    clip_id: str
    frame_index: int | None = None
    split: str = ""
    path: str | None = None  # where the pixels are, for writers that copy images
    # COCO image attributes: {"gold": true} on a gold frame, {"consensus": {...}} on a consensus frame.
    attributes: dict = field(default_factory=dict)


@dataclass
class AnnotationRecord:
    id: int
    image_id: int
    keypoints: list[float]  # flat [x1, y1, v1, ...], 3 * K
    keypoint_states: list[str]  # K KeypointState values
    bbox: list[float]  # [x, y, w, h]
    area: float
    form_label: str | None = None
    source: str = "import"
    # Pre-serialised JSON of keypoints, keypoint_states and bbox straight from the database, with the
    # labelled-point count: lets the COCO writer skip decoding and re-encoding millions of numbers.
    raw: dict | None = None
    labelled: int | None = None

    @property
    def num_keypoints(self) -> int:
        if self.labelled is not None:
            return self.labelled
        return sum(1 for v in self.keypoints[2::3] if v > 0)


@dataclass
class DatasetRecord:
    """A dataset ready to write: skeleton, form-label set, images and annotations."""

    skeleton: Skeleton
    form_labels: list[str]
    images: list[ImageRecord]
    annotations: list[AnnotationRecord]
    info: dict = field(default_factory=dict)


@dataclass
class Problem:
    """One thing wrong with the input: which file, which id, why."""

    file: str
    id: object
    reason: str
    action: str = "skipped"  # what happened to the record: skipped, or kept (a warning)
    keypoint: str | None = None  # a problem with one point: its name in the file ...
    point: list[float] | None = None  # ... and its [x, y]

    def as_dict(self) -> dict:
        out = {"file": self.file, "id": self.id, "reason": self.reason, "action": self.action}
        if self.keypoint is not None:
            out.update(keypoint=self.keypoint, point=self.point)
        return out


@dataclass
class ParsedCoco:
    """A COCO keypoint file mapped onto a project skeleton.

    keypoints: (N, K, 3) float64 in the project's keypoint order.
    present: (N, K) bool, True where the file had that keypoint at all.
    bboxes: (N, 4); areas: (N,). Rows line up with `annotations` (dicts with id, image_id,
    form_label, instance).
    """

    images: list[dict]
    annotations: list[dict]
    keypoints: np.ndarray
    present: np.ndarray
    bboxes: np.ndarray
    areas: np.ndarray
    problems: list[Problem]
    unmapped_keypoints: list[str]
    ids: np.ndarray | None = None  # (N,) annotation ids in the file; from `annotations` when not given
    instances: np.ndarray | None = None  # (N,) person index within the image

    def __post_init__(self) -> None:
        if self.ids is None:
            self.ids = np.array([a["id"] for a in self.annotations], dtype=np.int64)
        if self.instances is None:
            self.instances = np.array([a["instance"] for a in self.annotations], dtype=np.int64)
