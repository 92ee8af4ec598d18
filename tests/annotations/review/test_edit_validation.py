"""Edits through the API are checked at the edge: keypoints, boxes and state lists that would break a later
reader are a 400 naming the field, and nothing is stored; points a little outside the frame are kept."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotation(project):
    """One 640x480 frame of the demo project with an annotation (every point labelled inside the frame)."""
    from annotations.models import Annotation, Clip, Frame, KeypointState

    K = project.num_keypoints
    clip = Clip.objects.create(project=project, key="c1")
    frame = Frame.objects.create(project=project, clip=clip, file_name="c1_0.jpg", width=640, height=480,
                                 frame_index=0)
    kpts = []
    for i in range(K):
        kpts += [100.0 + i, 200.0 + i, 2]
    return Annotation.objects.create(project=project, frame=frame, keypoints=kpts,
                                     keypoint_states=[KeypointState.UNVERIFIED.value] * K,
                                     bbox=[90.0, 190.0, 60.0, 60.0], area=3600.0, num_keypoints=K)


def patch(user, ann, body):
    return api_client(user).patch(f"/api/projects/demo/annotations/{ann.pk}/", body, format="json")


def unchanged(ann) -> bool:
    from annotations.models import Annotation, Revision

    stored = Annotation.objects.get(pk=ann.pk)
    return (stored.version == ann.version and stored.keypoints == ann.keypoints and stored.bbox == ann.bbox
            and stored.area == ann.area and not Revision.objects.filter(annotation=ann).exists())


def test_a_keypoint_of_1e300_is_refused_naming_the_field_and_nothing_is_stored(annotation, users):
    kpts = list(annotation.keypoints)
    kpts[0] = 1e300
    r = patch(users["annotator"], annotation, {"keypoints": kpts, "version": annotation.version})
    assert r.status_code == 400, r.content
    assert "keypoints" in r.json()["detail"]
    assert unchanged(annotation)


def test_a_keypoint_beyond_ten_times_the_image_size_is_refused(annotation, users):
    kpts = list(annotation.keypoints)
    kpts[1] = -6401.0  # 10 x 640 is the limit
    r = patch(users["annotator"], annotation, {"keypoints": kpts, "version": annotation.version})
    assert r.status_code == 400 and "keypoints" in r.json()["detail"]
    assert unchanged(annotation)


@pytest.mark.parametrize("bbox", [[0, 0, 1e200, 1e200], [0, 0, 7000, 10], [-1e9, 0, 5, 5], [0, 0, True, 5]])
def test_a_huge_or_malformed_box_is_refused_naming_the_field(annotation, users, bbox):
    r = patch(users["annotator"], annotation, {"bbox": bbox, "version": annotation.version})
    assert r.status_code == 400, r.content
    assert "bbox" in r.json()["detail"]
    assert unchanged(annotation)


@pytest.mark.parametrize("item", [[1], {}, None, 3])
def test_keypoint_states_of_the_wrong_type_are_refused_not_a_server_error(annotation, users, item):
    K = annotation.project.num_keypoints
    r = patch(users["annotator"], annotation, {"keypoint_states": [item] * K, "version": annotation.version})
    assert r.status_code == 400, r.content
    assert "keypoint_states" in r.json()["detail"]
    assert unchanged(annotation)


def test_a_form_label_that_is_not_a_name_is_refused(annotation, users):
    r = patch(users["annotator"], annotation, {"form_label": {"name": "correct"}, "version": annotation.version})
    assert r.status_code == 400 and "form_label" in r.json()["detail"]
    assert unchanged(annotation)


def test_creating_an_annotation_with_a_huge_keypoint_is_refused_and_leaves_no_row(project, users):
    from annotations.models import Annotation, Clip, Frame

    clip = Clip.objects.create(project=project, key="c2")
    frame = Frame.objects.create(project=project, clip=clip, file_name="c2_0.jpg", width=640, height=480,
                                 frame_index=0)
    kpts = [10.0, 10.0, 2] * project.num_keypoints
    kpts[3] = float("1e300")
    r = api_client(users["annotator"]).post(f"/api/projects/demo/frames/{frame.pk}/annotations/",
                                            {"keypoints": kpts}, format="json")
    assert r.status_code == 400, r.content
    assert "keypoints" in r.json()["detail"]
    assert not Annotation.objects.filter(frame=frame).exists()


def test_points_a_little_outside_the_frame_save_back_unchanged(annotation, users):
    """What an import keeps (an ear 13 px left of the frame, a hip below it) the API saves back as it is."""
    from annotations.models import Annotation

    kpts = list(annotation.keypoints)
    kpts[9:11] = [-13.0, 150.0]   # left ear left of the frame
    kpts[1] = -20.5               # nose above it
    kpts[33:35] = [300.0, 520.0]  # left hip below it
    Annotation.objects.filter(pk=annotation.pk).update(keypoints=kpts)
    got = api_client(users["annotator"]).get(f"/api/projects/demo/annotations/{annotation.pk}/").json()
    r = patch(users["annotator"], annotation, {"keypoints": got["keypoints"], "keypoint_states": got["keypoint_states"],
                                               "bbox": got["bbox"], "version": got["version"]})
    assert r.status_code == 200, r.content
    assert Annotation.objects.get(pk=annotation.pk).keypoints == kpts
