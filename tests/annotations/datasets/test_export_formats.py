"""Exports of a split project in every registered format, checked the way their consumers read them:
pycocotools for COCO, the Ultralytics label rules for YOLO-pose, MMPose's metainfo parsing for MMPose,
and the training scripts' cached COCO download over REST."""

from __future__ import annotations

import ast
import copy
import io
import json
import zipfile
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import CORRECT_JSON, LUMBAR_JSON, api_client

SUBSETS = ("train", "val", "test")



@pytest.fixture
def split_project(imported):
    from annotations.datasets.splitting import create_split

    imported.split_version = create_split(imported)
    return imported


def source_annotated_files() -> set[str]:
    """File names of every image with at least one annotation in the two source exports."""
    names = set()
    for path in (CORRECT_JSON, LUMBAR_JSON):
        data = json.loads(path.read_text())
        by_id = {im["id"]: im["file_name"] for im in data["images"]}
        names |= {by_id[a["image_id"]] for a in data["annotations"]}
    return names


def source_annotation_count() -> int:
    return sum(len(json.loads(p.read_text())["annotations"]) for p in (CORRECT_JSON, LUMBAR_JSON))


def clip_of(file_name: str) -> str:
    """`52723_8` of `52723_8_10.jpg` (the lab's naming: video_clip_frame)."""
    return file_name.rsplit(".", 1)[0].rsplit("_", 1)[0]


