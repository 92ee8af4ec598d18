"""More than one person on a frame: the editor's API creates, edits and removes a second person
(annotation instance 1), old clients keep creating the first one only, and the COCO export then holds
one annotation per person of the frame."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


@pytest.fixture
def first(project):
    """One 640x480 frame with its first person annotated (every point placed and verified)."""
    from annotations.models import Annotation, Clip, Frame, KeypointState

    K = project.num_keypoints
    clip = Clip.objects.create(project=project, key="c1")
    frame = Frame.objects.create(project=project, clip=clip, file_name="c1_0.jpg", width=640, height=480,
                                 frame_index=0, status="annotated")
    kpts = []
    for i in range(K):
        kpts += [100.0 + i, 200.0 + i, 2]
    return Annotation.objects.create(project=project, frame=frame, keypoints=kpts,
                                     keypoint_states=[KeypointState.VERIFIED.value] * K,
                                     bbox=[90.0, 190.0, 60.0, 60.0], area=3600.0)


def person(project, x0=400.0, n=3):
    """A second person's body: the first `n` points placed from x0, verified; the rest unplaced."""
    K = project.num_keypoints
    kpts = [0.0, 0.0, 0] * K
    for i in range(n):
        kpts[3 * i:3 * i + 3] = [x0 + 10 * i, 150.0 + i, 2]
    return {"keypoints": kpts, "keypoint_states": ["verified"] * K}


def create(user, frame, body):
    return api_client(user).post(f"/api/projects/demo/frames/{frame.pk}/annotations/", body, format="json")


def test_a_second_person_is_created_edited_and_listed_by_the_editor(first, users, project):
    from annotations.models import Annotation, Revision

    frame = first.frame
    r = create(users["annotator"], frame, {**person(project), "instance": 1})
    assert r.status_code == 201, r.content
    second = r.json()
    assert second["instance"] == 1 and second["version"] == 1 and second["id"] != first.pk
    assert Annotation.objects.get(pk=second["id"]).num_keypoints == 3
    assert Revision.objects.filter(annotation_id=second["id"], kind="edit").count() == 1

    client = api_client(users["annotator"])
    kp = person(project, x0=420.0)["keypoints"]
    r = client.patch(f"/api/projects/demo/annotations/{second['id']}/", {"keypoints": kp, "version": 1},
                     format="json")
    assert r.status_code == 200 and r.json()["version"] == 2
    assert Annotation.objects.get(pk=first.pk).version == first.version  # person 1 untouched

    payload = client.get(f"/api/projects/demo/frames/{frame.pk}/editor/").json()
    assert [(p["instance"], p["id"], p["version"]) for p in payload["instances"]] == [
        (0, first.pk, first.version), (1, second["id"], 2)]
    assert payload["annotation"]["id"] == first.pk  # what older editors read: still the first person
    assert payload["instances"][1]["keypoints"][:3] == [420.0, 150.0, 2]


def test_old_clients_create_the_first_person_only_and_a_taken_person_answers_409(first, users, project):
    frame = first.frame
    r = create(users["annotator"], frame, person(project))  # no instance: the frame's first annotation
    assert r.status_code == 409 and r.json()["current"]["id"] == first.pk
    assert create(users["annotator"], frame, {**person(project), "instance": 1}).status_code == 201
    r = create(users["reviewer"], frame, {**person(project, x0=300.0), "instance": 1})
    assert r.status_code == 409  # someone added person 2 first: both versions to choose from
    assert r.json()["current"]["keypoints"][0] == 400.0 and r.json()["current"]["version"] == 1
    assert frame.annotations.count() == 2


@pytest.mark.parametrize("instance", [-1, 10, "1", True, 1.5, [1]])
def test_an_instance_that_is_no_person_index_is_refused_naming_the_field(first, users, project, instance):
    r = create(users["annotator"], first.frame, {**person(project), "instance": instance})
    assert r.status_code == 400, r.content
    assert "instance" in json.dumps(r.json())
    assert first.frame.annotations.count() == 1


def test_a_second_person_needs_the_first(project, users):
    from annotations.models import Clip, Frame

    clip = Clip.objects.create(project=project, key="c2")
    frame = Frame.objects.create(project=project, clip=clip, file_name="c2_0.jpg", width=640, height=480)
    r = create(users["annotator"], frame, {**person(project), "instance": 1})
    assert r.status_code == 400 and "instance" in r.json()["detail"]
    assert create(users["annotator"], frame, {**person(project), "instance": 0}).status_code == 201
    assert create(users["annotator"], frame, {**person(project), "instance": 1}).status_code == 201


