"""What training settings and learning-job params may be: every bound in one place.

The learning settings (PATCH .../learning/settings/, the models page) and each predict, score and
retrain job's params are checked against these before anything is stored or queued, so
`epochs: -5` or `input_size: [100000, 100000]` is a 400 naming the field, not a job that fails (or
runs for days) later. The README's "Learning settings" table repeats the ranges.
"""

from __future__ import annotations

from annotations.core.errors import InputError
from annotations.core.params import (
    boolean,
    check_params,
    integer,
    list_of,
    number,
    obj,
    one_of,
    text,
)
from mlcore.blazepose.head_config import STAGE_CHOICES, TEST_VIEW_RULES, WHOLE_BACKBONE

MAX_EPOCHS = 2000
# Network input sides (W and H, pixels): multiples of 16 from 32 to 512.
INPUT_SIDES = tuple(range(32, 513, 16))
SEED = integer(0, 2**31 - 1)
FRACTION = number(0.0, 1.0)


def _input_size(value, field):
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v in INPUT_SIDES for v in value)):
        raise InputError(f"'{field}' must be [W, H], each a multiple of 16 from 32 to 512")


def _stages(value, field):
    integer()(value, field)
    if value not in STAGE_CHOICES:
        raise InputError(f"'{field}' must be one of {list(STAGE_CHOICES)} (the backbone's last stages that train; "
                         f"{WHOLE_BACKBONE} = all of it), got {value!r}")


def _pair(low: float, high: float):
    return list_of(number(low, high), min_length=2, max_length=2)


# 0 is allowed: a run that keeps its starting weights (a baseline, or a frozen model in tests).
LEARNING_RATE = number(0, 1.0)

AUGMENT = {
    "flip": FRACTION, "scale": _pair(0.1, 4.0), "rotation": number(0, 180), "rotation_prob": FRACTION,
    "shift": FRACTION, "full_frame": FRACTION, "colour": FRACTION, "padding": number(1.0, 3.0),
}

HEAD = {
    "epochs": integer(1, MAX_EPOCHS), "batch_size": integer(1, 512), "lr": LEARNING_RATE,
    "weight_decay": number(0, 1.0), "hidden": integer(4, 1024), "sigma": number(0.1, 20),
    "variants": integer(0, 32), "scale": _pair(0.1, 4.0), "shift": FRACTION, "rotation": number(0, 180),
    "rotation_prob": FRACTION, "flip": FRACTION, "colour": FRACTION, "patience": integer(1, MAX_EPOCHS),
    "inner_val_folds": integer(2, 20), "window": integer(1, 64), "min_presence": FRACTION,
    "box_rotation": text(("detector", "landmarks", "none")), "seed": SEED, "flip_average": boolean(null=True),
    "temporal_smoothing": boolean(), "mirrored_sides": boolean(null=True),
    "stage_scale": number(0, 1.0), "stages": _stages, "ema_epochs": number(0, MAX_EPOCHS),
    "members": integer(1, 5), "test_views": one_of(text(TEST_VIEW_RULES, null=True),
                                                  list_of(text(TEST_VIEW_RULES), min_length=1,
                                                          max_length=len(TEST_VIEW_RULES))),
}

# mlcore.training.keypoints.KeypointTrainConfig, as JSON.
KEYPOINT_CONFIG = {
    "epochs": integer(1, MAX_EPOCHS), "batch_size": integer(1, 512), "lr": LEARNING_RATE,
    "weight_decay": number(0, 1.0), "input_size": _input_size, "width": integer(4, 256),
    "hidden": integer(8, 2048), "dropout": number(0, 0.9), "split_ratio": number(1.0, 4.0),
    "beta": number(0.1, 100), "sigma": list_of(number(0.1, 64), min_length=2, max_length=2, null=True),
    "patience": integer(1, MAX_EPOCHS), "seed": SEED, "augment": obj(AUGMENT),
    "backbone": text(("scratch", "blazepose", "auto")), "head": obj(HEAD),
}

# mlcore.training.form.FormTrainConfig, as JSON.
FORM_CONFIG = {
    "arch": text(("auto", "select", "geometry", "gcn", "mlp")), "epochs": integer(1, MAX_EPOCHS),
    "lr": LEARNING_RATE, "weight_decay": number(0, 1.0), "hidden": integer(4, 1024), "dropout": number(0, 0.9),
    "noise": FRACTION, "scale": FRACTION, "rotation": number(0, 180), "drop_point": FRACTION,
    "patience": integer(1, MAX_EPOCHS), "seed": SEED, "select_folds": integer(2, 20),
}

MC_SAMPLES = integer(0, 64)
PRETRAIN_EPOCHS = integer(0, 1000)
RETRAIN_AFTER = integer(0, 10**6)
MODEL_ID = one_of(integer(1, 2**63 - 1), text())  # a model id (or a name the runtime resolves)

PREDICT_PARAMS = {
    "frames": list_of(integer(1, 2**63 - 1), max_length=1_000_000), "clips": list_of(text(), max_length=100_000),
    "scope": text(("all", "pool", "annotated")), "model_version": MODEL_ID, "flip_test": boolean(),
    "mc_samples": MC_SAMPLES, "then_score": boolean(), "validate": integer(1, 2**63 - 1),
}
SCORE_PARAMS = {"model_version": MODEL_ID}
RETRAIN_PARAMS = {
    "split_version": integer(1, 2**31 - 1), "keypoint_config": obj(KEYPOINT_CONFIG), "form_config": obj(FORM_CONFIG),
    "pretrain_model": integer(0, 2**63 - 1, null=True), "pretrain_epochs": PRETRAIN_EPOCHS,
    "skip_form": boolean(), "force": boolean(), "chain": boolean(), "predict": obj(PREDICT_PARAMS),
}
JOB_PARAMS = {"predict": PREDICT_PARAMS, "score": SCORE_PARAMS, "retrain": RETRAIN_PARAMS}


def check_job_params(kind: str, params) -> dict:
    """A learning job's params, checked by type and range (InputError naming the field)."""
    return check_params(params, JOB_PARAMS.get(kind, {}), "params")


def check_keypoint_config(values) -> dict:
    return check_params(values, KEYPOINT_CONFIG, "keypoint_config")


def check_form_config(values) -> dict:
    return check_params(values, FORM_CONFIG, "form_config")
