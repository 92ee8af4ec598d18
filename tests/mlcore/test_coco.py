"""COCO helpers: the lab's merge and split semantics, clip ids, form labels, arrays."""

import json

import numpy as np

from mlcore import coco
from mlcore.skeletons import COCO17, COCO17_SPINE


def cvat_file(file_names, annotated, cat_id=1, first_ann_id=1):
    """A CVAT-like export: every frame listed, only some annotated."""
    cat = {"id": cat_id, "name": "human", "keypoints": ["Nose", "Left Eye"], "skeleton": []}
    images = [{"id": i + 1, "file_name": f, "width": 10, "height": 20} for i, f in enumerate(file_names)]
    anns = [{"id": first_ann_id + j, "image_id": i + 1, "category_id": cat_id, "bbox": [0, 0, 5, 5],
             "keypoints": [1, 2, 2, 3, 4, 1], "attributes": {"occluded": False}}
            for j, i in enumerate(annotated)]
    return {"info": {"description": "x"}, "licenses": [], "categories": [cat], "images": images, "annotations": anns}


def test_clip_id_comes_from_the_file_name_unless_the_record_has_one():
    assert coco.clip_id_from_file_name("52723_8_10.jpg") == "52723_8"
    assert coco.clip_id_from_file_name("correct/52723_8_10.jpg") == "52723_8"
    assert coco.clip_id_from_file_name("single.png") == "single"
    assert coco.clip_id({"file_name": "52723_8_10.jpg"}) == "52723_8"
    assert coco.clip_id({"file_name": "52723_8_10.jpg", "clip_id": "setA"}) == "setA"
    assert coco.frame_index({"file_name": "52723_8_10.jpg"}) == 10


def test_form_label_reads_the_annotation_attributes():
    assert coco.form_label({"attributes": {"form_label": "lumbar_error"}}) == "lumbar_error"
    assert coco.form_label({"attributes": {"occluded": False}}) is None
    assert coco.form_label({}) is None


def test_merge_renumbers_ids_and_drops_unannotated_images():
    a = cvat_file(["a_1_1.jpg", "a_1_2.jpg", "a_1_3.jpg"], annotated=[0, 2])
    b = cvat_file(["b_2_1.jpg", "b_2_2.jpg"], annotated=[1])
    before = json.dumps([a, b], sort_keys=True)
    merged = coco.merge_coco([a, b], form_labels=["correct", "lumbar_error"], file_prefixes=["correct", None])
    assert json.dumps([a, b], sort_keys=True) == before   # inputs untouched
    assert [i["id"] for i in merged["images"]] == [1, 2, 3]
    assert [i["file_name"] for i in merged["images"]] == ["correct/a_1_1.jpg", "correct/a_1_3.jpg", "b_2_2.jpg"]
    assert [a["id"] for a in merged["annotations"]] == [1, 2, 3]
    assert [a["image_id"] for a in merged["annotations"]] == [1, 2, 3]
    assert [coco.form_label(x) for x in merged["annotations"]] == ["correct", "correct", "lumbar_error"]
    assert len(merged["categories"]) == 1   # same category in both exports
    assert merged["annotations"][0]["attributes"]["occluded"] is False


def test_merge_keeps_an_existing_form_label_and_separates_different_categories():
    a = cvat_file(["a_1_1.jpg"], annotated=[0])
    a["annotations"][0]["attributes"]["form_label"] = "lumbar_error"
    b = cvat_file(["b_1_1.jpg"], annotated=[0])
    b["categories"][0]["keypoints"] = ["Nose", "Neck"]
    merged = coco.merge_coco([a, b], form_labels=["correct", None])
    assert coco.form_label(merged["annotations"][0]) == "lumbar_error"
    assert [c["id"] for c in merged["categories"]] == [1, 2]
    assert merged["annotations"][1]["category_id"] == 2