def test_removing_a_person_is_optimistic_locked_and_kept_in_the_history(first, users, project):
    from annotations.models import Annotation, Revision
    from annotations.review.history import frame_history

    second = create(users["annotator"], first.frame, {**person(project), "instance": 1}).json()
    client = api_client(users["annotator"])
    url = f"/api/projects/demo/annotations/{second['id']}/"
    assert client.delete(url, {}, format="json").status_code == 400  # which version is being removed?
    r = client.delete(url, {"version": 7}, format="json")
    assert r.status_code == 409 and r.json()["current"]["version"] == 1
    r = client.delete(f"/api/projects/demo/annotations/{first.pk}/", {"version": first.version}, format="json")
    assert r.status_code == 400 and "first person" in r.json()["detail"]
    assert client.delete(f"{url}?version=1").status_code == 204
    assert not Annotation.objects.filter(pk=second["id"]).exists()
    assert Annotation.objects.filter(pk=first.pk).exists()
    removal = Revision.objects.get(frame=first.frame, after__isnull=True)
    assert removal.before["keypoints"][:3] == [400.0, 150.0, 2] and removal.note == "removed person 2"
    changes = [e["changes"] for e in frame_history(first.frame) if e["type"] == "revision"]
    assert changes[0] == ["person 2: removed from the frame"]
    assert changes[1][0] == "person 2: placed nose, left_eye, right_eye"  # named after the person is gone
    assert api_client(users["outsider"]).delete(f"/api/projects/demo/annotations/{first.pk}/",
                                                {"version": 1}, format="json").status_code == 404


def test_the_coco_export_holds_one_annotation_per_person(first, users, project):
    second = create(users["annotator"], first.frame, {**person(project), "instance": 1}).json()
    r = api_client(users["annotator"]).get("/api/projects/demo/splits/all/coco.json")
    assert r.status_code == 200
    coco = json.loads(b"".join(r.streaming_content))
    mine = [a for a in coco["annotations"] if a["image_id"] == first.frame_id]
    assert sorted(a["id"] for a in mine) == sorted([first.pk, second["id"]])
    by_id = {a["id"]: a for a in mine}
    assert by_id[second["id"]]["num_keypoints"] == 3 and by_id[first.pk]["num_keypoints"] == project.num_keypoints


def model_prediction(frame, version, instance, x0, annotation=None):
    """A stored prediction of one person (every point at x0 + i, score 0.9), made in `annotation`'s box if given."""
    from annotations.models import Prediction

    K = frame.project.num_keypoints
    return Prediction.objects.create(project=frame.project, frame=frame, model_version=version, instance=instance,
                                     keypoints=[[x0 + i, 100.0, 0.9] for i in range(K)], bbox=[0, 0, 640, 480],
                                     signals={"annotation_id": annotation.pk} if annotation else {})


def test_each_person_is_offered_the_models_prediction_made_in_their_own_box(first, users, project):
    from annotations.models import Annotation, ModelVersion

    frame = first.frame
    version = ModelVersion.objects.create(project=project, kind="keypoints", number=1, status="ready", is_active=True)
    created = create(users["annotator"], frame, {**person(project), "instance": 1}).json()
    second = Annotation.objects.get(pk=created["id"])
    # Predicted in the order (second, first): the instance numbers say nothing, the boxes do.
    model_prediction(frame, version, 0, 400.0, annotation=second)
    model_prediction(frame, version, 1, 100.0, annotation=first)
    data = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{frame.pk}/editor/").json()
    people = data["people_predictions"]
    assert sorted(people) == ["0", "1"]
    assert [p["keypoints"][0] for p in people["0"]] == [100.0] and [p["keypoints"][0] for p in people["1"]] == [400.0]
    assert data["predictions"] == people["0"]  # the first person's, where clients before people look


def test_a_frame_predicted_for_its_first_person_only_offers_nothing_to_the_second(first, users, project):
    from annotations.models import ModelVersion

    frame = first.frame
    version = ModelVersion.objects.create(project=project, kind="keypoints", number=1, status="ready", is_active=True)
    model_prediction(frame, version, 0, 100.0, annotation=first)
    create(users["annotator"], frame, {**person(project), "instance": 1})
    data = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{frame.pk}/editor/").json()
    assert list(data["people_predictions"]) == ["0"]
    assert [p["instance"] for p in data["predictions"]] == [0]
