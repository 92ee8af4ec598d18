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
A model whose model.json says ``flip_average`` answers the mean of the plain pass and the mirrored
one (the flip test top-down pose models are scored with), whether or not flip_test asks for the
mirrored pass as a signal.
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
from ..skeletons import Skeleton
from ..transforms import apply_affine, invert_affine
from .detector import PoseDetector
from .heads import STRIDE, KeypointHeads, decode_heatmaps
from .predictor import BlazePosePredictor, RoiResult, tracking_roi
from .roi import Roi


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
    """``RoiResult`` plus the heads' keypoints (K, 3) [x, y, score] in image pixels."""

    keypoints: npt.NDArray[np.float64] | None = None


class BlazePoseHeadsPredictor(BlazePosePredictor):
    """Heads trained on BlazePose's backbone, for the skeleton stored in the model directory."""

    def __init__(self, model_dir: str | os.PathLike[str], detector: PoseDetector | None = None,
                 device: str = "cpu", threads: int | None = None) -> None:
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
        self.skeleton = Skeleton.from_dict(meta["skeleton"])
        self.version = str(meta["version"])
        self.window = int(meta.get("window", 5))
        self.frame_fallback = bool(meta.get("frame_fallback", False))
        self.flip_average = bool(meta.get("flip_average", False))
        self.heads = KeypointHeads(**state["net"])
        self.heads.load_state_dict(state["heads"])
        self.heads = self.heads.to(self.device).eval()

    def run_roi(self, image: np.ndarray, roi: Roi) -> HeadsRoiResult:
        """BlazePose on ``roi`` (``BlazePosePredictor.run_roi``) plus the heads' keypoints in image pixels."""
        base = super().run_roi(image, roi)
        with torch.no_grad():
            hm = self.heads(base.output.features).cpu().numpy()
        kp = decode_heatmaps(hm, self.window)[0]
        kp[:, :2] = apply_affine(kp[:, :2] * STRIDE, invert_affine(base.matrix))
        return HeadsRoiResult(roi=base.roi, matrix=base.matrix, landmarks39=base.landmarks39,
                              presence=base.presence, output=base.output, keypoints=kp)

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        """image (H, W, 3) uint8 RGB; boxes (M, 4) [x, y, w, h] or None (whole frame through the detector)."""
        kept = [(r, b, False) for r, b in person_results(self, image, boxes)
                if b is not None or r.presence >= self.min_presence]
        if boxes is None and not kept and self.frame_fallback:
            kept = [(person_results(self, image, full_image_box(image)[None])[0][0], None, True)]
        out: list[Instance] = []
        for found, box, fallback in kept:
            assert isinstance(found, HeadsRoiResult) and found.keypoints is not None
            result, kp = found, found.keypoints
            if box is None:
                lo, hi = kp[:, :2].min(axis=0), kp[:, :2].max(axis=0)
                box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
            mp33 = np.concatenate([result.landmarks39[:33, :2], result.landmarks39[:33, 3:4]], axis=1)
            inst = Instance(keypoints=kp, bbox=np.asarray(box, dtype=np.float64), score=float(kp[:, 2].mean()),
                            extra={"roi": result.roi, "presence": result.presence, "landmarks33": mp33,
                                   "frame_fallback": fallback})
            if flip_test or self.flip_average:
                flipped = self._flipped_heads(image, result.roi)
                if flip_test:
                    inst.extra["flip_keypoints"] = flipped
                if self.flip_average:
                    inst.keypoints = (kp + flipped) / 2
                    inst.score = float(inst.keypoints[:, 2].mean())
            out.append(inst)
        return out

    def _flipped_heads(self, image: np.ndarray, roi: Roi) -> npt.NDArray[np.float64]:
        """(K, 3) from the mirrored image and mirrored ROI, un-mirrored, left/right swapped back."""
        w = image.shape[1]
        mirrored = Roi(w - 1 - roi.center_x, roi.center_y, roi.size, -roi.rotation)
        kp = self.run_roi(np.ascontiguousarray(image[:, ::-1]), mirrored).keypoints
        assert kp is not None
        kp = kp.copy()
        kp[:, 0] = w - 1 - kp[:, 0]
        return kp[self.skeleton.flip_index]