def flip_permutation(names: list[str]) -> list[int]:
    """Partner index of every keypoint by its left_/right_ name; itself if it has none."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for i, n in enumerate(names):
        if n.startswith("left_"):
            out.append(index.get("right_" + n[5:], i))
        elif n.startswith("right_"):
            out.append(index.get("left_" + n[6:], i))
        else:
            out.append(i)
    return out


def export_file(project, fmt: str, subsets, tmp_path: Path) -> Path:
    from annotations.datasets.exporting import export

    out = tmp_path / f"{fmt}-{'-'.join(subsets)}.out"
    path, summary = export(project, fmt, list(subsets), out_path=out)
    assert summary["subsets"] == list(subsets)
    return Path(path)


# -- COCO ----------------------------------------------------------------------------------------

def test_it_exports_each_split_as_coco_that_pycocotools_evaluates_to_ap_1(split_project, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    sigmas = np.asarray(split_project.skeleton["sigmas"])
    assert len(sigmas) == 24
    seen_images, seen_annotations = set(), 0
    for subset in SUBSETS:
        path = export_file(split_project, "coco", [subset], tmp_path)
        with redirect_stdout(io.StringIO()):
            gt = COCO(str(path))
        assert gt.getImgIds(), subset
        results = [{"image_id": a["image_id"], "category_id": a["category_id"], "keypoints": a["keypoints"],
                    "score": 1.0} for a in gt.dataset["annotations"]]
        with redirect_stdout(io.StringIO()):
            dt = gt.loadRes(copy.deepcopy(results))
            evaluator = COCOeval(gt, dt, "keypoints")
            evaluator.params.kpt_oks_sigmas = sigmas
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        assert evaluator.stats[0] == pytest.approx(1.0), subset  # AP @ OKS .50:.95
        assert evaluator.stats[1] == pytest.approx(1.0), subset  # AP @ OKS .50
        seen_images |= {im["file_name"] for im in gt.dataset["images"]}
        seen_annotations += len(gt.dataset["annotations"])
    # the three subsets together are every annotated frame of the sources, each once
    assert seen_images == source_annotated_files()
    assert seen_annotations == source_annotation_count()


def test_it_writes_the_project_skeleton_and_per_annotation_attributes_into_coco(split_project, tmp_path):
    from annotations.models import Annotation

    skeleton = split_project.skeleton
    data = json.loads(export_file(split_project, "coco", ["train"], tmp_path).read_text())
    [category] = data["categories"]
    assert category["keypoints"] == skeleton["keypoints"]
    assert category["skeleton"] == [[a + 1, b + 1] for a, b in skeleton["links"]]
    assert min(min(pair) for pair in category["skeleton"]) == 1
    assert max(max(pair) for pair in category["skeleton"]) <= len(skeleton["keypoints"])

    stored = {a.pk: a for a in Annotation.objects.filter(project=split_project).select_related("form_label")}
    K = len(skeleton["keypoints"])
    assert data["annotations"]
    for ann in data["annotations"]:
        row = stored[ann["id"]]
        assert ann["attributes"]["form_label"] == row.form_label.name
        assert ann["attributes"]["keypoint_states"] == row.keypoint_states
        assert len(ann["attributes"]["keypoint_states"]) == K
        assert len(ann["keypoints"]) == 3 * K
        assert ann["num_keypoints"] == sum(1 for v in ann["keypoints"][2::3] if v > 0)
        assert ann["category_id"] == category["id"] and ann["iscrowd"] == 0
    # the imported COCO points are verified, the spine points placed by the heuristic are marked so
    states = Counter(s for a in data["annotations"] for s in a["attributes"]["keypoint_states"])
    assert set(states) <= {"verified", "unverified", "heuristic", "predicted"}
    assert states["heuristic"] > 0 and states["verified"] > 0
    # form labels come from the task each frame was imported from
    lumbar = {im["file_name"] for im in json.loads(LUMBAR_JSON.read_text())["images"]}
    names = {im["id"]: im["file_name"] for im in data["images"]}
    for ann in data["annotations"]:
        expected = "lumbar_error" if names[ann["image_id"]] in lumbar else "correct"
        assert ann["attributes"]["form_label"] == expected


def test_it_puts_clip_ids_on_images_and_keeps_clips_and_unlabelled_frames_out_of_other_splits(split_project,
                                                                                           tmp_path):
    from annotations.models import Frame

    clips_by_subset = {}
    for subset in SUBSETS:
        data = json.loads(export_file(split_project, "coco", [subset], tmp_path).read_text())
        annotated_images = {a["image_id"] for a in data["annotations"]}
        assert {im["id"] for im in data["images"]} == annotated_images, "an image without annotations was exported"
        for im in data["images"]:
            assert im["clip_id"] == clip_of(im["file_name"])
            assert im["split"] == subset
        clips_by_subset[subset] = {im["clip_id"] for im in data["images"]}
        frame_ids = set(Frame.objects.filter(project=split_project, split=subset, annotations__isnull=False)
                        .values_list("id", flat=True))
        assert annotated_images == frame_ids
    assert all(clips_by_subset[s] for s in SUBSETS)
    for a in SUBSETS:
        for b in SUBSETS:
            if a < b:
                assert not clips_by_subset[a] & clips_by_subset[b], f"a clip is in both {a} and {b}"


def test_it_zips_several_coco_subsets_with_one_json_each(split_project, tmp_path):
    path = export_file(split_project, "coco", SUBSETS, tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == sorted(f"annotations/{s}.json" for s in SUBSETS)
        total = sum(len(json.loads(zf.read(f"annotations/{s}.json"))["annotations"]) for s in SUBSETS)
    assert total == source_annotation_count()


# -- YOLO-pose -------------------------------------------------------------------------------------

def test_it_exports_yolo_pose_labels_that_ultralytics_accepts(split_project, tmp_path):
    from annotations.models import Annotation, Frame

    skeleton = split_project.skeleton
    K = len(skeleton["keypoints"])
    from annotations.datasets.exporting import export

    path, summary = export(split_project, "yolo_pose", list(SUBSETS), out_path=tmp_path / "yolo.zip")
    with zipfile.ZipFile(path) as zf:
        config = yaml.safe_load(zf.read("data.yaml"))
        labels = {n: zf.read(n).decode() for n in zf.namelist() if n.startswith("labels/")}
    assert config["kpt_shape"] == [K, 3] == [24, 3]
    assert config["flip_idx"] == flip_permutation(skeleton["keypoints"])
    assert sorted(config["flip_idx"]) == list(range(K))
    assert all(config[s] == f"images/{s}" for s in SUBSETS)
    assert config["names"] == {0: "person"}

    frames = {f.pk: f for f in Frame.objects.filter(project=split_project, annotations__isnull=False).distinct()}
    expected_files = {f"labels/{f.split}/{f.file_name.rsplit('.', 1)[0]}.txt" for f in frames.values()}
    assert set(labels) == expected_files  # one file per exported image, in its split's folder
    by_stem = {(f.split, f.file_name.rsplit(".", 1)[0]): f for f in frames.values()}
    anns = {}
    for a in Annotation.objects.filter(project=split_project).order_by("id"):
        anns.setdefault(a.frame_id, []).append(a)

    outside = inside = 0
    for name, text in labels.items():
        _, subset, file = name.split("/")
        frame = by_stem[(subset, file[:-4])]
        lines = text.strip().splitlines()
        assert len(lines) == len(anns[frame.pk])
        for line, ann in zip(lines, anns[frame.pk]):
            values = [float(v) for v in line.split()]
            assert len(values) == 5 + 3 * K
            assert values[0] == 0
            # Ultralytics drops a whole label file with any value < 0 or any point coordinate > 1
            assert min(values) >= 0, (name, line)
            points = np.asarray(values[5:]).reshape(K, 3)
            assert points[:, :2].max() <= 1 and max(values[1:5]) <= 1, (name, line)
            assert set(points[:, 2]) <= {0, 1, 2}
            stored = np.asarray(ann.keypoints, dtype=float).reshape(-1, 3)
            for k, (x, y, v) in enumerate(stored):
                in_image = 0 <= x <= frame.width and 0 <= y <= frame.height
                confirmed = ann.keypoint_states[k] == "verified"  # heuristic spine points go out unlabelled
                if v > 0 and in_image and confirmed:
                    inside += 1
                    assert points[k] == pytest.approx([x / frame.width, y / frame.height, v], abs=2e-6)
                else:  # unlabelled, or labelled beyond the frame: not a point the model can see
                    outside += v > 0 and confirmed
                    assert points[k].tolist() == [0.0, 0.0, 0.0]
            cx, cy, w, h = values[1:5]
            x0, y0, bw, bh = ann.bbox
            assert cx - w / 2 == pytest.approx(max(x0, 0) / frame.width, abs=2e-6)
            assert cy + h / 2 == pytest.approx(min(y0 + bh, frame.height) / frame.height, abs=2e-6)
    assert inside > 1000
    assert outside > 0  # the real data has labelled points beyond the far edge of the frame
    assert summary["points_outside_image"] == outside
    assert summary["label_files"] == len(labels)


def test_it_normalises_yolo_points_by_each_frames_own_size(split_project, tmp_path):
    """Frames differ in size (about 230-360 px wide): each label uses its own frame's width and height."""
    from annotations.models import Frame

    frames = Frame.objects.filter(project=split_project, annotations__isnull=False).distinct()
    assert len({(f.width, f.height) for f in frames}) > 5
    path = export_file(split_project, "yolo_pose", ["train"], tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.startswith("labels/train/")]
        assert names and zf.namelist().count("data.yaml") == 1
        assert not any(n.startswith(("labels/val/", "labels/test/")) for n in zf.namelist())
    assert len(names) == frames.filter(split="train").count()


