"""Honeypots: gold frames served blind in the annotation queues, the person's work kept apart from the
frame and scored against the gold, and the frame never coming back to them."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

BASE = "/api/projects/demo"


def claim(client, queue="uncertain", **filters):
    response = client.post(f"{BASE}/queues/{queue}/claim/", filters, format="json")
    assert response.status_code == 200, response.content
    return response.json()["item"]


def test_a_claim_serves_the_gold_frame_looking_like_a_pool_frame(gold, users, client):
    from annotations.models import GoldAttempt

    annotator = api_client(users["annotator"])
    item = claim(annotator)
    assert item["frame"] == gold.frame_id
    assert "rejected" not in item["signals"]
    attempt = GoldAttempt.objects.get(user=users["annotator"])
    assert attempt.status == "open" and attempt.frame_id == gold.frame_id
    assert claim(annotator)["frame"] == gold.frame_id  # a held claim comes back, as any claim does

    payload = annotator.get(f"{BASE}/frames/{gold.frame_id}/editor/").json()
    text = json.dumps(payload).lower()
    assert "gold" not in text and "honeypot" not in text
    assert payload["annotation"] is None and payload["frame"]["status"] == "unlabelled"
    assert payload.get("instances", []) == [] and payload["rejection"] is None
    assert payload["lease"]["queue"] == "uncertain"
    stored = gold.frame.annotations.get(instance=0)
    assert json.dumps(stored.keypoints[:6])[1:-1] not in json.dumps(payload)  # the gold's points are not sent

    # The same keys as the editor's payload of a pool frame claimed from the same queue.
    pool = api_client(users["reviewer"])
    other = claim(pool)
    assert other["frame"] != gold.frame_id
    pool_payload = pool.get(f"{BASE}/frames/{other['frame']}/editor/").json()
    assert set(payload) == set(pool_payload)
    for part in ("frame", "lease"):
        assert set(payload[part]) == set(pool_payload[part]), part
    assert set(item) == set(other)

    client.force_login(users["annotator"])
    page = client.get(f"/p/demo/frames/{gold.frame_id}/edit/?queue=uncertain").content.decode()
    assert "gold" not in page.lower() and ">unlabelled<" in page
    history = annotator.get(f"{BASE}/frames/{gold.frame_id}/history/").json()
    assert history["entries"] == []
    frames = annotator.get(f"{BASE}/frames/?limit=500").json()["results"]
    assert all("gold" not in f for f in frames)  # annotators never get the gold state


def test_the_submission_is_scored_against_the_gold_and_never_changes_the_frame(gold, users):
    from annotations.models import Annotation, FrameTransition, GoldAttempt, GoldFrame, Revision

    stored = Annotation.objects.get(frame_id=gold.frame_id, instance=0)
    before = (stored.keypoints, stored.keypoint_states, stored.version, stored.updated_at, stored.form_label_id)
    frame_status = stored.frame.status
    revisions = Revision.objects.filter(frame_id=gold.frame_id).count()
    frozen = GoldFrame.objects.values().get(pk=gold.pk)

    annotator = api_client(users["annotator"])
    assert claim(annotator)["frame"] == gold.frame_id
    mine = list(gold.keypoints)
    for i in range(0, len(mine), 3):
        if mine[i + 2] > 0:
            mine[i], mine[i + 1] = mine[i] + 3, mine[i + 1] + 4  # every gold point 5 px off
    created = annotator.post(f"{BASE}/frames/{gold.frame_id}/annotations/",
                             {"keypoints": mine, "form_label": gold.form_label, "queue": "uncertain"}, format="json")
    assert created.status_code == 201, created.content
    draft = created.json()
    assert draft["version"] == 1 and draft["id"] != stored.pk and draft["keypoints"] == mine
    assert not Annotation.objects.filter(pk=draft["id"]).exists()
    url = f"{BASE}/annotations/{draft['id']}/"
    assert annotator.get(url).json()["keypoints"] == mine
    stale = annotator.patch(url, {"form_label": gold.form_label, "version": 0}, format="json")
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 1
    saved = annotator.patch(url, {"form_label": gold.form_label, "version": 1, "queue": "uncertain"}, format="json")
    assert saved.status_code == 200 and saved.json()["version"] == 2
    assert api_client(users["reviewer"]).get(url).status_code == 404  # nobody else reaches the working copy
    payload = annotator.get(f"{BASE}/frames/{gold.frame_id}/editor/").json()
    assert payload["annotation"]["id"] == draft["id"] and payload["frame"]["status"] == "annotated"

    done = annotator.post(f"{BASE}/frames/{gold.frame_id}/submit/", {"queue": "uncertain", "next": True},
                          format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "submitted" and done.json()["next"]["frame"] != gold.frame_id

    attempt = GoldAttempt.objects.get(user=users["annotator"])
    sigmas = gold.project.skeleton["sigmas"]
    expected = [math.exp(-25 / (2 * gold.area * (2 * s) ** 2)) if gold.keypoints[3 * i + 2] > 0 else None
                for i, s in enumerate(sigmas)]
    assert attempt.status == "scored" and attempt.submitted_at is not None
    assert attempt.oks_per_keypoint == [None if e is None else pytest.approx(e, abs=1e-4) for e in expected]
    assert attempt.oks == pytest.approx(sum(e for e in expected if e is not None)
                                        / sum(e is not None for e in expected), abs=1e-4)
    assert attempt.pixel_error == 5.0 and attempt.form_agreement is True and attempt.missed == 0

    stored.refresh_from_db()
    assert (stored.keypoints, stored.keypoint_states, stored.version, stored.updated_at,
            stored.form_label_id) == before
    assert stored.frame.status == frame_status
    assert Revision.objects.filter(frame_id=gold.frame_id).count() == revisions
    assert not FrameTransition.objects.filter(frame_id=gold.frame_id).exists()
    assert GoldFrame.objects.values().get(pk=gold.pk) == frozen
    assert annotator.patch(url, {"form_label": None, "version": 2}, format="json").status_code == 400

    # The frame never comes back to this person, however often they claim.
    for _ in range(3):
        assert claim(annotator)["frame"] != gold.frame_id
    assert GoldAttempt.objects.filter(user=users["annotator"]).count() == 1


def test_an_empty_submission_is_refused_and_a_skipped_honeypot_is_not_served_again(gold, users):
    from annotations.models import GoldAttempt

    annotator = api_client(users["annotator"])
    claim(annotator)
    refused = annotator.post(f"{BASE}/frames/{gold.frame_id}/submit/", {"queue": "uncertain"}, format="json")
    assert refused.status_code == 400 and "nothing to submit" in refused.json()["detail"]
    skipped = annotator.post(f"{BASE}/frames/{gold.frame_id}/lease/skip/", {"queue": "uncertain", "next": True},
                             format="json").json()
    assert skipped["skipped"] == 1 and skipped["next"]["frame"] != gold.frame_id
    assert GoldAttempt.objects.get(user=users["annotator"]).status == "skipped"
    assert claim(annotator)["frame"] != gold.frame_id


def test_honeypots_follow_the_claims_filters_and_the_rate(gold, users):
    from annotations.gold import marking
    from annotations.models import Clip, GoldAttempt

    annotator = api_client(users["annotator"])
    other_clip = Clip.objects.filter(project=gold.project, frames__queue_items__queue="uncertain").exclude(
        pk=gold.frame.clip_id).values_list("key", flat=True).first()
    assert claim(annotator, clip=other_clip)["frame"] != gold.frame_id  # not of the clip asked for
    assert not GoldAttempt.objects.exists()
    assert claim(annotator, clip=gold.frame.clip.key)["frame"] == gold.frame_id  # of the clip asked for

    marking.set_rate(gold.project, 0)
    reviewer = api_client(users["reviewer"])
    first = claim(reviewer)["frame"]
    assert first != gold.frame_id
    marking.set_rate(gold.project, 1)
    assert claim(reviewer)["frame"] == first  # a claim held comes back before any honeypot
    assert claim(api_client(users["pi"]))["frame"] != gold.frame_id  # the PI marked it: never a honeypot to them
    assert set(GoldAttempt.objects.values_list("user__username", flat=True)) == {"annotator"}


def test_gold_frames_that_reach_an_annotation_queue_are_passed_over(gold, users):
    from annotations.gold import marking
    from annotations.models import QueueItem
    from annotations.review.queues import set_priorities

    marking.set_rate(gold.project, 0)
    set_priorities(gold.project, "label_error", {gold.frame_id: 100.0})  # a later check flags it
    item = claim(api_client(users["annotator"]), "label_error")
    assert item is None or item["frame"] != gold.frame_id
    assert QueueItem.objects.get(frame_id=gold.frame_id, queue="label_error").done_at is not None
