"""BlazePose top-down on whole frames: detector -> ROI -> landmark network, as an mlcore ``Predictor``.

Whole frame (``boxes=None``): the detector's best person gives MediaPipe's
rotated ROI (``roi.roi_from_alignment``); no detection, no instance. With
person boxes: the ROI is the box's square (``roi.roi_from_box``) and the
rotation comes from the detection whose hip centre lies in the box (best
score), else from a first landmark pass at rotation 0 (the auxiliary hip and
body-circle landmarks 33 and 34, MediaPipe's tracking ROI rule).

Post-processing as MediaPipe's PoseLandmarkByRoiCpu graph: pose presence
< 0.5 drops the instance; x/y are refined from the heatmaps (7 x 7 window,
sigmoid weights, only where the window's maximum is >= 0.5); visibility =
sigmoid(logit); points go back through the exact inverse of the crop.
Output: COCO-17 (landmarks 0, 2, 5, 7, 8, 11-16, 23-28), score = visibility;
``extra`` holds ``landmarks33`` (33, 3) [x, y, visibility], ``roi``,
``presence`` and, with ``with_mask``, ``segmentation`` (H, W) in 0..1.

``spine="contour"`` (or ``"heuristic"``) outputs ``spine_skeleton`` (COCO-17 plus
neck, hip, spine_01..05, e.g. ``COCO17_SPINE`` or ``SPINETRACK37``) instead:
points BlazePose has come from its landmarks by name, the spine points from
``spine_contour.place_spine`` on the segmentation ("heuristic": the straight
line), with its scores (< 0.5: placed, unconfirmed); other points are zeros.
``extra`` then adds ``spine_method`` ("contour", "heuristic" or "none") and
``spine_placed`` (indices). The flip twin has NaN at points it does not predict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..predictors.base import Instance, Predictor
from ..skeletons import COCO17, COCO17_SPINE, MEDIAPIPE33, Skeleton, remap
from ..spine_contour import DEFAULT_DEPTH, PLACED, place_spine
from ..transforms import invert_affine, warp_affine
from .detector import PoseDetector
from .models import INPUT_SIZE, BlazePoseLandmarkNet, LandmarkOutput, load_detector_net, load_landmark_net
from .roi import Roi, crop_roi, crop_to_image, roi_from_alignment, roi_from_box

REFINE_KERNEL = 7            # RefineLandmarksFromHeatmapCalculator kernel_size in the graph
REFINE_MIN_CONFIDENCE = 0.5  # its proto default
MIN_PRESENCE = 0.5           # ThresholdingCalculator on the pose flag
AUX_HIP, AUX_CIRCLE = 33, 34
BOX_MATCH_MARGIN = 0.5       # a detection belongs to a box when its hip lies in the box grown by this x w, h a side


def in_box(point: np.ndarray, box: np.ndarray, margin: float = 0.0) -> bool:
    """Whether point (2,) lies in box [x, y, w, h] grown by ``margin`` x its width and height on every side."""
    x, y, w, h = (float(v) for v in box)
    return bool(x - margin * w <= point[0] <= x + w + margin * w and y - margin * h <= point[1] <= y + h + margin * h)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Elementwise logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def refine_from_heatmaps(xy: np.ndarray, heatmaps: np.ndarray, kernel: int = REFINE_KERNEL,
                         min_confidence: float = REFINE_MIN_CONFIDENCE) -> np.ndarray:
    """MediaPipe's heatmap refinement. xy (K, 2) normalised 0..1 of the crop; heatmaps (K, h, w) logits.

    Each point inside the heatmap becomes the sigmoid-weighted mean cell index / size over a kernel x kernel
    window around int(x * w), int(y * h) (cut at the edges) when the window's largest weight is >= min_confidence.
    """
    out = np.asarray(xy, dtype=np.float64).copy()
    _, h, w = heatmaps.shape
    off = (kernel - 1) // 2
    for k in range(len(out)):
        col, row = math.trunc(out[k, 0] * w), math.trunc(out[k, 1] * h)
        if col < 0 or col >= w or row < 0 or col >= h:   # MediaPipe's check (it compares col with h too)
            continue
        r0, r1, c0, c1 = max(0, row - off), min(h, row + off + 1), max(0, col - off), min(w, col + off + 1)
        conf = sigmoid(heatmaps[k, r0:r1, c0:c1])
        total = conf.sum()
        if conf.size and conf.max() >= min_confidence and total > 0:
            rows, cols = np.mgrid[r0:r1, c0:c1]
            out[k] = [(cols * conf).sum() / w / total, (rows * conf).sum() / h / total]
    return out


def tracking_roi(result: RoiResult) -> Roi:
    """MediaPipe's next ROI from a landmark pass: alignment of auxiliary landmarks 33 (hip) and 34 (body circle)."""
    return roi_from_alignment(result.landmarks39[[AUX_HIP, AUX_CIRCLE], :2])


