"""The built-in keypoint model trains, checkpoints, stops early, exports with parity and predicts."""

import json

import numpy as np
import pytest

from mlcore import coco, metrics
from mlcore.predictors import load_predictor
from mlcore.training.augment import AugmentConfig, crop_sample
from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints

from .synthetic import blob_frames

TINY = dict(input_size=(32, 48), width=8, hidden=32, batch_size=4, lr=3e-3)


def test_flip_augmentation_swaps_the_flip_pairs_and_keeps_points_on_their_pixels():
    image = np.zeros((40, 30, 3), np.uint8)
    image[10, 5] = (255, 0, 0)          # the left point is red
    image[30, 20] = (0, 0, 255)         # the right point is blue
    kp = np.array([[5, 10, 2], [20, 30, 2]], dtype=float)
    cfg = AugmentConfig(flip=1.0, scale=(1, 1), rotation=0, rotation_prob=0, shift=0, full_frame=0, colour=0,
                        padding=1.0)
    crop, out = crop_sample(image, kp, [0, 0, 30, 40], (30, 40), [1, 0], np.random.default_rng(0), cfg)
    # After the flip, target 0 (left) is the old right point: the blue one, mirrored to x = 29 - 20.
    np.testing.assert_allclose(out[0], [9, 30, 2])
    np.testing.assert_allclose(out[1], [24, 10, 2])
    assert crop[30, 9, 2] == 255 and crop[10, 24, 0] == 255


def test_rotation_and_scale_keep_keypoints_on_their_pixels():
    image = np.zeros((60, 60, 3), np.uint8)
    image[20:23, 40:43] = 255
    kp = np.array([[41, 21, 2]], dtype=float)
    cfg = AugmentConfig(flip=0, scale=(0.8, 1.2), rotation=40, rotation_prob=1.0, shift=0.05, full_frame=0, colour=0)
    for seed in range(5):
        crop, out = crop_sample(image, kp, [10, 10, 40, 40], (32, 32), [0], np.random.default_rng(seed), cfg)
        x, y = np.round(out[0, :2]).astype(int)
        assert crop[y, x].max() > 100


def test_training_learns_to_find_the_dots_and_writes_a_model_dir(tmp_path):
    data = blob_frames(tmp_path, n=48)
    train = coco.subset(data, range(1, 41))
    val = coco.subset(data, range(41, 49))
    seen = []
    cfg = KeypointTrainConfig(epochs=30, patience=100, seed=0, **TINY,
                              augment=AugmentConfig(rotation_prob=0.3, full_frame=0.0, padding=1.0))
    report = train_keypoints(train, tmp_path / "frames", tmp_path / "model", val=val, config=cfg,
                             progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    for name in ("model.json", "model.onnx", "model.pt", "history.json", "checkpoints/last.pt"):
        assert (tmp_path / "model" / name).is_file(), name
    assert report["onnx_max_abs_diff"] < 1e-4
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["kind"] == "keypoints" and meta["skeleton"]["keypoints"] == ["left_dot", "right_dot"]
    # It learns: the kept (best) epoch is far better on unseen frames than the first one.
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert report["val"]["mean_oks"] == pytest.approx(max(h["val_mean_oks"] for h in history), abs=1e-6)
    assert report["val"]["mean_oks"] > history[0]["val_mean_oks"] + 0.15, [h["val_mean_oks"] for h in history]
    pred = load_predictor(tmp_path / "model")
    table = coco.keypoint_table(val)
    from mlcore.images import load_rgb

    out = np.stack([pred.predict(load_rgb(tmp_path / "frames" / f), [[0, 0, 48, 64]])[0].keypoints
                    for f in table.file_names])
    err, _ = metrics.pixel_error(out, table.keypoints)
    assert err == pytest.approx(report["val"]["mean_pixel_error"], abs=0.5)


def test_early_stopping_and_resume(tmp_path):
    data = blob_frames(tmp_path, n=12)
    cfg = KeypointTrainConfig(epochs=30, patience=2, **TINY, augment=AugmentConfig(full_frame=0.0))
    report = train_keypoints(data, tmp_path / "frames", tmp_path / "m", val=data, config=cfg)
    assert report["epochs_run"] < 30
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    best = max(range(len(history)), key=lambda i: history[i]["val_mean_oks"])
    assert report["best_epoch"] == best + 1 and len(history) - 1 - best >= 2
    # Resuming a finished run with more epochs continues from the saved epoch.
    cfg2 = KeypointTrainConfig(epochs=len(history) + 2, patience=100, **TINY, augment=AugmentConfig(full_frame=0.0))
    report2 = train_keypoints(data, tmp_path / "frames", tmp_path / "m", val=data, config=cfg2, resume=True)
    assert report2["epochs_run"] == len(history) + 2
