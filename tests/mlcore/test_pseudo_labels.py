"""Pseudo-labels from a pre-annotator's predictions, and training that starts from another model's weights."""

import json

import pytest

from mlcore import coco
from mlcore.pseudo_labels import pseudo_label_coco
from mlcore.training.augment import AugmentConfig
from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints

from .synthetic import blob_frames
from .test_keypoint_training import TINY


def _images(n: int) -> dict:
    cat = {"id": 3, "name": "dots", "keypoints": ["a", "b", "c"], "skeleton": []}
    return {"categories": [cat], "images": [{"id": i, "file_name": f"c_1_{i}.jpg", "width": 100, "height": 80}
                                            for i in range(1, n + 1)],
            "annotations": [{"id": 9, "image_id": 1, "category_id": 3, "keypoints": [0] * 9, "bbox": [0, 0, 1, 1]}]}


def test_confident_points_become_labels_and_the_box_is_the_one_around_them():
    results = [
        {"image_id": 1, "keypoints": [10, 20, 2, 50, 60, 2, 90, 5, 1], "keypoint_scores": [0.9, 0.6, 0.2],
         "model_version": "mp"},
        {"image_id": 2, "keypoints": [10, 20, 2, 50, 60, 1, 90, 5, 1], "keypoint_scores": [0.9, 0.3, 0.2]},
        {"image_id": 99, "keypoints": [10, 20, 2, 50, 60, 2, 90, 5, 2], "keypoint_scores": [1, 1, 1]},
    ]
    out = pseudo_label_coco(_images(3), results, min_score=0.5, min_keypoints=2, min_box=4)
    # Image 2 has one confident point (< 2), image 3 no prediction, image 99 is not listed: only image 1 stays.
    assert [i["id"] for i in out["images"]] == [1]
    (ann,) = out["annotations"]
    assert ann["image_id"] == 1 and ann["category_id"] == 3 and ann["num_keypoints"] == 2
    assert ann["keypoints"] == [10, 20, 2, 50, 60, 2, 0, 0, 0]
    assert ann["bbox"] == [10, 20, 40, 40] and ann["area"] == 1600
    assert ann["attributes"]["pseudo_label"] == "mp"
    # The input's own annotations are not carried over.
    assert all(a["id"] != 9 for a in out["annotations"])


def test_scores_fall_back_to_the_third_value_and_tiny_boxes_are_dropped():
    results = [{"image_id": 1, "keypoints": [10, 20, 0.8, 12, 22, 0.9, 90, 5, 0.1]},
               {"image_id": 2, "keypoints": [10, 20, 0.8, 50, 60, 0.9, 90, 5, 0.1]}]
    out = pseudo_label_coco(_images(2), results, min_score=0.5, min_keypoints=2, min_box=16)
    assert [a["image_id"] for a in out["annotations"]] == [2]


def test_a_prediction_in_another_skeleton_is_refused():
    with pytest.raises(ValueError, match="2 keypoints, the skeleton 3"):
        pseudo_label_coco(_images(1), [{"image_id": 1, "keypoints": [1, 2, 1, 3, 4, 1]}], min_keypoints=1)


def test_training_from_a_saved_model_starts_where_it_left_off(tmp_path):
    data = blob_frames(tmp_path, n=32)
    train, val = coco.subset(data, range(1, 25)), coco.subset(data, range(25, 33))
    aug = AugmentConfig(rotation_prob=0.3, full_frame=0.0, padding=1.0)
    first = train_keypoints(train, tmp_path / "frames", tmp_path / "first", val=val,
                            config=KeypointTrainConfig(epochs=25, patience=100, **TINY, augment=aug))
    # The weights are copied exactly.
    import torch

    from mlcore.nets.keypoint_net import KeypointNet
    from mlcore.training.keypoints import load_initial_weights

    saved = torch.load(tmp_path / "first" / "model.pt", weights_only=False)
    net = KeypointNet(2, TINY["input_size"], 2.0, TINY["width"], TINY["hidden"], 0.1)
    load_initial_weights(net, tmp_path / "first", coco.category_skeleton(train))
    for name, value in net.state_dict().items():
        assert torch.equal(value, saved["model"][name]), name
    # One epoch at a vanishing learning rate barely moves the weights (BatchNorm statistics still
    # adapt): from the saved model it stays near the saved model's accuracy; from random weights it is chance.
    still = dict(TINY, lr=1e-7)
    warm = train_keypoints(train, tmp_path / "frames", tmp_path / "warm", val=val, init_from=tmp_path / "first",
                           config=KeypointTrainConfig(epochs=1, **still, augment=aug))
    cold = train_keypoints(train, tmp_path / "frames", tmp_path / "cold", val=val,
                           config=KeypointTrainConfig(epochs=1, **still, augment=aug))
    assert warm["val"]["mean_oks"] > first["val"]["mean_oks"] - 0.1, (warm["val"], first["val"])
    assert warm["val"]["mean_oks"] > cold["val"]["mean_oks"] + 0.15, (warm["val"], cold["val"])
    meta = json.loads((tmp_path / "warm" / "model.json").read_text())
    assert meta["metrics"]["init_from"] == str(tmp_path / "first")


def test_a_model_that_does_not_fit_is_refused_with_the_reason(tmp_path):
    data = blob_frames(tmp_path, n=8)
    cfg = KeypointTrainConfig(epochs=1, **TINY, augment=AugmentConfig(full_frame=0.0))
    train_keypoints(data, tmp_path / "frames", tmp_path / "base", config=cfg)
    wider = KeypointTrainConfig(epochs=1, **dict(TINY, width=16), augment=AugmentConfig(full_frame=0.0))
    with pytest.raises(ValueError, match="network settings"):
        train_keypoints(data, tmp_path / "frames", tmp_path / "x", config=wider, init_from=tmp_path / "base")
    renamed = json.loads(json.dumps(data))
    renamed["categories"][0]["keypoints"] = ["first_dot", "second_dot"]
    with pytest.raises(ValueError, match="predicts 2 keypoints"):
        train_keypoints(renamed, tmp_path / "frames", tmp_path / "y", config=cfg, init_from=tmp_path / "base")
    with pytest.raises(ValueError, match="holds no model.pt"):
        train_keypoints(data, tmp_path / "frames", tmp_path / "z", config=cfg, init_from=tmp_path / "frames")
