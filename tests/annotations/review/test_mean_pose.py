"""The editor payload's template: the project's mean pose, or a fixed standing pose when too few are verified."""

import pytest

from annotations.models import Annotation
from annotations.review.mean_pose import MIN_POSES, mean_pose, normalised
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def verify(annotations):
    for ann in annotations:
        ann.keypoint_states = ["verified"] * len(ann.keypoint_states)
        ann.save(update_fields=["keypoint_states"])


def test_a_project_with_too_few_verified_poses_gets_the_fixed_standing_template(imported, users):
    data = api_client(users["annotator"]).get(
        f"/api/projects/demo/frames/{Annotation.objects.filter(project=imported).first().frame_id}/editor/").json()
    template = data["template"]
    assert template["source"] == "default" and template["poses"] == 0
    K = imported.num_keypoints
    assert len(template["keypoints"]) == 2 * K
    assert all(0 <= v <= 1 for v in template["keypoints"])
    names = imported.skeleton["keypoints"]
    y = {n: template["keypoints"][2 * i + 1] for i, n in enumerate(names)}
    assert y["nose"] < y["neck"] < y["hip"] < y["left_knee"] < y["left_ankle"]
    assert y["neck"] < y["spine_03"] < y["hip"]


def test_the_template_is_the_mean_of_the_verified_poses_each_normalised_to_its_box(imported, users):
    anns = list(Annotation.objects.filter(project=imported).order_by("frame_id")[:MIN_POSES])
    verify(anns)
    template = mean_pose(imported)
    assert template["source"] == "project" and template["poses"] == MIN_POSES
    K = imported.num_keypoints
    boxes = [normalised(list(a.keypoints), K) for a in anns]
    for i in (0, 5, 15, 17):
        seen = [b[i] for b in boxes if b[i] is not None]
        assert template["keypoints"][2 * i] == pytest.approx(sum(p[0] for p in seen) / len(seen), abs=1e-3)
        assert template["keypoints"][2 * i + 1] == pytest.approx(sum(p[1] for p in seen) / len(seen), abs=1e-3)


def test_poses_with_unverified_points_are_left_out_of_the_mean(imported):
    anns = list(Annotation.objects.filter(project=imported).order_by("frame_id")[:MIN_POSES])
    verify(anns[:-1])
    assert mean_pose(imported)["source"] == "default"