@dataclass
class RoiResult:
    """The landmark network on one ROI: landmarks39 (39, 5) [x, y, z, visibility, presence] in image pixels
    (z in crop pixels x ROI size / 256, visibility and presence probabilities), pose presence, the raw output."""

    roi: Roi
    matrix: np.ndarray
    landmarks39: np.ndarray
    presence: float
    output: LandmarkOutput


class BlazePosePredictor(Predictor):
    """BlazePose GHUM full (torch translation of MediaPipe 0.10.14's files); one COCO-17 instance per person.

    box_roi: with boxes, "detection" (the ROI of the detection whose hip lies in the box, as on whole frames;
    the box's own ROI where there is none) or "box" (always the box's square).
    box_rotation: rotation of a box's ROI, "detector" (fallback "landmarks"), "landmarks" or "none".
    track: with boxes, run again on the ROI of the first pass's auxiliary landmarks.
    max_people: whole-frame detections used (MediaPipe uses 1).
    spine: None (COCO-17 only), "contour" or "heuristic": output ``spine_skeleton`` with spine points placed
    (see the module docstring); spine_depth: the contour's inward depth (``spine_contour.fit_depth``).
    """

    skeleton = COCO17
    version = "blazepose-full-mediapipe-0.10.14-torch"

    def __init__(self, landmark_net: BlazePoseLandmarkNet | None = None, detector: PoseDetector | None = None,
                 min_presence: float = MIN_PRESENCE, box_roi: str = "detection", box_rotation: str = "detector",
                 track: bool = True,
                 box_min_presence: float = 0.0, max_people: int = 1, with_mask: bool = False,
                 device: str = "cpu", spine: str | None = None, spine_skeleton: Skeleton = COCO17_SPINE,
                 spine_depth: float = DEFAULT_DEPTH) -> None:
        self.device = torch.device(device)
        self.net = (landmark_net or load_landmark_net()).to(self.device).eval()
        self.detector = detector or PoseDetector(load_detector_net().to(self.device))
        if box_rotation not in ("detector", "landmarks", "none"):
            raise ValueError(f"box_rotation must be detector, landmarks or none, not {box_rotation!r}")
        if box_roi not in ("detection", "box"):
            raise ValueError(f"box_roi must be detection or box, not {box_roi!r}")
        self.min_presence, self.box_roi, self.box_rotation = min_presence, box_roi, box_rotation
        self.track, self.box_min_presence = track, box_min_presence
        self.max_people, self.with_mask = max_people, with_mask
        if spine not in (None, "contour", "heuristic"):
            raise ValueError(f"spine must be None, contour or heuristic, not {spine!r}")
        if spine is not None:
            missing = [n for n in PLACED if n not in spine_skeleton.keypoints]
            if missing:
                raise ValueError(f"spine_skeleton {spine_skeleton.name} lacks {', '.join(missing)}")
            self.skeleton = spine_skeleton
        self.spine, self.spine_depth = spine, spine_depth

    def run_roi(self, image: np.ndarray, roi: Roi) -> RoiResult:
        """Crop ``roi`` of image (H, W, 3) uint8 RGB, run the network, map the 39 landmarks back."""
        crop, m = crop_roi(image, roi, INPUT_SIZE)
        x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))[None]).to(self.device)
        with torch.no_grad():
            out = self.net.run(x)
        lm = out.landmarks[0].cpu().numpy().astype(np.float64)                     # (39, 5) crop pixels, logits
        heat = out.heatmaps[0].cpu().numpy()
        xy = refine_from_heatmaps(lm[:, :2] / INPUT_SIZE, heat) * INPUT_SIZE
        result = np.empty_like(lm)
        result[:, :2] = crop_to_image(xy, roi, INPUT_SIZE)
        result[:, 2] = lm[:, 2] * roi.size / INPUT_SIZE
        result[:, 3:] = sigmoid(lm[:, 3:])
        return RoiResult(roi=roi, matrix=m, landmarks39=result, presence=float(out.presence.reshape(-1)[0]),
                         output=out)

    def segmentation(self, result: RoiResult, height: int, width: int) -> np.ndarray:
        """The person mask (H, W) float32 in 0..1 mapped back from the crop (0 outside the ROI)."""
        mask = sigmoid(result.output.segmentation[0, 0].cpu().numpy()).astype(np.float32)
        back = warp_affine(mask[..., None], invert_affine(result.matrix), (width, height))[..., 0]
        return np.asarray(np.clip(back, 0.0, 1.0), dtype=np.float32)

    def rois(self, image: np.ndarray, boxes: np.ndarray | None,
             detection_roi: bool = False) -> list[tuple[Roi, np.ndarray | None]]:
        """First ROIs: from the detector (whole frame) or one per box [x, y, w, h] (with the box).

        A box's ROI is its square with the rotation of the detection whose hip lies in it (else from a
        landmark pass); detection_roi=True takes that detection's whole ROI instead.
        """
        return [(roi, box) for roi, box, _ in self._targets(image, boxes, detection_roi)]

    def _targets(self, image: np.ndarray, boxes: np.ndarray | None,
                 detection_roi: bool) -> list[tuple[Roi, np.ndarray | None, bool]]:
        """(first ROI, box or None, whether to re-run on the tracking ROI) per person."""
        if boxes is None:
            dets = self.detector.detect(image)[:self.max_people]
            return [(roi_from_alignment(d.keypoints), None, False) for d in dets]
        dets = self.detector.detect(image) if self.box_rotation == "detector" or detection_roi else []
        out: list[tuple[Roi, np.ndarray | None, bool]] = []
        for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
            inside = [d for d in dets if in_box(d.keypoints[0], box, BOX_MATCH_MARGIN)]
            if inside and detection_roi:
                out.append((roi_from_alignment(inside[0].keypoints), box, False))
                continue
            if inside and self.box_rotation == "detector":
                rotation = roi_from_alignment(inside[0].keypoints).rotation
            elif self.box_rotation == "none":
                rotation = 0.0
            else:
                rotation = tracking_roi(self.run_roi(image, roi_from_box(box))).rotation
            out.append((roi_from_box(box, rotation), box, self.track))
        return out

    def _instance(self, result: RoiResult, box: np.ndarray | None, image: np.ndarray) -> Instance:
        mp33 = np.concatenate([result.landmarks39[:33, :2], result.landmarks39[:33, 3:4]], axis=1)
        kp = remap(mp33, MEDIAPIPE33, COCO17)
        if box is None:
            lo, hi = kp[:, :2].min(axis=0), kp[:, :2].max(axis=0)
            box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
        extra: dict[str, object] = {"landmarks33": mp33, "roi": result.roi, "presence": result.presence}
        mask = self.segmentation(result, *image.shape[:2]) if self.with_mask or self.spine == "contour" else None
        if self.with_mask:
            extra["segmentation"] = mask
        score = float(kp[:, 2].mean())
        if self.spine is not None:
            kp = self._with_spine(mp33, mask if self.spine == "contour" else None, extra)
        return Instance(keypoints=kp, bbox=np.asarray(box, dtype=np.float64), score=score, extra=extra)

    def _with_spine(self, mp33: np.ndarray, mask: np.ndarray | None, extra: dict[str, object]) -> np.ndarray:
        """mp33 (33, 3) -> (K, 3) in ``self.skeleton`` with the spine points placed; notes the method in extra."""
        kp = remap(mp33, MEDIAPIPE33, self.skeleton)
        flagged = kp.copy()          # place_spine reads v > 0 as labelled: every BlazePose point is there
        flagged[:, 2] = [1.0 if n in MEDIAPIPE33.keypoints else 0.0 for n in self.skeleton.keypoints]
        placement = place_spine(mask, flagged, self.skeleton, depth=self.spine_depth)
        kp[placement.placed, :2] = placement.keypoints[placement.placed, :2]
        kp[placement.placed, 2] = placement.scores[placement.placed]
        extra["spine_method"] = placement.method
        extra["spine_placed"] = [int(i) for i in np.flatnonzero(placement.placed)]
        return kp

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        """image (H, W, 3) uint8 RGB; boxes (M, 4) [x, y, w, h] or None (whole frame through the detector)."""
        out = []
        for roi, box, track in self._targets(image, boxes, self.box_roi == "detection"):
            result = self.run_roi(image, roi)
            if track:
                result = self.run_roi(image, tracking_roi(result))
            if result.presence < (self.min_presence if box is None else self.box_min_presence):
                continue
            inst = self._instance(result, box, image)
            if flip_test:
                inst.extra["flip_keypoints"] = self._flipped(image, result.roi)
            out.append(inst)
        return out

    def _flipped(self, image: np.ndarray, roi: Roi) -> np.ndarray:
        """COCO-17 (17, 3) from the mirrored image and mirrored ROI, un-mirrored, left/right names swapped back."""
        w = image.shape[1]
        mirrored = Roi(w - 1 - roi.center_x, roi.center_y, roi.size, -roi.rotation)
        res = self.run_roi(np.ascontiguousarray(image[:, ::-1]), mirrored).landmarks39
        kp = remap(np.concatenate([res[:33, :2], res[:33, 3:4]], axis=1), MEDIAPIPE33, COCO17)
        kp[:, 0] = w - 1 - kp[:, 0]
        kp = kp[COCO17.flip_index]
        if self.skeleton is COCO17:
            return kp
        out = remap(kp, COCO17, self.skeleton)
        out[[n not in COCO17.keypoints for n in self.skeleton.keypoints]] = np.nan
        return out
