"""Review queues: priorities, ordering, filters, claims with leases, skip, release and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def frames(imported):
    """The demo's annotated frames by id, with their clip keys and form labels."""
    from annotations.models import Annotation

    rows = Annotation.objects.filter(project=imported).values_list("frame_id", "frame__clip__key", "form_label__name")
    return {fid: (clip, label) for fid, clip, label in rows}


def test_set_priorities_upserts_in_bulk_and_ignores_frames_of_other_projects(imported, frames, users):
    from annotations.models import Project, QueueItem
    from annotations.review.queues import set_priorities

    ids = sorted(frames)[:5]
    other = Project.create("other", "Other", user=users["outsider"])
    assert set_priorities(imported, "uncertain", {f: i / 10 for i, f in enumerate(ids)},
                          {ids[0]: {"confidence": 0.2}}) == 5
    assert set_priorities(other, "uncertain", {ids[0]: 1.0}) == 0
    # A second run changes priorities in place; signals stay where none are given.
    assert set_priorities(imported, "uncertain", {ids[0]: 0.9, ids[1]: 0.8}) == 2
    items = {i.frame_id: i for i in QueueItem.objects.filter(project=imported, queue="uncertain")}
    assert len(items) == 5
    assert items[ids[0]].priority == 0.9 and items[ids[0]].signals == {"confidence": 0.2}
    assert items[ids[4]].priority == pytest.approx(0.4)
    assert items[ids[0]].clip_id == items[ids[0]].frame.clip_id


def test_set_priorities_rejects_unknown_queues_and_non_finite_scores(imported, frames):
    from annotations.core.errors import InputError
    from annotations.review.queues import set_priorities

    with pytest.raises(InputError, match="unknown queue"):
        set_priorities(imported, "favourites", {next(iter(frames)): 1.0})
    with pytest.raises(InputError, match="finite"):
        set_priorities(imported, "uncertain", {next(iter(frames)): float("nan")})


def test_claims_come_in_priority_order_and_never_twice(imported, frames, users):
    from annotations.review.claims import claim_next
    from annotations.review.queues import set_priorities

    ids = sorted(frames)[:3]
    set_priorities(imported, "label_error", {ids[0]: 0.1, ids[1]: 0.9, ids[2]: 0.5})
    first = claim_next(imported, "label_error", users["annotator"])
    second = claim_next(imported, "label_error", users["reviewer"])
    third = claim_next(imported, "label_error", users["pi"])
    assert [first.frame_id, second.frame_id, third.frame_id] == [ids[1], ids[2], ids[0]]
    assert claim_next(imported, "label_error", users["outsider"]) is None


def test_a_person_gets_their_own_claim_back_and_holds_one_frame_per_queue(imported, frames, users):
    from annotations.models import FrameLease
    from annotations.review.claims import claim_next
    from annotations.review.queues import set_priorities

    ids = sorted(frames)[:3]
    set_priorities(imported, "uncertain", {ids[0]: 3, ids[1]: 2, ids[2]: 1})
    a = claim_next(imported, "uncertain", users["annotator"])
    again = claim_next(imported, "uncertain", users["annotator"])
    assert again.pk == a.pk
    assert FrameLease.objects.filter(user=users["annotator"]).count() == 1


def test_an_expired_lease_returns_the_frame_to_the_queue(imported, frames, users):
    from annotations.models import FrameLease
    from annotations.review.claims import claim_next
    from annotations.review.queues import set_priorities

    fid = sorted(frames)[0]
    set_priorities(imported, "uncertain", {fid: 1.0})
    assert claim_next(imported, "uncertain", users["annotator"]).frame_id == fid
    assert claim_next(imported, "uncertain", users["reviewer"]) is None
    FrameLease.objects.filter(frame_id=fid).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = claim_next(imported, "uncertain", users["reviewer"])
    assert taken.frame_id == fid
    assert FrameLease.objects.get(frame_id=fid).user == users["reviewer"]


def test_release_gives_the_frame_back_and_skip_hides_it_from_that_person_only(imported, frames, users):
    from annotations.models import Frame
    from annotations.review.claims import claim_next, release, skip
    from annotations.review.queues import set_priorities

    ids = sorted(frames)[:2]
    set_priorities(imported, "uncertain", {ids[0]: 2, ids[1]: 1})
    top = Frame.objects.get(pk=ids[0])
    assert claim_next(imported, "uncertain", users["annotator"]).frame_id == ids[0]
    assert release(top, users["annotator"]) is True
    assert claim_next(imported, "uncertain", users["reviewer"]).frame_id == ids[0]
    release(top, users["reviewer"])
    assert skip(top, users["reviewer"], "uncertain") == 1
    assert claim_next(imported, "uncertain", users["reviewer"]).frame_id == ids[1]
    assert claim_next(imported, "uncertain", users["annotator"]).frame_id == ids[0]


def test_a_frame_in_two_queues_is_leased_to_one_person(imported, frames, users):
    from annotations.review.claims import claim_next
    from annotations.review.queues import set_priorities

    fid = sorted(frames)[0]
    set_priorities(imported, "uncertain", {fid: 1.0})
    set_priorities(imported, "label_error", {fid: 1.0})
    assert claim_next(imported, "uncertain", users["annotator"]).frame_id == fid
    assert claim_next(imported, "label_error", users["reviewer"]) is None


