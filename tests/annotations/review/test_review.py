"""Review decisions: submit, accept, reject with a comment (back to a queue), fix; every transition recorded."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def frame(imported):
    """An annotated demo frame waiting in the unverified-spine queue."""
    from annotations.models import Frame
    from annotations.review.queues import refresh_builtin_queues

    refresh_builtin_queues(imported, seed=1)
    return Frame.objects.filter(project=imported, annotations__isnull=False).order_by("id").first()


def transitions(frame) -> list[tuple]:
    return list(frame.transitions.order_by("id").values_list("action", "from_status", "to_status", "queue",
                                                              "user__username", "comment"))


def test_submitting_moves_a_frame_from_the_annotation_queues_to_review(frame, users):
    from annotations.models import FrameLease, QueueItem
    from annotations.review.claims import claim_next

    claim_next(frame.project, "unverified_spine", users["annotator"])
    client = api_client(users["annotator"])
    r = client.post(f"/api/projects/demo/frames/{frame.pk}/submit/", {"queue": "unverified_spine"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "submitted" and r.json()["next"] is None
    frame.refresh_from_db()
    assert frame.status == "submitted"
    assert QueueItem.objects.get(frame=frame, queue="unverified_spine").done_by == users["annotator"]
    review = QueueItem.objects.get(frame=frame, queue="review")
    assert review.done_at is None
    assert review.signals == {"submitted_from": "unverified_spine", "submitted_by": "annotator"}
    assert not FrameLease.objects.filter(frame=frame).exists()
    assert transitions(frame) == [("submit", "annotated", "submitted", "unverified_spine", "annotator", "")]


def test_submit_with_next_hands_out_the_next_item_of_the_queue(frame, users):
    from annotations.review.claims import claim_next

    claim_next(frame.project, "unverified_spine", users["annotator"])
    r = api_client(users["annotator"]).post(f"/api/projects/demo/frames/{frame.pk}/submit/",
                                            {"queue": "unverified_spine", "next": True}, format="json")
    nxt = r.json()["next"]
    assert nxt["queue"] == "unverified_spine" and nxt["frame"] != frame.pk
    assert nxt["edit_url"] == f"/p/demo/frames/{nxt['frame']}/edit/?queue=unverified_spine"


def test_a_frame_without_an_annotation_cannot_be_submitted(imported, users):
    from annotations.models import Frame

    empty = Frame.objects.filter(project=imported, annotations__isnull=True).first()
    r = api_client(users["annotator"]).post(f"/api/projects/demo/frames/{empty.pk}/submit/", {}, format="json")
    assert r.status_code == 400 and "place the keypoints" in r.json()["detail"]


def test_a_rejection_needs_a_comment_and_sends_the_frame_back_first_in_line(frame, users):
    from annotations.models import QueueItem, QueueSkip
    from annotations.review import decisions as review
    from annotations.review.claims import claim_next, skip

    review.submit(frame, users["annotator"], "unverified_spine")
    reviewer = api_client(users["reviewer"])
    url = f"/api/projects/demo/frames/{frame.pk}/decision/"
    r = reviewer.post(url, {"decision": "reject", "comment": "  "}, format="json")
    assert r.status_code == 400 and "comment" in r.json()["detail"]
    r = reviewer.post(url, {"decision": "reject", "comment": "spine_03 sits on the shirt, not the back",
                            "queue": "review"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    frame.refresh_from_db()
    assert frame.status == "rejected"
    item = QueueItem.objects.get(frame=frame, queue="unverified_spine")
    assert item.done_at is None and item.signals["rejected"] == "spine_03 sits on the shirt, not the back"
    top = QueueItem.objects.filter(queue="unverified_spine", done_at__isnull=True).order_by("-priority").first()
    assert top.frame_id == frame.pk
    assert QueueItem.objects.get(frame=frame, queue="review").done_at is not None
    # The annotator who skipped it earlier gets it offered again, first.
    skip(frame, users["pi"], "unverified_spine")
    review.submit(frame, users["annotator"], "unverified_spine")
    review.decide(frame, users["reviewer"], "reject", "still off")
    assert not QueueSkip.objects.filter(item=item).exists()
    assert claim_next(frame.project, "unverified_spine", users["pi"]).frame_id == frame.pk
    editor = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{frame.pk}/editor/").json()
    assert editor["rejection"]["comment"] == "still off" and editor["rejection"]["by"] == "reviewer"


def test_every_transition_of_a_frame_is_recorded_in_order(frame, users):
    from annotations.review import decisions as review

    review.submit(frame, users["annotator"], "unverified_spine")
    review.decide(frame, users["reviewer"], "reject", "wrist is the other one", "review")
    review.submit(frame, users["annotator"], "unverified_spine")
    review.decide(frame, users["reviewer"], "fix", "", "review")
    assert transitions(frame) == [
        ("submit", "annotated", "submitted", "unverified_spine", "annotator", ""),
        ("reject", "submitted", "rejected", "review", "reviewer", "wrist is the other one"),
        ("submit", "rejected", "submitted", "unverified_spine", "annotator", ""),
        ("fix", "submitted", "accepted", "review", "reviewer", ""),
    ]
    frame.refresh_from_db()
    assert frame.status == "accepted"


def test_accepted_frames_are_not_submitted_again_and_audits_close_their_item(frame, users):
    from annotations.core.errors import InputError
    from annotations.models import QueueItem
    from annotations.review import decisions as review
    from annotations.review.queues import set_priorities

    set_priorities(frame.project, "audit", {frame.pk: 0.5})
    review.decide(frame, users["reviewer"], "accept", queue="audit")
    assert QueueItem.objects.get(frame=frame, queue="audit").done_at is not None
    with pytest.raises(InputError, match="accepted already"):
        review.submit(frame, users["annotator"])


def test_only_reviewers_decide_and_outsiders_see_nothing(frame, users):
    url = f"/api/projects/demo/frames/{frame.pk}/decision/"
    assert api_client(users["annotator"]).post(url, {"decision": "accept"}, format="json").status_code == 403
    assert api_client(users["outsider"]).post(url, {"decision": "accept"}, format="json").status_code == 404
    bad = api_client(users["reviewer"]).post(url, {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and "decision" in bad.json()["detail"]
    assert api_client(users["pi"]).post(url, {"decision": "accept"}, format="json").json()["status"] == "accepted"


def test_a_reviewer_works_the_review_queue_oldest_submission_first(imported, users):
    from annotations.models import Frame
    from annotations.review import decisions as review

    older, newer = Frame.objects.filter(project=imported, annotations__isnull=False).order_by("id")[:2]
    review.submit(older, users["annotator"])
    review.submit(newer, users["annotator"])
    reviewer = api_client(users["reviewer"])
    item = reviewer.post("/api/projects/demo/queues/review/claim/", {}, format="json").json()["item"]
    assert item["frame"] == older.pk
    r = reviewer.post(f"/api/projects/demo/frames/{older.pk}/decision/",
                      {"decision": "accept", "queue": "review", "next": True}, format="json")
    assert r.json()["next"]["frame"] == newer.pk
