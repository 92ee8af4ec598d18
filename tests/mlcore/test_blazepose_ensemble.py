"""Several trainings of the BlazePose heads answering together (``HeadTrainConfig.members``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mlcore.blazepose.ensemble import mean_probability_logits
from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files

from .test_blazepose_heads import _four_frames


def test_the_ensemble_heatmap_is_the_mean_of_the_members_probabilities():
    from mlcore.blazepose.heads import decode_heatmaps

    rng = np.random.default_rng(0)
    a, b = (torch.from_numpy(rng.normal(size=(2, 3, 8, 8)).astype(np.float32) * 3) for _ in range(2))
    mixed = mean_probability_logits([a, b])

    def probs(x):
        return torch.softmax(x.reshape(2, 3, 64), -1).reshape(2, 3, 8, 8)

    assert torch.allclose(probs(mixed), (probs(a) + probs(b)) / 2, atol=1e-6)
    assert torch.allclose(probs(mean_probability_logits([a])), probs(a), atol=1e-6)
    # Two members that agree give that answer; two that disagree give a point between (or on one of) them.
    assert np.allclose(decode_heatmaps(mean_probability_logits([a, a]).numpy()), decode_heatmaps(a.numpy()),
                       atol=1e-5)


@pytest.fixture(scope="module")
def ensemble_dir(dataset, tmp_path_factory):
    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    from mlcore.blazepose.head_config import HeadTrainConfig
    from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints

    data = _four_frames(dataset)
    out = tmp_path_factory.mktemp("ensemble_model")
    cfg = KeypointTrainConfig(backbone="blazepose",
                              head=HeadTrainConfig(epochs=1, variants=1, batch_size=4, hidden=8, inner_val_folds=2,
                                                   members=2))
    report = train_keypoints(data, dataset / "images", out, config=cfg)
    return out, report, data


def test_each_member_is_early_stopped_on_its_own_inner_clips(ensemble_dir):
    out, report, _ = ensemble_dir
    first, second = report["members"]
    assert first["val_frames"] == 2 and second["val_frames"] == 2       # one of the two clips each
    assert first["train_frames"] == second["train_frames"] == 2
    assert report["val_model"] == "member 0 alone"
    # How each crop is read is chosen on both members' own held-out clips pooled (2 + 2 frames), not member 0's
    # alone.
    choice = report["test_views_choice"]
    assert choice["members"] == 2 and choice["frames"] == 4
    assert report["test_views"] == choice["test_views"] == max(choice["mean_oks"], key=choice["mean_oks"].get)
    flip = report["flip_test"]
    assert flip["members"] == 2 and flip["frames"] == 4
    assert flip["flip_average"] is (flip["averaged_mean_oks"] > flip["plain_mean_oks"])
    state = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    assert len(state["members"]) == 1 and state["members"][0]["stage"]   # the second member, with its stage
    first_w = state["heads"]["refine.0.weight"]
    assert not torch.equal(first_w, state["members"][0]["heads"]["refine.0.weight"])
    assert report["onnx_max_abs_diff"] < 1e-3


def test_the_predictor_answers_the_mean_of_its_members_and_onnx_matches_it(ensemble_dir, dataset):
    import onnxruntime as ort

    from mlcore.blazepose.ensemble import HeadsEnsemble
    from mlcore.blazepose.models import INPUT_SIZE
    from mlcore.images import load_rgb
    from mlcore.predictors import load_predictor

    out, _, data = ensemble_dir
    pred = load_predictor(str(out))
    assert pred.members == 2 and isinstance(pred.heatmap_model, HeadsEnsemble)
    img = data["images"][0]
    image = load_rgb(next((dataset / "images").rglob(img["file_name"])))
    ann = next(a for a in data["annotations"] if a["image_id"] == img["id"])
    both = pred.predict(image, np.asarray([ann["bbox"]], dtype=np.float64))[0].keypoints
    ensemble = pred.heatmap_model
    pred.heatmap_model = ensemble.members[0]                                # member 0 alone
    alone = pred.predict(image, np.asarray([ann["bbox"]], dtype=np.float64))[0].keypoints
    pred.heatmap_model = ensemble
    assert np.abs(both[:, :2] - alone[:, :2]).max() > 1e-3                 # the second member changes the answer

    crop = np.random.default_rng(1).random((1, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_heatmaps = session.run(["heatmaps"], {"input": crop})[0]
    with torch.no_grad():
        torch_heatmaps = pred.heatmap_model(pred.net.run(torch.from_numpy(crop)).features).numpy()
    assert np.abs(onnx_heatmaps - torch_heatmaps).max() < 1e-3
    meta = json.loads((out / "model.json").read_text())
    assert meta["config"]["head"]["members"] == 2
