"""Training and held-out evaluation on plain COCO dicts (no database): shared by the retrain job and
the active-learning simulation, so both measure models the same way.

Keypoint quality on held-out clips: every held-out person predicted in its human box (top-down
evaluation), then mlcore.pipeline.evaluate (OKS-AP with the skeleton's sigmas, mean OKS, PCK,
pixel error per keypoint). Form quality: mlcore.pipeline.predict_form on the human keypoints of
the held-out clips, then evaluate (accuracy, F1, confusion matrix).
"""

from __future__ import annotations

import dataclasses
import logging
from contextlib import contextmanager
from pathlib import Path

from annotations.learning.bounds import check_form_config, check_keypoint_config
from mlcore import pipeline
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.form import FormClassifier
from mlcore.onnx_export import quantize_int8
from mlcore.predictors import load_predictor
from mlcore.skeletons import Skeleton
from mlcore.training.augment import AugmentConfig
from mlcore.training.common import no_progress
from mlcore.training.form import FormTrainConfig, train_form
from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints

# What the app trains unless the project's learning settings or the job say otherwise: heads on
# BlazePose's pretrained backbone when the MediaPipe extra's files are there ("auto"), else the built-in
# network with fewer epochs than mlcore's defaults, so a retrain on a few hundred frames takes minutes
# on a CPU. The heads' own settings are mlcore's (HeadTrainConfig) with DEFAULT_HEAD_CONFIG on top: one
# training instead of mlcore's ensemble of 3, because each member adds about 30 s to a 2-core retrain
# (bench/demo_retrain.py) and the demo's first retrain must stay under 3 minutes; a project raises
# `members` in its settings. For the same reason the training chooses how each crop is read among the
# rules whose views prediction jobs compute anyway (the plain and the mirrored crop, which gives the flip
# signal): the zoomed crops cost two more backbone passes per frame in every prediction; choosing among
# all five rules, the demo's first retrain took 186 s against 175 s with these three, one run each on an
# idle 2-core machine (bench/demo_retrain.py).
DEFAULT_KEYPOINT_CONFIG = {"epochs": 60, "patience": 20, "backbone": "auto"}
DEFAULT_HEAD_CONFIG: dict = {"members": 1, "test_views": ["plain", "flip_points", "flip_maps"]}
DEFAULT_FORM_CONFIG = {"epochs": 200}


