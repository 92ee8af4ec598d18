"""Browsing never shows annotators a gold frame's annotation, status or that it is gold: the frames REST,
a frame, the gallery and the frame's history read it as an unlabelled pool frame, and filters agree;
reviewers and PIs see it as it is."""

from __future__ import annotations

import re

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

BASE = "/api/projects/demo"


def gold_facts(gold):
    """(the frame's real status, its form label name) of the gold fixture's frame."""
    from annotations.models import Annotation

    ann = Annotation.objects.select_related("frame", "form_label").get(frame_id=gold.frame_id, instance=0)
    return ann.frame.status, ann.form_label.name


def frame_rows(client, **filters):
    query = "&".join(f"{k}={v}" for k, v in {"limit": 500, **filters}.items())
    return {r["id"]: r for r in client.get(f"{BASE}/frames/?{query}").json()["results"]}


def test_the_frames_rest_shows_annotators_a_gold_frame_as_an_unlabelled_pool_frame(gold, users):
    status, label = gold_facts(gold)
    assert status != "unlabelled"
    reviewer, annotator = api_client(users["reviewer"]), api_client(users["annotator"])
    seen = frame_rows(reviewer)[gold.frame_id]
    assert seen["status"] == status and seen["annotations"][0]["form_label"] == label and seen["gold"]
    blind = frame_rows(annotator)[gold.frame_id]
    assert blind["status"] == "unlabelled" and blind["annotations"] == [] and "gold" not in blind
    # Other annotated frames keep their annotations for annotators.
    others = [r for fid, r in frame_rows(annotator).items() if fid != gold.frame_id and r["annotations"]]
    assert others and others[0]["status"] == status
    # The status filter reads the disguise too: listed as unlabelled, never under its real status.
    assert gold.frame_id in frame_rows(annotator, status="unlabelled")
    assert gold.frame_id not in frame_rows(annotator, status=status)
    assert gold.frame_id in frame_rows(reviewer, status=status)
    assert gold.frame_id not in frame_rows(reviewer, status="unlabelled")
    detail = annotator.get(f"{BASE}/frames/{gold.frame_id}/").json()
    assert detail["status"] == "unlabelled" and detail["annotations"] == [] and "gold" not in detail
    assert reviewer.get(f"{BASE}/frames/{gold.frame_id}/").json()["annotations"][0]["form_label"] == label


def gallery_item(html: str, frame_id: int) -> str | None:
    found = re.search(rf'<li data-frame="{frame_id}".*?</li>', html, re.S)
    return found.group(0) if found else None


def test_the_gallery_and_history_show_annotators_a_gold_frame_as_an_unlabelled_pool_frame(gold, users, client):
    from annotations.models import FormLabel

    status, label = gold_facts(gold)
    shown_label = FormLabel.objects.get(project=gold.project, name=label).display_name
    clip = gold.frame.clip.key
    client.force_login(users["reviewer"])
    item = gallery_item(client.get(f"/p/demo/frames/?clip={clip}").content.decode(), gold.frame_id)
    assert f'data-status="{status}"' in item and shown_label in item and "gold-badge" in item
    client.force_login(users["annotator"])
    html = client.get(f"/p/demo/frames/?clip={clip}").content.decode()
    item = gallery_item(html, gold.frame_id)
    assert 'data-status="unlabelled"' in item and shown_label not in item and "gold" not in item.lower()
    assert 'class="label"' in html  # the other frames of the clip still show their labels
    # Filters agree with what is shown.
    assert gallery_item(client.get(f"/p/demo/frames/?clip={clip}&label={label}").content.decode(),
                        gold.frame_id) is None
    assert gallery_item(client.get(f"/p/demo/frames/?clip={clip}&status={status}").content.decode(),
                        gold.frame_id) is None
    for query in ("status=unlabelled", "label=none", "verified=none"):
        page = client.get(f"/p/demo/frames/?clip={clip}&{query}").content.decode()
        assert gallery_item(page, gold.frame_id) is not None, query
    # The frame's history: a reviewer's edit after the marking is there for reviewers only.
    from annotations.models import Annotation
    from annotations.review import editing

    ann = Annotation.objects.get(frame_id=gold.frame_id, instance=0)
    editing.save_edit(ann.pk, users["reviewer"], {"keypoints": [ann.keypoints[0] + 3, *ann.keypoints[1:]]},
                      ann.version)
    history = client.get(f"/p/demo/frames/{gold.frame_id}/history/").content.decode()
    assert 'class="status-unlabelled"' in history and 'class="history-' not in history
    client.force_login(users["reviewer"])
    full = client.get(f"/p/demo/frames/{gold.frame_id}/history/").content.decode()
    assert 'class="status-unlabelled"' not in full and 'class="history-revision"' in full


def test_a_gold_frame_opened_by_its_address_shows_annotators_nobodys_points_and_takes_none(gold, users, client):
    from annotations.models import Annotation, Frame, GoldFrame

    ann = Annotation.objects.get(frame_id=gold.frame_id, instance=0)
    annotator, reviewer = api_client(users["annotator"]), api_client(users["reviewer"])
    payload = annotator.get(f"{BASE}/frames/{gold.frame_id}/editor/").json()
    assert payload["frame"]["status"] == "unlabelled" and payload["annotation"] is None
    assert payload["instances"] == [] and payload["rejection"] is None
    assert reviewer.get(f"{BASE}/frames/{gold.frame_id}/editor/").json()["annotation"]["id"] == ann.pk
    assert annotator.get(f"{BASE}/frames/{gold.frame_id}/history/").json()["entries"] == []
    # Its annotation is not there for them by id either, and they cannot label the frame outside a queue.
    assert annotator.get(f"{BASE}/annotations/{ann.pk}/").status_code == 404
    assert annotator.patch(f"{BASE}/annotations/{ann.pk}/", {"keypoints": ann.keypoints, "version": ann.version},
                           format="json").status_code == 404
    refused = annotator.post(f"{BASE}/frames/{gold.frame_id}/annotations/", {"keypoints": ann.keypoints},
                             format="json")
    assert refused.status_code == 403 and "keypoints" not in refused.content.decode()
    assert Annotation.objects.get(pk=ann.pk).version == ann.version
    assert GoldFrame.objects.get(pk=gold.pk).keypoints == gold.keypoints
    assert reviewer.get(f"{BASE}/annotations/{ann.pk}/").status_code == 200
    # A neighbouring frame's editor shows the gold frame's points to reviewers only (onion skin, copy previous).
    after = Frame.objects.filter(clip_id=gold.frame.clip_id, frame_index__gt=gold.frame.frame_index).order_by(
        "frame_index").first()
    prev_seen = reviewer.get(f"{BASE}/frames/{after.pk}/editor/").json()["neighbours"]["prev"]
    assert prev_seen["id"] == gold.frame_id and prev_seen["keypoints"]
    prev_blind = annotator.get(f"{BASE}/frames/{after.pk}/editor/").json()["neighbours"]["prev"]
    assert prev_blind["id"] == gold.frame_id and prev_blind["keypoints"] is None and prev_blind["people"] == {}
    client.force_login(users["annotator"])
    page = client.get(f"/p/demo/frames/{gold.frame_id}/edit/").content.decode()
    assert '<span id="ed-status" class="frame-status">unlabelled</span>' in page
