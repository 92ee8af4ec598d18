"""Consensus on the demo project: frames handed blind to N people in turn, the consensus written as the
frame's annotation when all are in, agreed frames accepted and disputed ones in review; the state in the
REST, the pages and the COCO export (the individual annotations on request)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

BASE = "/api/projects/demo"


@pytest.fixture
def pool(imported):
    """Ten unannotated frames first in the uncertain queue."""
    from annotations.models import Frame
    from annotations.review.queues import set_priorities

    ids = list(Frame.objects.filter(project=imported, annotations__isnull=True).order_by("id")
               .values_list("id", flat=True)[:10])
    set_priorities(imported, "uncertain", {f: 10 - i for i, f in enumerate(ids)})
    return ids


def template(project, dx=0.0):
    """A pose to place: the project's first annotation's points, shifted by dx px."""
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=project).order_by("id").first()
    kp = list(ann.keypoints)
    for i in range(0, len(kp), 3):
        if kp[i + 2] > 0:
            kp[i] += dx
    return kp


def vote(client, frame_id, keypoints, label):
    created = client.post(f"{BASE}/frames/{frame_id}/annotations/", {"keypoints": keypoints, "form_label": label,
                                                                     "queue": "uncertain"}, format="json")
    assert created.status_code == 201, created.content
    done = client.post(f"{BASE}/frames/{frame_id}/submit/", {"queue": "uncertain"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "submitted", done.content
    return created.json()


def claim(client):
    response = client.post(f"{BASE}/queues/uncertain/claim/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["item"]


def test_two_people_label_a_new_frame_blind_and_their_consensus_becomes_its_annotation(imported, pool, users):
    from annotations.consensus import voting
    from annotations.models import Annotation, ConsensusFrame, Frame, Revision

    voting.set_settings(imported, people=2)
    annotator, pi = api_client(users["annotator"]), api_client(users["pi"])
    frame_id = claim(annotator)["frame"]
    assert frame_id == pool[0]
    first = vote(annotator, frame_id, template(imported), "correct")
    assert not Annotation.objects.filter(frame_id=frame_id).exists()  # a vote is no annotation
    assert claim(annotator)["frame"] != frame_id  # one vote per person: the next frame for them

    assert claim(pi)["frame"] == frame_id  # the frame stays queued for the second person
    payload = pi.get(f"{BASE}/frames/{frame_id}/editor/").json()
    assert payload["annotation"] is None and payload["frame"]["status"] == "unlabelled"  # nobody else's points
    assert "consensus" not in json.dumps(payload).lower()
    assert api_client(users["annotator"]).get(f"{BASE}/annotations/{first['id']}/").status_code == 200
    assert pi.get(f"{BASE}/annotations/{first['id']}/").status_code == 404  # nor their working copy
    vote(pi, frame_id, template(imported, dx=2), "correct")

    ann = Annotation.objects.get(frame_id=frame_id)
    mine, theirs = template(imported), template(imported, dx=2)
    assert ann.source == "consensus" and ann.form_label.name == "correct"
    assert ann.keypoints[0] == pytest.approx((mine[0] + theirs[0]) / 2, abs=0.01)  # two people: their mean
    assert Revision.objects.get(frame_id=frame_id).kind == "consensus"
    cf = ConsensusFrame.objects.get(frame_id=frame_id)
    assert cf.status == "agreed" and cf.mean_oks > 0.75 and cf.form_agreement == 1.0
    assert Frame.objects.get(pk=frame_id).status == "accepted"
    state = api_client(users["reviewer"]).get(f"{BASE}/frames/{frame_id}/").json()["consensus"]
    assert state["status"] == "agreed" and state["submitted"] == state["required"] == 2
    assert "consensus" not in api_client(users["annotator"]).get(f"{BASE}/frames/{frame_id}/").json()


def test_chosen_frames_that_people_disagree_on_go_to_review_with_the_points_named(imported, users, client):
    from annotations.models import Annotation, ConsensusFrame, Frame, QueueItem

    frame_id = Annotation.objects.filter(project=imported).order_by("frame_id").values_list("frame_id",
                                                                                           flat=True).first()
    pi = api_client(users["pi"])
    asked = pi.post(f"{BASE}/consensus/frames/", {"frames": [frame_id], "people": 2}, format="json").json()
    assert asked == {"required": [frame_id], "refused": []}
    assert api_client(users["reviewer"]).post(f"{BASE}/consensus/frames/", {"frames": [frame_id], "people": 2},
                                              format="json").status_code == 403
    annotator, reviewer = api_client(users["annotator"]), api_client(users["reviewer"])
    assert claim(annotator)["frame"] == frame_id
    assert annotator.get(f"{BASE}/frames/{frame_id}/editor/").json()["annotation"] is None  # blind to the stored one
    vote(annotator, frame_id, template(imported), "correct")
    detail = reviewer.get(f"{BASE}/consensus/frames/{frame_id}/").json()
    assert detail["status"] == "collecting" and detail["votes"] == []  # nobody reads votes before all are in
    assert claim(reviewer)["frame"] == frame_id
    vote(reviewer, frame_id, template(imported, dx=60), "lumbar_error")

    cf = ConsensusFrame.objects.get(frame_id=frame_id)
    assert cf.status == "disputed" and cf.disagreeing and cf.form_label == ""
    assert Frame.objects.get(pk=frame_id).status == "submitted"
    item = QueueItem.objects.get(frame_id=frame_id, queue="review")
    assert item.done_at is None and "2 people disagree" in item.signals["consensus"]
    names = imported.skeleton["keypoints"]
    assert item.signals["disagreeing_points"] == [names[k] for k in cf.disagreeing]
    detail = reviewer.get(f"{BASE}/consensus/frames/{frame_id}/").json()
    assert [v["user"] for v in detail["votes"]] == ["annotator", "reviewer"]

    client.force_login(users["reviewer"])
    page = client.get(f"/p/demo/frames/{frame_id}/consensus/").content.decode()
    assert page.count("<figure") == 3 and 'data-who="annotator"' in page and 'class="disagree"' in page
    assert 'id="consensus-compare-link"' in client.get(f"/p/demo/frames/{frame_id}/history/").content.decode()
    assert "consensus-disputed-frames" in client.get("/p/demo/consensus/").content.decode()
    client.force_login(users["annotator"])
    assert client.get(f"/p/demo/frames/{frame_id}/consensus/").status_code == 403
    summary = reviewer.get(f"{BASE}/consensus/settings/").json()
    assert summary["frames"]["disputed"] == 1 and summary["form_alpha"] == 0.0  # two people, two labels


def test_the_coco_export_marks_consensus_frames_and_gives_the_individual_annotations_on_request(imported, pool,
                                                                                                users):
    from annotations.consensus import voting
    from annotations.models import Annotation, ConsensusVote

    voting.set_settings(imported, people=2)
    for name, dx in (("annotator", 0), ("pi", 3)):
        client = api_client(users[name])
        assert claim(client)["frame"] == pool[0]
        vote(client, pool[0], template(imported, dx), "correct")
    reviewer = api_client(users["reviewer"])
    plain = json.loads(b"".join(reviewer.get(f"{BASE}/splits/all/coco.json").streaming_content))
    image = next(im for im in plain["images"] if im["id"] == pool[0])
    assert image["attributes"]["consensus"]["people"] == 2 and image["attributes"]["consensus"]["status"] == "agreed"
    ours = [a for a in plain["annotations"] if a["image_id"] == pool[0]]
    assert [a["attributes"]["source"] for a in ours] == ["consensus"]  # the consensus in place of the votes
    full = json.loads(b"".join(reviewer.get(f"{BASE}/splits/all/coco.json?individual=1").streaming_content))
    extra = [a for a in full["annotations"] if a["attributes"].get("consensus_vote")]
    assert sorted(a["attributes"]["user"] for a in extra) == ["annotator", "pi"]
    assert {a["id"] for a in extra} == set(ConsensusVote.objects.values_list("draft_id", flat=True))
    assert not Annotation.objects.filter(pk__in=[a["id"] for a in extra]).exists()
    assert len({a["id"] for a in full["annotations"]}) == len(full["annotations"])


def test_a_skipped_vote_is_not_offered_again_and_settings_are_checked(imported, pool, users):
    from annotations.consensus import voting
    from annotations.models import ConsensusVote

    voting.set_settings(imported, people=3)
    annotator = api_client(users["annotator"])
    frame_id = claim(annotator)["frame"]
    skipped = annotator.post(f"{BASE}/frames/{frame_id}/lease/skip/", {"queue": "uncertain", "next": True},
                             format="json").json()
    assert skipped["next"]["frame"] != frame_id
    assert ConsensusVote.objects.get(frame_id=frame_id).status == "skipped"
    pi = api_client(users["pi"])
    for body in ({"people": 1}, {"people": 11}, {"threshold": 2}):
        assert pi.patch(f"{BASE}/consensus/settings/", body, format="json").status_code == 400, body
    assert pi.patch(f"{BASE}/consensus/settings/", {"people": 0}, format="json").json()["people"] == 0
