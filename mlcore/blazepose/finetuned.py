"""A trained heads model directory as an mlcore ``Predictor``: detector -> ROI -> backbone + heads -> image pixels.

``BlazePoseHeadsPredictor(model_dir)`` reads model.json / model.pt written by
``mlcore.blazepose.training`` and the backbone and detector from the mediapipe
wheel (``BlazePoseUnavailable`` when they are missing). The ROIs are
``BlazePosePredictor``'s: the detector's on a whole frame; with person boxes
the matching detection's ROI, else the box's square, then the tracking pass
(``person_results``). Heatmaps decode to
crop pixels (``heads.decode_heatmaps``) and go back through the exact inverse of
the crop. Keypoints are the model's skeleton; score = the decoding window's
probability mass. On a whole frame a pose presence below the model's
``min_presence`` drops the person (as BlazePose does); when that leaves
nobody (or the detector finds nobody) and the model says ``frame_fallback``,
the whole frame is taken as the person box (its square ROI, rotation from a
landmark pass, the tracking pass) and that instance is kept whatever its
presence (``extra["frame_fallback"]`` is then True).
With boxes every box gets an instance (a person box means a person). ``extra``: ``roi``,
``presence``, ``landmarks33`` (BlazePose's own), and ``flip_keypoints`` with flip_test.

Keypoints the heads never learned (no BlazePose landmark to start from and fewer than
``MIN_LABELLED_FRAMES`` labelled training frames: spine points before anyone verified them, a new
custom point) are not predictions. Neck, hip and spine_01..05 among them are placed along the back
contour of BlazePose's segmentation (``spine_contour.place_spine``, the straight-line heuristic when the
contour cannot be traced) with score 0 and listed in ``extra["heuristic_keypoints"]`` (with
``spine_method``); any other such point is (0, 0, 0) and listed in ``extra["unpredicted_keypoints"]``.
Their rows of ``flip_keypoints`` are NaN, so no uncertainty signal reads them.
``smoothing_radius`` (K,) holds each output point's radius for smoothing along a clip, which
``pipeline.predict_coco`` applies (model.json's ``smoothing_radius``, chosen on held-out clips).
model.json's ``test_views`` (``test_views.RULES``, chosen by the training on held-out clips) says how each
crop is read: "plain"; "flip_points", the mean of the plain and the mirrored pass point by point (the
flip test top-down pose models are scored with; a model written before the rules says ``flip_average``);
or the mean heatmap of several views of the crop (mirrored, zoomed x0.9 and x1.1) on the plain crop's
grid ("flip_maps", "zoom", "zoom_flip_maps"), whose mirrored view then also gives ``flip_keypoints``.
A model trained with several members (model.pt's ``members``) answers the mean of their heatmaps
(``ensemble.HeadsEnsemble``) in every view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from ..modeldir import read_meta
from ..predictors.base import Instance, full_image_box
from ..skeletons import Skeleton, normalise_name, remap
from ..spine_contour import DEFAULT_DEPTH, place_spine
from ..transforms import apply_affine, invert_affine
from .detector import PoseDetector
from .ensemble import HeadsEnsemble, member_module
from .flip_test import averaged
from .heads import STRIDE, KeypointHeads, decode_heatmaps
from .models import INPUT_SIZE
from .predictor import BlazePosePredictor, RoiResult, tracking_roi
from .roi import Roi, warp_replicate
from .tail import STAGE_STARTS, FrontierNet
from .test_views import RULES, VIEWS, rule_keypoints, view_keypoints, view_matrix

# A keypoint without a BlazePose landmark needs this many labelled training frames before its heatmap
# head counts as a prediction (a head learned from zero on a handful of frames answers their mean pose).
MIN_LABELLED_FRAMES = 10


def person_results(predictor: BlazePosePredictor, image: np.ndarray,
                   boxes: np.ndarray | None) -> list[tuple[RoiResult, np.ndarray | None]]:
    """The landmark pass ``BlazePosePredictor.predict`` keeps per person (its ROI rules and tracking pass),
    with the box (None on a whole frame)."""
    out = []
    for roi, box, track in predictor._targets(image, boxes, predictor.box_roi == "detection"):
        result = predictor.run_roi(image, roi)
        if track:
            result = predictor.run_roi(image, tracking_roi(result))
        out.append((result, box))
    return out


@dataclass
class HeadsRoiResult(RoiResult):
    """``RoiResult`` plus the heads' keypoints (K, 3) [x, y, score] in image pixels, in the model's skeleton."""

    keypoints: npt.NDArray[np.float64] | None = None
    logits: npt.NDArray[np.float32] | None = None   # the heads' heatmaps (1, K, 64, 64) of the crop


class BlazePoseHeadsPredictor(BlazePosePredictor):
    """Heads trained on BlazePose's backbone, for the skeleton stored in the model directory.

    spine_skeleton: answer in this skeleton instead (a project's, whose spine points the model was trained
    without): its points the heads have come from them, neck, hip and spine_01..05 from the back contour.
    """

    def __init__(self, model_dir: str | os.PathLike[str], detector: PoseDetector | None = None,
                 device: str = "cpu", threads: int | None = None, spine_skeleton: Skeleton | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        path = Path(model_dir)
        meta = read_meta(path)
        if meta.get("backbone") != "blazepose":
            raise ValueError(f"{path} is not a BlazePose heads model (model.json backbone: {meta.get('backbone')})")
        state = torch.load(path / "model.pt", map_location="cpu", weights_only=False)
        super().__init__(detector=detector, min_presence=float(meta.get("min_presence", 0.5)),
                         box_roi=str(meta.get("box_roi", "detection")),
                         box_rotation=str(meta.get("box_rotation", "detector")), track=bool(meta.get("track", True)),
                         device=device)
        self.heads_skeleton = Skeleton.from_dict(meta["skeleton"])
        self.skeleton = spine_skeleton if spine_skeleton is not None else self.heads_skeleton
        self.version = str(meta["version"])
        self.window = int(meta.get("window", 5))
        self.frame_fallback = bool(meta.get("frame_fallback", False))
        # How each crop is read (test_views.RULES); models written before the rules: their flip_average.
        self.test_views = str(meta.get("test_views") or ("flip_points" if meta.get("flip_average") else "plain"))
        if self.test_views not in RULES:
            raise ValueError(f"{path}: unknown test_views {self.test_views!r} in model.json")
        self.flip_average = self.test_views == "flip_points"
        # Each output point's radius for smoothing along a clip (pipeline.predict_coco); 0 where none was chosen.
        radius = {normalise_name(n): int(r) for n, r in (meta.get("smoothing_radius") or {}).items()}
        self.smoothing_radius = np.array([radius.get(normalise_name(n), 0) for n in self.skeleton.keypoints],
                                         dtype=np.int64)
        if state.get("stage"):  # the backbone's last stage as trained with the heads (tail.py)
            self.net.graph.convs.load_state_dict(state["stage"], strict=False)
        self.heads = KeypointHeads(**state["net"])
        self.heads.load_state_dict(state["heads"])
        self.heads = self.heads.to(self.device).eval()
        # What turns the net's features into heatmap logits: the heads, or with further members the ensemble,
        # which reads the backbone's frontier (computed before any trained stage) when the members carry stages.
        self.heatmap_model: torch.nn.Module = self.heads
        if state.get("members"):
            stages = int(state.get("config", {}).get("head", {}).get("stages", 1))
            members = [(self.heads, state.get("stage"))]
            for entry in state["members"]:
                heads = KeypointHeads(**entry["net"])
                heads.load_state_dict(entry["heads"])
                members.append((heads.eval(), entry.get("stage")))
            # Each member's copy of the net takes that member's stage (the same weights member 0's replaced here).
            self.heatmap_model = HeadsEnsemble([member_module(self.net, h, st, stages) for h, st in members])
            self.heatmap_model = self.heatmap_model.to(self.device).eval()
            if state.get("stage"):
                self.net = FrontierNet(self.net, STAGE_STARTS[stages])  # type: ignore[assignment]
        self.members = 1 + len(state.get("members") or [])
        learned = self.heads.learned()
        counts = meta.get("metrics", {}).get("labelled_frames")
        if counts is not None:                  # models written before the counts were kept: weights only
            from_landmark = self.heads.source.cpu().numpy() >= 0
            learned &= from_landmark | np.array([counts.get(n, 0) >= MIN_LABELLED_FRAMES
                                                 for n in self.heads_skeleton.keypoints])
        known = {normalise_name(n) for n, ok in zip(self.heads_skeleton.keypoints, learned, strict=True) if ok}
        # Output points (in self.skeleton) that are not the heads' predictions.
        self.unlearned = np.array([i for i, n in enumerate(self.skeleton.keypoints) if normalise_name(n) not in known],
                                  dtype=np.int64)
        self.predicted = np.setdiff1d(np.arange(self.skeleton.num_keypoints), self.unlearned)
        self.spine_depth = float(meta.get("spine_depth", DEFAULT_DEPTH))

    def run_roi(self, image: np.ndarray, roi: Roi) -> HeadsRoiResult:
        """BlazePose on ``roi`` (``BlazePosePredictor.run_roi``) plus the heads' keypoints in image pixels."""
        base = super().run_roi(image, roi)
        with torch.no_grad():
            hm = self.heatmap_model(base.output.features).cpu().numpy()
        kp = decode_heatmaps(hm, self.window)[0]
        kp[:, :2] = apply_affine(kp[:, :2] * STRIDE, invert_affine(base.matrix))
        return HeadsRoiResult(roi=base.roi, matrix=base.matrix, landmarks39=base.landmarks39,
                              presence=base.presence, output=base.output, keypoints=kp, logits=hm)

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        """image (H, W, 3) uint8 RGB; boxes (M, 4) [x, y, w, h] or None (whole frame through the detector)."""
        kept = [(r, b, False) for r, b in person_results(self, image, boxes)
                if b is not None or r.presence >= self.min_presence]
        if boxes is None and not kept and self.frame_fallback:
            kept = [(person_results(self, image, full_image_box(image)[None])[0][0], None, True)]
        out: list[Instance] = []
        for found, box, fallback in kept:
            assert isinstance(found, HeadsRoiResult) and found.keypoints is not None
            result, kp = found, self._out(found.keypoints)
            if box is None:
                lo, hi = kp[self.predicted, :2].min(axis=0), kp[self.predicted, :2].max(axis=0)
                box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
            mp33 = np.concatenate([result.landmarks39[:33, :2], result.landmarks39[:33, 3:4]], axis=1)
            inst = Instance(keypoints=kp, bbox=np.asarray(box, dtype=np.float64), score=0.0,
                            extra={"roi": result.roi, "presence": result.presence, "landmarks33": mp33,
                                   "frame_fallback": fallback})
            views: dict[str, torch.Tensor] = {}
            if len(RULES[self.test_views]) > 1 and not self.flip_average:  # a rule on the views' heatmaps
                views = self._view_logits(image, result, RULES[self.test_views])
                inst.keypoints = self._out(rule_keypoints(self.test_views, views, result.matrix[None],
                                                          self.heads_skeleton.flip_index, self.window)[0])
            if "mirror" in views and flip_test:   # the flip signal from the mirrored view already read
                flipped = self._out(view_keypoints("mirror", views["mirror"], result.matrix[None],
                                                   self.heads_skeleton.flip_index, self.window)[0])
                flipped[self.unlearned] = np.nan
                inst.extra["flip_keypoints"] = flipped
            elif flip_test or self.flip_average:
                flipped = self._flipped_heads(image, result.roi)
                flipped[self.unlearned] = np.nan
                if flip_test:
                    inst.extra["flip_keypoints"] = flipped
                if self.flip_average:
                    inst.keypoints = averaged(kp, flipped)
            if len(self.unlearned):
                inst.keypoints = self._place_unlearned(inst.keypoints, result, image, inst.extra)
            inst.score = float(inst.keypoints[self.predicted, 2].mean()) if len(self.predicted) else 0.0
            out.append(inst)
        return out

    def _place_unlearned(self, kp: npt.NDArray[np.float64], result: HeadsRoiResult, image: np.ndarray,
                         extra: dict[str, object]) -> npt.NDArray[np.float64]:
        """kp (K, 3) with the points the heads never learned replaced: spine points along the back, others 0."""
        out = kp.copy()
        out[self.unlearned] = 0.0
        flagged = out.copy()                    # place_spine reads v > 0 as "there": every learned point is
        flagged[:, 2] = 1.0
        flagged[self.unlearned, 2] = 0.0
        mask = self.segmentation(result, *image.shape[:2])
        placement = place_spine(mask, flagged, self.skeleton, depth=self.spine_depth)
        placed = placement.placed & ~(flagged[:, 2] > 0)
        out[placed, :2] = placement.keypoints[placed, :2]
        extra["heuristic_keypoints"] = [int(i) for i in np.flatnonzero(placed)]
        extra["unpredicted_keypoints"] = [int(i) for i in self.unlearned if not placed[i]]
        extra["spine_method"] = placement.method
        return out

    def _view_logits(self, image: np.ndarray, result: HeadsRoiResult,
                     views: tuple[str, ...]) -> dict[str, torch.Tensor]:
        """The heads' heatmap logits (1, K, 64, 64) on each named view (``test_views.VIEWS``) of the crop of
        ``result``, the model's skeleton; the plain view is the one ``run_roi`` read."""
        out = {"plain": torch.from_numpy(np.asarray(result.logits, dtype=np.float32))}
        for name in views:
            if name == "plain":
                continue
            m = view_matrix(VIEWS[name], result.matrix)
            crop = np.round(warp_replicate(image, m, INPUT_SIZE)) / 255.0    # MediaPipe's 8-bit crop (crop_roi)
            x = torch.from_numpy(crop.astype(np.float32).transpose(2, 0, 1)[None].copy()).to(self.device)
            with torch.no_grad():
                out[name] = self.heatmap_model(self.net.run(x).features).cpu()
        return out

    def _flipped_heads(self, image: np.ndarray, roi: Roi) -> npt.NDArray[np.float64]:
        """(K, 3) from the mirrored image and mirrored ROI, un-mirrored, left/right swapped back."""
        w = image.shape[1]
        mirrored = Roi(w - 1 - roi.center_x, roi.center_y, roi.size, -roi.rotation)
        kp = self.run_roi(np.ascontiguousarray(image[:, ::-1]), mirrored).keypoints
        assert kp is not None
        kp = kp.copy()
        kp[:, 0] = w - 1 - kp[:, 0]
        return self._out(kp[self.heads_skeleton.flip_index])

    def _out(self, kp: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(K_model, 3) in the model's skeleton -> (K, 3) in the output skeleton (zeros where it has none)."""
        if self.skeleton.keypoints == self.heads_skeleton.keypoints:
            return kp.copy()
        return remap(kp, self.heads_skeleton, self.skeleton)