def test_claims_filter_by_clip_split_and_form_label(imported, frames, users):
    from annotations.models import Frame
    from annotations.review.claims import claim_next
    from annotations.review.queues import set_priorities

    set_priorities(imported, "uncertain", {f: float(f) for f in frames})
    lumbar_clip = next(clip for clip, label in frames.values() if label == "lumbar_error")
    item = claim_next(imported, "uncertain", users["annotator"], clip=lumbar_clip)
    assert frames[item.frame_id][0] == lumbar_clip
    item = claim_next(imported, "uncertain", users["reviewer"], form_label="correct")
    assert frames[item.frame_id][1] == "correct"
    some = Frame.objects.filter(pk__in=list(frames)).order_by("id")[:3]
    Frame.objects.filter(pk__in=[f.pk for f in some]).update(split="val")
    item = claim_next(imported, "uncertain", users["pi"], split="val")
    assert item.frame_id == max(f.pk for f in some)
    assert claim_next(imported, "uncertain", users["pi"], clip="no-such-clip") is None


def test_builtin_queues_find_unverified_spine_points_and_an_audit_sample(imported, frames):
    from annotations.models import QueueItem
    from annotations.review.queues import refresh_builtin_queues

    sizes = refresh_builtin_queues(imported, seed=1)
    # Every imported annotation has heuristic spine points (the file has no spine labels).
    assert sizes["unverified_spine"] == 210
    assert sizes["audit"] == 21
    assert sizes["new_preannotated"] == 0
    item = QueueItem.objects.filter(project=imported, queue="unverified_spine").first()
    assert item.priority == 7 and "spine_03" in item.signals["unverified_spine_points"]
    # A second refresh neither duplicates nor grows the audit sample.
    assert refresh_builtin_queues(imported, seed=2)["audit"] == 21


def test_queue_api_claims_and_respects_roles(imported, frames, users):
    from annotations.review.queues import set_priorities

    fid = sorted(frames)[0]
    set_priorities(imported, "uncertain", {fid: 1.0})
    set_priorities(imported, "review", {fid: 1.0})
    annotator = api_client(users["annotator"])
    r = annotator.post("/api/projects/demo/queues/uncertain/claim/", {}, format="json")
    assert r.status_code == 200 and r.json()["item"]["frame"] == fid
    assert r.json()["item"]["edit_url"] == f"/p/demo/frames/{fid}/edit/?queue=uncertain"
    assert annotator.post("/api/projects/demo/queues/review/claim/", {}, format="json").status_code == 403
    assert api_client(users["outsider"]).post("/api/projects/demo/queues/uncertain/claim/").status_code == 404
    listing = annotator.get("/api/projects/demo/queues/").json()
    by_name = {q["queue"]: q for q in listing["queues"]}
    assert by_name["uncertain"] == {**by_name["uncertain"], "open": 1, "claimed": 1, "allowed": True}
    assert by_name["review"]["allowed"] is False
    assert annotator.post(f"/api/projects/demo/frames/{fid}/lease/renew/").status_code == 200
    assert annotator.post(f"/api/projects/demo/frames/{fid}/lease/release/").json() == {"released": True}
    assert annotator.post(f"/api/projects/demo/frames/{fid}/lease/renew/").status_code == 404


def test_the_split_filter_follows_the_current_split_version(imported, frames, users):
    from annotations.datasets.splitting import create_split
    from annotations.models import Frame
    from annotations.review.claims import claim_next
    from annotations.review.queues import set_priorities

    create_split(imported, seed=42)
    set_priorities(imported, "uncertain", {f: float(f) for f in frames})
    got = [claim_next(imported, "uncertain", users[u], split="test") for u in ("annotator", "reviewer", "pi")]
    splits = set(Frame.objects.filter(pk__in=[i.frame_id for i in got]).values_list("split", flat=True))
    assert splits == {"test"}
    best_test = max(f.pk for f in Frame.objects.filter(pk__in=list(frames), split="test"))
    assert got[0].frame_id == best_test


def test_queue_items_follow_their_frames_split_and_form_label_whoever_changes_them(imported, frames, users):
    from annotations.models import Annotation, Frame, QueueItem
    from annotations.review.editing import save_edit
    from annotations.review.queues import set_priorities

    fid = sorted(frames)[0]
    unlabelled = Frame.objects.filter(project=imported, annotations__isnull=True).order_by("id").first()
    set_priorities(imported, "uncertain", {fid: 1.0, unlabelled.pk: 0.5})
    item = QueueItem.objects.get(frame_id=fid)
    assert (item.split, item.form_label.name) == ("", frames[fid][1])
    Frame.objects.filter(pk=fid).update(split="val")  # as the split job does, in one UPDATE
    ann = Annotation.objects.get(frame_id=fid)
    other = "correct" if frames[fid][1] == "lumbar_error" else "lumbar_error"
    save_edit(ann.pk, users["annotator"], {"form_label": other}, ann.version)
    item.refresh_from_db()
    assert (item.split, item.form_label.name) == ("val", other)
    # An annotation that arrives later (an import, an editor's first save) labels the waiting item too.
    assert QueueItem.objects.get(frame=unlabelled).form_label is None
    Annotation.objects.create(project=imported, frame=unlabelled, keypoints=[1, 1, 2], keypoint_states=["verified"],
                              bbox=[0, 0, 1, 1], area=1, form_label=imported.form_labels.get(name="correct"))
    assert QueueItem.objects.get(frame=unlabelled).form_label.name == "correct"
