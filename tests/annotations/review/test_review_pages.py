"""Pages around the editor: the project page's queues, starting a queue, the editor shell and its
payload, and the PI's settings (members and roles, form labels, a growing skeleton)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LUMBAR_IMAGES, LUMBAR_JSON, api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(users, client):
    def as_user(name):
        client.force_login(users[name])
        return client
    return as_user


def test_the_project_page_shows_queue_sizes_and_start_buttons_by_role(imported, logged_in):
    from annotations.models import QueueItem

    assert not QueueItem.objects.exists()
    html = logged_in("annotator").get("/p/demo/").content.decode()  # the first view builds the queues
    assert 'data-queue="unverified_spine"><td>Unverified spine points</td><td class="queue-open">210</td>' in html
    assert 'id="start-unverified_spine"' in html and 'id="start-review"' not in html
    assert 'id="settings-link"' not in html
    html = logged_in("pi").get("/p/demo/").content.decode()
    assert 'id="start-review"' in html and 'id="settings-link"' in html and 'id="refresh-queues"' in html


def test_starting_a_queue_claims_a_frame_and_opens_the_editor_with_the_filters(imported, logged_in):
    from annotations.models import FrameLease
    from annotations.review.queues import refresh_builtin_queues

    refresh_builtin_queues(imported, seed=1)
    client = logged_in("annotator")
    r = client.post("/p/demo/queues/unverified_spine/start/", {"form_label": "correct", "split": ""})
    lease = FrameLease.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/p/demo/frames/{lease.frame_id}/edit/?queue=unverified_spine&form_label=correct"
    assert lease.frame.annotations.get().form_label.name == "correct"
    r = client.post("/p/demo/queues/uncertain/start/", follow=True)
    assert r.redirect_chain[-1][0] == "/p/demo/" and "Nothing left for you" in r.content.decode()
    assert client.post("/p/demo/queues/review/start/").status_code == 403
    assert client.post("/p/demo/queues/bogus/start/").status_code == 404


def test_the_editor_page_carries_the_skeleton_and_the_frame_payload_has_neighbours(imported, logged_in, users):
    from annotations.models import Frame

    frame = Frame.objects.get(project=imported, file_name="52723_8_12.jpg")
    r = logged_in("annotator").get(f"/p/demo/frames/{frame.pk}/edit/?queue=uncertain&clip=52723_8")
    assert r.status_code == 200
    html = r.content.decode()
    config = json.loads(html.split('<script id="editor-config" type="application/json">')[1].split("</script>")[0])
    assert config["queue"] == "uncertain" and config["filters"] == {"clip": "52723_8"}
    assert len(config["skeleton"]["keypoints"]) == 24 and config["role"] == "annotator"
    assert [label["key"] for label in config["formLabels"]] == [1, 2]
    assert 'type="module" src="/static/annotations/review/editor/editor.js"' in html
    bogus = logged_in("annotator").get(f"/p/demo/frames/{frame.pk}/edit/?queue=everything").content.decode()
    assert '"queue": ""' in bogus

    data = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{frame.pk}/editor/").json()
    prev = Frame.objects.get(project=imported, file_name="52723_8_10.jpg")
    assert data["neighbours"]["prev"]["id"] == prev.pk and len(data["neighbours"]["prev"]["keypoints"]) == 72
    assert data["neighbours"]["next"]["id"] == Frame.objects.get(project=imported, file_name="52723_8_19.jpg").pk
    assert data["predictions"] == [] and data["lease"] is None
    assert len(data["annotation"]["keypoints"]) == 72 and data["frame"]["image_url"].endswith(f"/{frame.pk}/image/")
    assert api_client(users["outsider"]).get(f"/api/projects/demo/frames/{frame.pk}/editor/").status_code == 404
    assert logged_in("outsider").get(f"/p/demo/frames/{frame.pk}/edit/").status_code == 404


def test_a_new_annotation_is_created_once_and_a_second_creator_gets_409(imported, users):
    from annotations.models import Frame

    frame = Frame.objects.filter(project=imported, annotations__isnull=True).exclude(source__isnull=True).first()
    body = {"keypoints": [10, 20, 2] + [0, 0, 0] * 23, "keypoint_states": ["verified"] + ["unverified"] * 23,
            "form_label": None}
    r = api_client(users["annotator"]).post(f"/api/projects/demo/frames/{frame.pk}/annotations/", body, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["version"] == 1 and r.json()["form_label"] == frame.source.form_label.name
    again = api_client(users["reviewer"]).post(f"/api/projects/demo/frames/{frame.pk}/annotations/", body,
                                               format="json")
    assert again.status_code == 409
    assert again.json()["current"]["id"] == r.json()["id"] and again.json()["current"]["updated_by"] == "annotator"


def test_only_the_pi_reaches_the_settings(project, logged_in):
    assert logged_in("annotator").get("/p/demo/settings/").status_code == 403
    assert logged_in("reviewer").get("/p/demo/settings/").status_code == 403
    assert logged_in("outsider").get("/p/demo/settings/").status_code == 404
    assert logged_in("annotator").post("/p/demo/settings/", {"action": "set_member", "username": "annotator",
                                                              "role": "pi"}).status_code == 403
    assert logged_in("pi").get("/p/demo/settings/").status_code == 200


def test_the_pi_manages_members_and_roles_but_never_removes_the_last_pi(project, logged_in, users):
    client = logged_in("pi")
    client.post("/p/demo/settings/", {"action": "set_member", "username": "outsider", "role": "annotator"})
    assert project.memberships.get(user=users["outsider"]).role == "annotator"
    client.post("/p/demo/settings/", {"action": "set_member", "username": "annotator", "role": "reviewer"})
    assert project.memberships.get(user=users["annotator"]).role == "reviewer"
    r = client.post("/p/demo/settings/", {"action": "set_member", "username": "pi", "role": "reviewer"}, follow=True)
    assert "at least one PI" in r.content.decode()
    assert project.memberships.get(user=users["pi"]).role == "pi"
    client.post("/p/demo/settings/", {"action": "remove_member", "username": "outsider"})
    assert not project.memberships.filter(user=users["outsider"]).exists()
    r = client.post("/p/demo/settings/", {"action": "set_member", "username": "nobody", "role": "annotator"},
                    follow=True)
    assert "no user called" in r.content.decode()


def test_the_pi_edits_the_form_label_set_and_labels_in_use_stay(imported, logged_in):
    client = logged_in("pi")
    client.post("/p/demo/settings/", {"action": "save_label", "name": "knee_valgus", "display_name": "Knee valgus",
                                      "colour": "#9467bd"})
    client.post("/p/demo/settings/", {"action": "save_label", "name": "correct", "display_name": "Good form",
                                      "colour": "#00aa00", "order": "5"})
    labels = list(imported.form_labels.values_list("name", "display_name", "colour", "order"))
    assert labels == [("lumbar_error", "Lumbar error", "#d62728", 1), ("knee_valgus", "Knee valgus", "#9467bd", 2),
                      ("correct", "Good form", "#00aa00", 5)]
    r = client.post("/p/demo/settings/", {"action": "delete_label", "name": "correct"}, follow=True)
    assert "cannot be deleted while in use" in r.content.decode()
    client.post("/p/demo/settings/", {"action": "delete_label", "name": "knee_valgus"})
    assert not imported.form_labels.filter(name="knee_valgus").exists()
    r = client.post("/p/demo/settings/", {"action": "save_label", "name": "Bad Name!", "colour": "#000000"},
                    follow=True)
    assert "lower-case" in r.content.decode()


def test_new_keypoints_start_unlabelled_without_touching_stored_annotations(imported, logged_in, users):
    from annotations.models import Annotation

    before = {a.pk: (a.version, a.keypoints) for a in Annotation.objects.filter(project=imported)}
    logged_in("pi").post("/p/demo/settings/", {"action": "add_keypoints", "names": "left_big_toe, right_big_toe",
                                               "init": "unlabelled"})
    imported.refresh_from_db()
    assert imported.skeleton["keypoints"][-2:] == ["left_big_toe", "right_big_toe"]
    assert [24, 25] in imported.skeleton["flip_pairs"]
    assert {a.pk: (a.version, a.keypoints) for a in Annotation.objects.filter(project=imported)} == before
    ann = Annotation.objects.filter(project=imported).first()
    data = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{ann.frame_id}/editor/").json()
    assert len(data["annotation"]["keypoints"]) == 78 and data["annotation"]["keypoints"][-6:] == [0] * 6
    r = logged_in("pi").post("/p/demo/settings/", {"action": "add_keypoints", "names": "neck"}, follow=True)
    assert "already has" in r.content.decode()


def test_new_spine_points_can_start_from_the_heuristic_on_a_coco17_project(users):
    from annotations.datasets.importing import import_coco_file
    from annotations.models import Annotation, Project, Revision
    from annotations.projects.settings import extend_skeleton

    project = Project.create("plain", "Plain COCO", "coco17", user=users["pi"])
    import_coco_file(project, LUMBAR_JSON, images_dir=LUMBAR_IMAGES, form_label="lumbar_error")
    before = {a.pk: list(a.keypoints) for a in Annotation.objects.filter(project=project)}
    assert all(len(k) == 51 for k in before.values())
    result = extend_skeleton(project, ["neck", "hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05"],
                             "heuristic", users["pi"])
    assert result["heuristic_annotations"] == len(before) == 108
    for ann in Annotation.objects.filter(project=project):
        assert ann.keypoints[:51] == before[ann.pk]  # people's points untouched
        assert ann.keypoint_states[17:] == ["heuristic"] * 7 and ann.keypoints[17 * 3 + 2] == 1
        assert ann.version == 2
    assert Revision.objects.filter(project=project, note__startswith="skeleton grew").count() == 108


@pytest.fixture
def predicted(imported):
    """A model prediction on one annotated frame: points moved 5 px, spine points from the heuristic."""
    from annotations.models import Annotation, ModelVersion, Prediction

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    version = ModelVersion.objects.create(project=imported, kind="keypoints", number=1, status="ready",
                                          is_active=True)
    kp = [[ann.keypoints[3 * i] + 5, ann.keypoints[3 * i + 1], 0.9 if i < 17 else 0.0] for i in range(24)]
    kp[16][2] = 0.0  # a point the model did not find
    Prediction.objects.create(project=imported, frame=ann.frame, model_version=version, keypoints=kp,
                              bbox=ann.bbox, heuristic_keypoints=list(range(17, 24)),
                              form_probs={"correct": 0.2, "lumbar_error": 0.8}, form_label="lumbar_error")
    return ann


def test_the_editor_payload_carries_the_models_prediction_for_the_ghost_layer(predicted, users):
    data = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{predicted.frame_id}/editor/").json()
    [pred] = data["predictions"]
    assert pred["model_version"] == "keypoints v1" and pred["active"] is True
    assert pred["keypoints"][:3] == [round(predicted.keypoints[0] + 5, 2), predicted.keypoints[1], 2]
    assert pred["keypoints"][3 * 16 + 2] == 0 and pred["scores"][16] == 0.0
    assert pred["heuristic"] == list(range(17, 24)) and pred["keypoints"][3 * 17 + 2] == 2
    assert pred["form_label"] == "lumbar_error" and pred["form_probs"]["lumbar_error"] == 0.8