@contextmanager
def quiet_quantiser():
    """onnxruntime's quantiser logs a line per tensor on the root logger; keep worker logs readable."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def _settings(config_class, defaults: dict, overrides: dict | None, what: str) -> dict:
    """Defaults with the JSON overrides on top; a name the config class lacks is a ValueError."""
    values = {**defaults, **(overrides or {})}
    unknown = set(values) - {f.name for f in dataclasses.fields(config_class)}
    if unknown:
        raise ValueError(f"unknown {what} training settings {sorted(unknown)}")
    return values


def keypoint_config(overrides: dict | None = None) -> KeypointTrainConfig:
    """KeypointTrainConfig from JSON overrides (input_size as [W, H], augment as a dict).

    The overrides are checked against annotations.learning.bounds (InputError naming the field)."""
    check_keypoint_config(overrides or {})
    values = _settings(KeypointTrainConfig, DEFAULT_KEYPOINT_CONFIG, overrides, "keypoint")
    if "input_size" in values:
        values["input_size"] = tuple(int(v) for v in values["input_size"])
    if "sigma" in values and values["sigma"] is not None:
        values["sigma"] = tuple(values["sigma"])
    if isinstance(values.get("augment"), dict):
        aug = dict(values["augment"])
        if "scale" in aug:
            aug["scale"] = tuple(aug["scale"])
        values["augment"] = AugmentConfig(**aug)
    values["head"] = HeadTrainConfig.from_dict({**DEFAULT_HEAD_CONFIG, **(values.get("head") or {})})
    return KeypointTrainConfig(**values)


def form_config(overrides: dict | None = None) -> FormTrainConfig:
    """FormTrainConfig from JSON overrides, checked against annotations.learning.bounds."""
    check_form_config(overrides or {})
    return FormTrainConfig(**_settings(FormTrainConfig, DEFAULT_FORM_CONFIG, overrides, "form"))


def has_form_labels(data: dict, minimum: int = 2) -> bool:
    labels = {(a.get("attributes") or {}).get("form_label") for a in data.get("annotations", [])}
    return len(labels - {None}) >= minimum


def train_keypoint_model(train: dict, val: dict | None, images_dir: Path, out_dir: Path, skeleton: Skeleton,
                         config: KeypointTrainConfig, progress=no_progress, int8: bool = True,
                         init_from: Path | None = None) -> dict:
    """Train into out_dir (mlcore model directory); adds model.int8.onnx when quantisation works.

    init_from: a model directory to start from (a model pretrained on pseudo-labels).
    """
    val = val if val and val.get("annotations") else None
    report = train_keypoints(train, images_dir, out_dir, val=val, skeleton=skeleton, config=config, progress=progress,
                             init_from=init_from)
    # The INT8 file is read by the SimCC top-down loader; heads on BlazePose export heatmaps, not SimCC.
    if int8 and report.get("backbone") != "blazepose":
        try:
            with quiet_quantiser():
                quantize_int8(Path(out_dir) / "model.onnx", Path(out_dir) / "model.int8.onnx")
        except Exception as exc:  # quantisation is a bonus; a model without it is still a model
            report["int8_error"] = f"{type(exc).__name__}: {exc}"
    return report


def train_form_model(train: dict, val: dict | None, out_dir: Path, skeleton: Skeleton, config: FormTrainConfig,
                     progress=no_progress, quantize: bool = True) -> dict:
    val = val if val and has_form_labels(val, 1) else None
    with quiet_quantiser():
        return train_form(train, out_dir, val=val, skeleton=skeleton, config=config, progress=progress,
                          quantize=quantize)


def evaluate_keypoint_predictor(predictor, gt: dict, images_dir: Path, progress=no_progress,
                                results_out: list | None = None) -> dict:
    """mlcore's keypoint report for `predictor` on the annotations of `gt` (each in its human box);
    the COCO results are appended to `results_out` when given."""
    if not gt.get("annotations"):
        return {}
    results = pipeline.predict_coco(gt, images_dir, predictor, boxes="auto", flip_test=False, progress=progress)
    results = [r for r in results if "annotation_id" in r]
    if results_out is not None:
        results_out.extend(results)
    if not results:
        return {}
    return pipeline.evaluate(gt, results)["keypoints"]


def evaluate_keypoint_dir(model_dir: Path, gt: dict, images_dir: Path, int8: bool = False,
                          progress=no_progress, results_out: list | None = None) -> dict:
    model_dir = Path(model_dir)
    if int8:
        if not (model_dir / "model.int8.onnx").is_file():
            return {}
        meta_skeleton = load_predictor(model_dir).skeleton
        predictor = load_predictor(model_dir / "model.int8.onnx", skeleton=meta_skeleton)
    else:
        predictor = load_predictor(model_dir)
    return evaluate_keypoint_predictor(predictor, gt, images_dir, progress, results_out)


def evaluate_form_classifier(classifier, gt: dict) -> dict:
    """mlcore's form report for a FormClassifier on the human keypoints and labels of `gt`."""
    if not has_form_labels(gt, 1):
        return {}
    results = pipeline.predict_form(gt, classifier)
    if not results:
        return {}
    return pipeline.evaluate(gt, results)["form"]


def evaluate_form_dir(model_dir: Path, gt: dict, int8: bool = False) -> dict:
    return evaluate_form_classifier(FormClassifier(model_dir, int8=int8), gt)


def keypoint_quality(report: dict) -> tuple[float, float]:
    """What promotion compares for keypoint models: (OKS-AP, mean OKS); missing parts count as -1."""
    if not report:
        return (-1.0, -1.0)
    ap = (report.get("oks_ap") or {}).get("AP")
    mean = report.get("mean_oks")
    return (_num(ap), _num(mean))


def form_quality(report: dict) -> tuple[float, float]:
    """What promotion compares for form models: (macro F1, accuracy)."""
    if not report:
        return (-1.0, -1.0)
    return (_num(report.get("f1_macro")), _num(report.get("accuracy")))


def _num(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return -1.0
    return v if v == v and v >= 0 else -1.0