# -- MMPose ----------------------------------------------------------------------------------------

def parse_like_mmpose(info: dict) -> dict:
    """What mmpose.datasets.datasets.utils.parse_pose_metainfo derives from a dataset_info dict."""
    for key in ("dataset_name", "keypoint_info", "skeleton_info", "joint_weights", "sigmas"):
        assert key in info, key
    name2id = {kpt["name"]: kpt_id for kpt_id, kpt in info["keypoint_info"].items()}
    flip_names = []
    for kpt in info["keypoint_info"].values():
        swap = kpt.get("swap", "")
        flip_names.append(kpt["name"] if swap in ("", kpt["name"]) else swap)
    return {
        "num_keypoints": len(info["keypoint_info"]),
        "flip_indices": [name2id[n] for n in flip_names],
        "skeleton_links": [tuple(name2id[n] for n in sk["link"]) for sk in info["skeleton_info"].values()],
        "upper": [i for i, k in info["keypoint_info"].items() if k.get("type") == "upper"],
        "lower": [i for i, k in info["keypoint_info"].items() if k.get("type") == "lower"],
    }


def test_it_exports_mmpose_metainfo_that_matches_the_skeleton(split_project, tmp_path):
    skeleton = split_project.skeleton
    names, K = skeleton["keypoints"], len(skeleton["keypoints"])
    path = export_file(split_project, "mmpose", SUBSETS, tmp_path)
    with zipfile.ZipFile(path) as zf:
        members = set(zf.namelist())
        metainfo = zf.read("metainfo.py").decode()
        config = zf.read("config.py").decode()
        subsets = {s: json.loads(zf.read(f"annotations/{s}.json")) for s in SUBSETS}
    assert members == {"metainfo.py", "config.py", *(f"annotations/{s}.json" for s in SUBSETS)}

    namespace: dict = {}
    exec(compile(metainfo, "metainfo.py", "exec"), namespace)
    info = namespace["dataset_info"]
    assert isinstance(info, dict)
    assert sorted(info["keypoint_info"]) == list(range(K))
    for i, kpt in info["keypoint_info"].items():
        assert kpt["id"] == i and kpt["name"] == names[i]
        assert len(kpt["color"]) == 3 and all(0 <= c <= 255 for c in kpt["color"])
        assert kpt["type"] in ("upper", "lower")
    parsed = parse_like_mmpose(info)
    assert parsed["num_keypoints"] == K
    assert parsed["flip_indices"] == flip_permutation(names)
    for a, b in skeleton["flip_pairs"]:
        assert info["keypoint_info"][a]["swap"] == names[b] and info["keypoint_info"][b]["swap"] == names[a]
    assert parsed["skeleton_links"] == [tuple(link) for link in skeleton["links"]]
    # COCO's half-body split: hips, knees and ankles are the lower body
    coco_lower = {names.index(f"{side}_{part}") for side in ("left", "right") for part in ("hip", "knee", "ankle")}
    assert set(parsed["lower"]) & set(range(17)) == coco_lower
    assert len(info["joint_weights"]) == K and all(w > 0 for w in info["joint_weights"])
    assert info["sigmas"] == pytest.approx(skeleton["sigmas"]) and len(info["sigmas"]) == K
    assert info["dataset_name"] == split_project.slug

    tree = ast.parse(config)
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}
    assert {"num_keypoints", "dataset_type", "data_root", "train_dataloader", "val_dataloader", "test_dataloader",
            "val_evaluator", "test_evaluator"} <= assigned
    assert f"num_keypoints = {K}" in config
    for subset in SUBSETS:
        assert f"annotations/{subset}.json" in config
    assert "from_file='{{fileDirname}}/metainfo.py'" in config
    assert sum(len(d["annotations"]) for d in subsets.values()) == source_annotation_count()
    for data in subsets.values():
        assert data["categories"][0]["keypoints"] == names


