"""Real-world coordinates: an annotation is never dropped because some of its points lie outside the frame
(CVAT keeps an ear or a hip placed beyond the edge). Each such point is kept as it is and reported as a
per-point warning, and the API and the editor save those annotations back unchanged."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

# (keypoint index, where): up to 10% of the frame size beyond each edge.
MOVES = [(3, "left"), (0, "above"), (11, "right"), (15, "below"), (4, "left"), (12, "below")]


def move_points_outside(path) -> dict:
    """Every third annotation of the task at `path` gets one point moved up to 10% of the frame outside it.

    Returns {annotation id: [(keypoint index, x, y), ...]} of what was moved."""
    data = json.loads(path.read_text())
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    moved = {}
    for n, ann in enumerate(data["annotations"]):
        if n % 3:
            continue
        w, h = sizes[ann["image_id"]]
        k, where = MOVES[n // 3 % len(MOVES)]
        frac = 0.02 + 0.08 * (n % 5) / 4  # 2% .. 10% of the frame
        kp = ann["keypoints"]
        x, y = kp[3 * k], kp[3 * k + 1]
        x = round(-frac * w, 2) if where == "left" else round(w + frac * w, 2) if where == "right" else x
        y = round(-frac * h, 2) if where == "above" else round(h + frac * h, 2) if where == "below" else y
        kp[3 * k:3 * k + 3] = [x, y, 2]
        moved[ann["id"]] = [(k, x, y)]
    path.write_text(json.dumps(data))
    return moved


def test_points_up_to_a_tenth_of_the_frame_outside_it_keep_every_annotation(project, users, lumbar_copy):
    from annotations.datasets.importing import import_coco_file
    from annotations.models import Annotation

    path = lumbar_copy / "lumbar.json"
    moved = move_points_outside(path)
    data = json.loads(path.read_text())
    names = data["categories"][0]["keypoints"]
    assert len(moved) > 30

    result = import_coco_file(project, path, images_dir=lumbar_copy / "images", form_label="lumbar_error")

    assert [p for p in result["problems"] if p["action"] == "skipped"] == []
    assert Annotation.objects.filter(project=project).count() == len(data["annotations"])
    warnings = [p for p in result["problems"] if p["action"] == "kept"]
    by_point = {(p["id"], p["keypoint"]): p for p in warnings}
    assert len(by_point) == len(warnings)  # one warning per point
    for ann_id, points in moved.items():
        for k, x, y in points:
            warning = by_point[(ann_id, names[k])]
            assert warning["file"] == "lumbar.json" and warning["point"] == [x, y]
            assert f"{names[k]} at ({x:g}, {y:g})" in warning["reason"]
            stored = Annotation.objects.get(project=project, source_annotation_id=ann_id)
            assert stored.keypoints[3 * k:3 * k + 3] == [x, y, 2]

    client = api_client(users["annotator"])
    for ann_id in moved:
        stored = Annotation.objects.get(project=project, source_annotation_id=ann_id)
        got = client.get(f"/api/projects/demo/annotations/{stored.pk}/").json()
        # What a script sends back: the annotation as read.
        r = client.patch(f"/api/projects/demo/annotations/{stored.pk}/",
                         {"keypoints": got["keypoints"], "keypoint_states": got["keypoint_states"],
                          "bbox": got["bbox"], "form_label": got["form_label"], "version": got["version"]},
                         format="json")
        assert r.status_code == 200, (ann_id, r.content)
        # What the editor sends back (model.js toPayload): unlabelled points as 0, 0, 0.
        kp = got["keypoints"]
        editor_kp = [c for i in range(0, len(kp), 3) for c in (kp[i:i + 3] if kp[i + 2] > 0 else [0, 0, 0])]
        r = client.patch(f"/api/projects/demo/annotations/{stored.pk}/",
                         {"keypoints": editor_kp, "keypoint_states": got["keypoint_states"],
                          "form_label": got["form_label"], "version": got["version"] + 1}, format="json")
        assert r.status_code == 200, (ann_id, r.content)
        after = Annotation.objects.get(pk=stored.pk)
        labelled = [i for i in range(0, len(kp), 3) if kp[i + 2] > 0]
        assert all(after.keypoints[i:i + 3] == kp[i:i + 3] for i in labelled)
        assert after.bbox == got["bbox"]
