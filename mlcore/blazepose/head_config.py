"""Settings for training keypoint heads on BlazePose's frozen backbone (no torch import, so configs stay cheap)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The flip test of top-down pose models (HRNet, RTMPose): a second pass on the mirrored crop, averaged.
# None: each training decides on its own held-out clips (flip_test.choose_flip_average); on barbell-row it
# moved held-out mean OKS by +0.004 to +0.01 (docs/mlcore.md). Prediction jobs run the mirrored pass anyway
# for the flip uncertainty signal, so averaging costs them nothing more.
FLIP_AVERAGE: bool | None = None
# Training the backbone's last stage with the heads: on barbell-row's held-out clips it raised mean OKS
# (bench/mlcore_tail.py, docs/mlcore.md), for about twice the heads' training time.
STAGE_SCALE = 0.1
# ``stages`` that trains the whole backbone: its stem and its five stages (128, 64, 32, 16 and 8 pixels
# square), from the crops themselves. Several times the 8 x 8 stage's training on a CPU: meant for a GPU.
WHOLE_BACKBONE = 5
STAGE_CHOICES = (1, 2, WHOLE_BACKBONE)
# How a model reads each crop at test time (mlcore.blazepose.test_views.RULES, kept in step with it here so
# that settings stay free of torch): the plain crop, with its mirror (point by point or on the heatmaps),
# with two zoomed crops, or all four views on the heatmaps.
TEST_VIEW_RULES = ("plain", "flip_points", "flip_maps", "zoom", "zoom_flip_maps")


@dataclass
class HeadTrainConfig:
    """Heads on cached backbone features (``mlcore.blazepose.training``).

    Each training frame is cropped ``2 + variants`` times: the person box's ROI (``BlazePosePredictor``'s
    rules with boxes: the matching detection's ROI, else the box's square, then the tracking pass),
    the detector's whole-frame ROI (when it finds a person; not repeated when it is the box's) and
    ``variants`` augmented ROIs (box ROI scaled by ``scale``, shifted by ``shift`` x side
    (std), rotated by +-``rotation`` degrees with ``rotation_prob``, mirrored with ``flip``, colour
    jitter ``colour``); the frozen backbone runs once per crop and the heads train on the cache.
    """

    epochs: int = 25
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    hidden: int = 32
    sigma: float = 1.5                      # target Gaussian width in heatmap cells (4 crop pixels)
    # 2 jittered crops per frame and early stopping after 3 epochs without gain: what barbell-row's
    # figures were measured with (bench/mlcore_kp_errors.py); chosen for time, since the backbone pass
    # over the crops is most of a first training and a stage + heads epoch costs about 2.5 heads-only
    # ones (the best epoch came 1-6 epochs in, nothing better in the 6 after it). The defaults were 4 crops
    # and patience 6 until three members became the default: 18 minutes for one training on 2 cores.
    variants: int = 2
    scale: tuple[float, float] = (0.8, 1.25)
    shift: float = 0.08
    rotation: float = 30.0
    rotation_prob: float = 0.5
    flip: float = 0.5
    colour: float = 0.2
    patience: int = 3                       # early stopping on held-out clips, epochs
    inner_val_folds: int = 5                # without a val file: 1 of this many clip-grouped folds is held out
    window: int = 5                         # decoding window (cells)
    min_presence: float = 0.5               # whole frame: BlazePose's pose presence below this drops the person
    frame_fallback: bool = True             # whole frame, nobody kept: the frame itself as the person box
    box_roi: str = "detection"              # as BlazePosePredictor (its ROI rules with person boxes) ...
    box_rotation: str = "detector"          # ... detector | landmarks | none
    track: bool = True                      # ... second pass on the tracking ROI with boxes
    flip_average: bool | None = FLIP_AVERAGE  # predict with the mean of the plain and the mirrored pass;
    # None: on when it scores higher on the held-out clips (off without any)
    # How each crop is read at test time (TEST_VIEW_RULES): one rule, a list of rules (the one that scores
    # highest on the held-out clips), or None: every rule when flip_average is None too (flip_average True /
    # False force "flip_points" / "plain"). On barbell-row's held-out clips the rule chosen among all five
    # scored 0.7585 mean OKS with person boxes against 0.7489 for the choice between plain and flip_points
    # alone (bench/mlcore_test_views.py, docs/mlcore.md).
    test_views: str | list[str] | None = None
    # Left/right points start from their twins' BlazePose channels (labels naming sides as a mirror does);
    # None: whichever way BlazePose's own landmarks agree better with the training labels (side_convention).
    mirrored_sides: bool | None = None
    # Predictions smoothed along a clip, each point over the radius that scores best on the held-out clips
    # (mlcore.temporal_smoothing). Off by default: on barbell-row's held-out clips the chosen radii moved
    # mean OKS by +0.002 and lowered OKS-AP by 0.016 (bench/mlcore_kp_errors.py, docs/mlcore.md).
    temporal_smoothing: bool = False
    # BlazePose's last backbone stage (8 x 8) trained with the heads, at this fraction of their learning
    # rate (mlcore/blazepose/tail.py); 0 keeps the whole backbone frozen.
    stage_scale: float = STAGE_SCALE
    # How many last stages train: 1 = 8 x 8; 2 = 16 x 16 and 8 x 8; WHOLE_BACKBONE = all of it. Deeper did
    # not help on barbell-row's held-out clips with a CPU's budget of crops and epochs: the whole backbone
    # scored about 0.06 mean OKS below the 8 x 8 stage (bench/mlcore_cli_folds.py, docs/mlcore.md).
    stages: int = 1
    # Early stopping scores, and the model keeps, a moving average of the weights over about this many
    # epochs (training.weight_average); 0 scores and keeps the trained weights themselves.
    ema_epochs: float = 0.0
    # Trainings whose heatmaps are averaged (mlcore.blazepose.ensemble), each early-stopped on another
    # clip-grouped inner fold. On barbell-row's held-out clips the command line's training with 3 members
    # scored 0.744 mean OKS with person boxes against 0.727 for one (bench/mlcore_cli_folds.py,
    # docs/mlcore.md), for about 3x the heads' training.
    # The web app's retrains train one (annotations.learning.training.DEFAULT_HEAD_CONFIG), for time.
    members: int = 3
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadTrainConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "scale" in known:
            known["scale"] = tuple(known["scale"])
        return cls(**known)
