"""The store of backbone crops kept between retrains: same crops from disk, labels free to move, LRU pruning."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore import coco
from mlcore.blazepose.crop_store import CropStore, FrameCrops, frame_key
from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
from mlcore.skeletons import COCO17


@pytest.fixture(scope="module")
def predictor():
    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    from mlcore.blazepose.predictor import BlazePosePredictor

    return BlazePosePredictor()


@pytest.fixture(scope="module")
def two_frames(dataset):
    from mlcore.training.keypoints import load_samples

    data = coco.load_coco(dataset / "annotations" / "correct_n2_3_7_100.json")
    ids = sorted({a["image_id"] for a in data["annotations"]})[:2]
    return load_samples(coco.subset(data, ids), dataset / "images", COCO17)


def _cfg():
    from mlcore.blazepose.head_config import HeadTrainConfig

    return HeadTrainConfig(variants=2, flip=1.0)


def test_a_second_build_reads_every_crop_from_the_store_without_the_backbone(predictor, two_frames, tmp_path,
                                                                              monkeypatch):
    from mlcore.blazepose.crops import build_cache

    store = CropStore(tmp_path)
    first = build_cache(two_frames, COCO17, predictor, _cfg(), store=store)
    assert store.misses == 4 and store.hits == 0  # base + augmented per frame
    assert first.flipped.sum() == 4                # flip=1.0: every augmented crop mirrored

    def no_backbone(*args, **kwargs):
        raise AssertionError("the backbone ran although every crop was stored")

    monkeypatch.setattr(predictor.net, "run", no_backbone)
    again = CropStore(tmp_path)
    second = build_cache(two_frames, COCO17, predictor, _cfg(), store=again)
    assert again.hits == 4 and again.misses == 0
    for name in ("features", "points", "matrices", "kind", "flipped", "sample", "duplicate"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)


def test_moved_labels_reuse_the_crops_with_new_targets_and_a_new_box_does_not(predictor, two_frames, tmp_path):
    from mlcore.blazepose.crops import build_cache
    from mlcore.training.keypoint_common import KeypointSamples

    store = CropStore(tmp_path)
    before = build_cache(two_frames, COCO17, predictor, _cfg(), augment=[], store=store)
    moved = KeypointSamples(images=two_frames.images, keypoints=two_frames.keypoints.copy(),
                            bboxes=two_frames.bboxes, areas=two_frames.areas, image_ids=two_frames.image_ids,
                            missing=0)
    moved.keypoints[0, 0, 0] += 10.0  # the nose of frame 0, 10 px right
    reuse = CropStore(tmp_path)
    after = build_cache(moved, COCO17, predictor, _cfg(), augment=[], store=reuse)
    assert reuse.hits == 2 and reuse.misses == 0
    rows = after.rows([0])
    shift = after.points[rows, 0, :2] - before.points[rows, 0, :2]
    # 10 image px through each crop's similarity transform: 10 x scale / 4 px per heatmap cell.
    scale = np.hypot(after.matrices[rows, 0, 0], after.matrices[rows, 0, 1])
    np.testing.assert_allclose(np.hypot(*shift.T), 10.0 * scale / 4, rtol=1e-9)
    np.testing.assert_array_equal(after.points[after.rows([1])], before.points[before.rows([1])])

    reboxed = KeypointSamples(images=two_frames.images, keypoints=two_frames.keypoints,
                              bboxes=two_frames.bboxes + np.array([[5.0, 0, 0, 0], [0, 0, 0, 0]]),
                              areas=two_frames.areas, image_ids=two_frames.image_ids, missing=0)
    third = CropStore(tmp_path)
    build_cache(reboxed, COCO17, predictor, _cfg(), augment=[], store=third)
    assert third.hits == 1 and third.misses == 1


def test_keys_follow_pixels_box_settings_and_part():
    image = np.zeros((8, 6, 3), dtype=np.uint8)
    box = [1.0, 2.0, 3.0, 4.0]
    settings = {"min_presence": 0.5, "box_roi": "detection", "box_rotation": "detector", "track": True,
                "variants": 4, "seed": 0}
    key = frame_key(image, box, settings, "m", "base")
    assert key == frame_key(image.copy(), [1.001, 2.0, 3.0, 4.0], settings, "m", "base")
    other = image.copy()
    other[0, 0, 0] = 1
    assert key != frame_key(other, box, settings, "m", "base")
    assert key != frame_key(image, [1.5, 2.0, 3.0, 4.0], settings, "m", "base")
    assert key != frame_key(image, box, settings, "other model", "base")
    assert key != frame_key(image, box, settings, "m", "augmented")
    # Jitter settings change the augmented crops only.
    more = {**settings, "variants": 6}
    assert key == frame_key(image, box, more, "m", "base")
    assert frame_key(image, box, settings, "m", "augmented") != frame_key(image, box, more, "m", "augmented")


def _entry(n: int) -> FrameCrops:
    return FrameCrops.stack([{"features": np.zeros((48, 64, 64), np.float16), "matrices": np.eye(2, 3),
                              "kind": 0, "duplicate": False, "flipped": False, "landmarks": np.zeros((39, 5)),
                              "presence": 1.0}] * n)


def test_pruning_drops_the_least_recently_used_entries_first(tmp_path):
    import os
    import time

    store = CropStore(tmp_path, max_bytes=10**9)
    for i, key in enumerate(("aa01", "bb02", "cc03")):
        store.put(key, _entry(1))
        path = tmp_path / key[:2] / f"{key}.npz"
        os.utime(path, (time.time() - 100 + i, time.time() - 100 + i))
    assert store.get("aa01") is not None       # a hit makes it the most recent
    size = (tmp_path / "aa" / "aa01.npz").stat().st_size
    store.max_bytes = 2 * size
    assert store.prune() == 1
    assert store.get("bb02") is None and store.get("aa01") is not None and store.get("cc03") is not None


def test_a_damaged_entry_is_a_miss_and_no_root_stores_nothing(tmp_path):
    store = CropStore(tmp_path)
    (tmp_path / "dd").mkdir()
    (tmp_path / "dd" / "dd04.npz").write_bytes(b"not a zip")
    assert store.get("dd04") is None and store.misses == 1
    off = CropStore(None)
    off.put("ee05", _entry(1))
    assert off.get("ee05") is None and off.prune() == 0