def test_split_by_clip_never_puts_a_clip_in_two_subsets():
    names = [f"v{c}_{c}_{f}.jpg" for c in range(20) for f in range(3)]
    data = cvat_file(names, annotated=range(len(names)))
    parts = coco.split_by_clip(data, seed=42)
    clips = {k: {coco.clip_id(i) for i in v["images"]} for k, v in parts.items()}
    assert sum(len(c) for c in clips.values()) == 20
    assert not (clips["train"] & clips["val"]) and not (clips["train"] & clips["test"])
    assert not (clips["val"] & clips["test"])
    assert (len(clips["train"]), len(clips["val"]), len(clips["test"])) == (14, 3, 3)
    assert coco.split_by_clip(data, seed=42)["val"] == parts["val"]
    assert coco.split_by_clip(data, seed=7)["val"] != parts["val"]
    for part in parts.values():
        ids = {i["id"] for i in part["images"]}
        assert all(a["image_id"] in ids for a in part["annotations"])


def test_keypoint_table_remaps_into_the_requested_skeleton():
    full = {"categories": [COCO17.coco_category()], "images": [{"id": 5, "file_name": "c_3_7.jpg"}],
            "annotations": [{"id": 9, "image_id": 5, "category_id": 1, "bbox": [1, 2, 3, 4],
                             "keypoints": list(np.arange(51, dtype=float)),
                             "attributes": {"form_label": "correct"}}]}
    table = coco.keypoint_table(full, COCO17_SPINE)
    assert table.keypoints.shape == (1, 24, 3)
    np.testing.assert_array_equal(table.keypoints[0, 16], [48, 49, 50])
    assert not table.keypoints[0, 17:].any()
    assert table.clip_ids == ["c_3"] and table.frames == [7] and table.form_labels == ["correct"]
    assert table.annotation_ids.tolist() == [9] and table.bboxes.tolist() == [[1, 2, 3, 4]]


def test_save_coco_writes_atomically(tmp_path):
    target = tmp_path / "sub" / "out.json"
    coco.save_coco({"images": [], "x": np.float32(1.5), "n": np.int64(3)}, target)
    assert json.loads(target.read_text()) == {"images": [], "x": 1.5, "n": 3}
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
    assert target.stat().st_mode & 0o044 == 0o044      # readable by the web server's user too


def test_image_index_finds_frames_in_task_folders(tmp_path):
    (tmp_path / "correct").mkdir()
    (tmp_path / "lumbar").mkdir()
    (tmp_path / "correct" / "a_1_1.jpg").write_bytes(b"x")
    (tmp_path / "lumbar" / "b_1_1.jpg").write_bytes(b"x")
    (tmp_path / "lumbar" / "a_1_1.jpg").write_bytes(b"x")
    index = coco.ImageIndex(tmp_path)
    assert index.find("b_1_1.jpg") == tmp_path / "lumbar" / "b_1_1.jpg"
    assert index.find("correct/a_1_1.jpg") == tmp_path / "correct" / "a_1_1.jpg"
    assert index.find("a_1_1.jpg") is None       # ambiguous without a folder
    assert index.find("missing.jpg") is None


def test_barbell_row_merges_to_its_210_annotated_frames(dataset):
    files = [dataset / "annotations" / "correct_n2_3_7_100.json", dataset / "annotations" / "lumbar_3_7_dell_111.json"]
    merged = coco.merge_coco([coco.load_coco(f) for f in files], form_labels=["correct", "lumbar_error"],
                             file_prefixes=["correct", "lumbar"])
    assert len(merged["images"]) == 210 and len(merged["annotations"]) == 210
    table = coco.keypoint_table(merged)
    assert table.skeleton is COCO17
    assert len(set(table.clip_ids)) == 19
    assert table.form_labels.count("correct") == 102 and table.form_labels.count("lumbar_error") == 108
    index = coco.ImageIndex(dataset / "images")
    found = [index.find(i["file_name"]) for i in merged["images"]]
    assert sum(p is not None for p in found) >= 209
