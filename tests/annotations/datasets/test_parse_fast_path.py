"""The per-file checks of a well-formed COCO file give exactly what the record-by-record path gives."""

import json

import numpy as np
import pytest

from annotations.datasets.formats import coco_fast
from annotations.datasets.formats.coco import parse_coco
from mlcore.skeletons import get_preset
from tests.conftest import CORRECT_JSON, LUMBAR_JSON


def both_paths(data, monkeypatch, expect_fast=True):
    skeleton = get_preset("coco17_spine")
    taken = []
    check = coco_fast.check_annotations
    with monkeypatch.context() as m:
        m.setattr(coco_fast, "check_annotations", lambda *a: taken.append(r := check(*a)) or r)
        fast = parse_coco(json.loads(json.dumps(data)), skeleton, "f.json")
    assert (taken[0] is not None) == expect_fast
    with monkeypatch.context() as m:
        m.setattr(coco_fast, "check_images", lambda raw: None)
        m.setattr(coco_fast, "check_annotations", lambda *a: None)
        slow = parse_coco(json.loads(json.dumps(data)), skeleton, "f.json")
    return fast, slow


def assert_same(fast, slow):
    assert fast.images == slow.images
    assert fast.annotations == slow.annotations
    assert [p.as_dict() for p in fast.problems] == [p.as_dict() for p in slow.problems]
    assert fast.unmapped_keypoints == slow.unmapped_keypoints
    for name in ("keypoints", "present", "bboxes", "areas", "ids", "instances"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


@pytest.mark.parametrize("path", [CORRECT_JSON, LUMBAR_JSON])
def test_real_cvat_files_parse_the_same_both_ways(path, monkeypatch):
    if not path.exists():
        pytest.skip(f"{path} not found")
    data = json.loads(path.read_text())
    fast, slow = both_paths(data, monkeypatch)
    assert len(fast.annotations) == len(data["annotations"]) and fast.problems  # points outside are warned about
    assert_same(fast, slow)


def test_absent_boxes_and_areas_two_people_and_folders_parse_the_same_both_ways(monkeypatch):
    names = get_preset("coco17_spine").keypoints[:17]
    kp = [10.5, 20, 2] * 16 + [700, 5, 1]  # the last point lies outside the 640x480 image
    data = {"categories": [{"id": 3, "keypoints": names}],
            "images": [{"id": 7, "file_name": "dir/a_1.jpg", "width": 640, "height": 480, "clip_id": "c"},
                       {"id": 8, "file_name": "b_2.jpg", "width": None, "height": None}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "keypoints": kp},
                            {"id": 2, "image_id": 8, "category_id": 3, "keypoints": kp, "bbox": [1, 2, 3, 4],
                             "area": -5, "attributes": {"form_label": "lumbar_error"}},
                            {"id": 5, "image_id": 7, "category_id": 3, "keypoints": [0] * 51, "area": 9.5}]}
    fast, slow = both_paths(data, monkeypatch)
    assert fast.instances.tolist() == [0, 0, 1] and fast.areas.tolist()[1] == 12.0
    assert_same(fast, slow)


def test_one_irregular_record_sends_the_file_down_the_path_that_names_it(monkeypatch):
    names = get_preset("coco17_spine").keypoints[:17]
    data = {"categories": [{"id": 1, "keypoints": names}],
            "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [1, 1, 2] * 17},
                            {"id": 2, "image_id": 1, "category_id": 1, "keypoints": [1, 1, 3] * 17}]}
    assert coco_fast.check_annotations(data["annotations"], {1: (64, 48)}, {1: np.arange(17)}, {1: names}, 37,
                                       "f.json", []) is None
    fast, slow = both_paths(data, monkeypatch, expect_fast=False)
    assert [p.reason for p in fast.problems] == ["visibility flags must be 0, 1 or 2"]
    assert_same(fast, slow)