# -- the training scripts' download --------------------------------------------------------------

def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _without_info(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "info"}


def test_it_serves_a_splits_coco_over_rest_with_an_etag(split_project, users, tmp_path):
    from annotations.models import Annotation

    client = api_client(users["reviewer"])
    url = f"/api/projects/{split_project.slug}/splits/val/coco.json"
    first = client.get(url)
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 8
    served = json.loads(_body(first))
    exported = json.loads(export_file(split_project, "coco", ["val"], tmp_path).read_text())
    assert _without_info(served) == _without_info(exported)
    assert served["info"]["subset"] == "val"

    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag and _body(again) == b""
    assert client.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200

    # an annotator corrects a point of a val frame: the next download differs and says so
    ann = Annotation.objects.filter(project=split_project, frame__split="val").order_by("id").first()
    keypoints = list(ann.keypoints)
    keypoints[0] = round(keypoints[0] + 3.0, 2)
    patch = api_client(users["annotator"]).patch(
        f"/api/projects/{split_project.slug}/annotations/{ann.pk}/",
        {"keypoints": keypoints + [0, 0, 0] * (24 - len(keypoints) // 3), "version": ann.version}, format="json")
    assert patch.status_code == 200, patch.content
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    data = json.loads(_body(changed))
    [row] = [a for a in data["annotations"] if a["id"] == ann.pk]
    assert row["keypoints"][0] == keypoints[0]
    assert row["attributes"]["keypoint_states"][0] == "verified"
    assert client.get(url, HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 304


def test_it_answers_400_for_an_unknown_subset_or_split_version(split_project, users):
    client = api_client(users["reviewer"])
    base = f"/api/projects/{split_project.slug}/splits"
    response = client.get(f"{base}/holdout/coco.json")
    assert response.status_code == 400 and "holdout" in response.json()["detail"]
    response = client.get(f"{base}/train/coco.json?version=99")
    assert response.status_code == 400 and "99" in response.json()["detail"]
    response = client.get(f"{base}/train/coco.json?version=latest")
    assert response.status_code == 400
    assert client.get(f"{base}/train/coco.json?version={split_project.split_version.number}").status_code == 200
