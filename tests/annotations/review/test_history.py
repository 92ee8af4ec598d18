"""A frame's history: every revision and review transition, and restoring any revision as a new one."""

from __future__ import annotations

import re

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

NECK = 17


@pytest.fixture
def edited(imported, users):
    """An annotation edited twice: the neck moved by the annotator, then the label changed by the reviewer."""
    from annotations.models import Annotation
    from annotations.review.editing import save_edit

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    kpts = list(ann.keypoints)
    kpts[3 * NECK] += 12
    save_edit(ann.pk, users["annotator"], {"keypoints": kpts}, ann.version)
    save_edit(ann.pk, users["reviewer"], {"form_label": "lumbar_error"}, ann.version + 1)
    ann.original = ann.keypoints
    return ann


def test_history_lists_revisions_and_transitions_newest_first_with_what_changed(edited, users):
    from annotations.review import decisions as review

    review.submit(edited.frame, users["annotator"], "uncertain")
    r = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{edited.frame_id}/history/")
    assert r.status_code == 200
    entries = r.json()["entries"]
    assert [(e["type"], e["kind"], e["user"]) for e in entries] == [
        ("transition", "submit", "annotator"), ("revision", "edit", "reviewer"), ("revision", "edit", "annotator")]
    assert entries[1]["changes"] == [f"form label {edited.form_label.name} → lumbar_error"]
    assert entries[2]["changes"] == ["moved neck"]
    assert entries[0]["changes"] == ["annotated → submitted", "from queue uncertain"]
    assert [e["restorable"] for e in entries] == [False, True, True]


def test_restoring_a_revision_is_itself_a_new_revision(edited, users):
    from annotations.models import Annotation, Revision

    first_edit = Revision.objects.filter(annotation=edited, kind="edit").order_by("id").first()
    client = api_client(users["annotator"])
    r = client.post(f"/api/projects/demo/revisions/{first_edit.pk}/restore/", {"version": edited.version + 2},
                    format="json")
    assert r.status_code == 200, r.content
    stored = Annotation.objects.get(pk=edited.pk)
    assert stored.version == edited.version + 3
    assert stored.keypoints == first_edit.after["keypoints"]
    assert stored.form_label.name == first_edit.after["form_label"]
    latest = Revision.objects.filter(annotation=edited).order_by("-id").first()
    assert (latest.kind, latest.user) == ("restore", users["annotator"])
    assert f"revision {first_edit.pk}" in latest.note
    assert latest.before["form_label"] == "lumbar_error" and latest.after == stored.snapshot()


def test_a_restore_from_a_stale_page_gets_409_and_needs_a_version(edited, users):
    from annotations.models import Revision

    rev = Revision.objects.filter(annotation=edited).order_by("id").first()
    client = api_client(users["annotator"])
    stale = client.post(f"/api/projects/demo/revisions/{rev.pk}/restore/", {"version": edited.version},
                        format="json")
    assert stale.status_code == 409 and stale.json()["current"]["version"] == edited.version + 2
    assert client.post(f"/api/projects/demo/revisions/{rev.pk}/restore/", {}, format="json").status_code == 400


def test_a_revision_whose_form_label_is_gone_cannot_be_restored(edited, users):
    from annotations.core.errors import InputError
    from annotations.models import Revision
    from annotations.projects import settings as project_settings
    from annotations.review.editing import save_edit
    from annotations.review.history import restore

    project_settings.save_form_label(edited.project, "knee_valgus", "Knee valgus", "#9467bd")
    save_edit(edited.pk, users["pi"], {"form_label": "knee_valgus"}, edited.version + 2)
    with_label = Revision.objects.filter(annotation=edited).order_by("-id").first()
    save_edit(edited.pk, users["pi"], {"form_label": "correct"}, edited.version + 3)
    project_settings.delete_form_label(edited.project, "knee_valgus")
    with pytest.raises(InputError, match="no longer exists"):
        restore(with_label, users["pi"])


def test_the_history_page_shows_entries_and_restores_by_form(edited, users, client):
    from annotations.models import Annotation, Revision

    client.force_login(users["annotator"])
    page = client.get(f"/p/demo/frames/{edited.frame_id}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="history-revision"') == 2 and "moved neck" in html
    first_edit = Revision.objects.filter(annotation=edited).order_by("id").first()
    r = client.post(f"/p/demo/revisions/{first_edit.pk}/restore/", {"version": edited.version + 2, "confirmed": "1"})
    assert r.status_code == 302 and r["Location"] == f"/p/demo/frames/{edited.frame_id}/history/"
    assert Annotation.objects.get(pk=edited.pk).form_label.name == first_edit.after["form_label"]
    # A restore button rendered before someone else saved does not overwrite their work.
    r = client.post(f"/p/demo/revisions/{first_edit.pk}/restore/", {"version": edited.version + 2, "confirmed": "1"},
                    follow=True)
    assert "Someone saved this frame" in r.content.decode()
    client.force_login(users["outsider"])
    assert client.get(f"/p/demo/frames/{edited.frame_id}/history/").status_code == 404


def test_the_imported_state_before_the_first_change_can_be_restored(edited, users):
    from annotations.models import Annotation, Revision
    from annotations.review.history import frame_history, restore

    entries = frame_history(edited.frame)
    assert [e["restorable_before"] for e in entries] == [False, True]
    oldest = Revision.objects.get(pk=entries[-1]["id"])
    restore(oldest, users["pi"], which="before")
    stored = Annotation.objects.get(pk=edited.pk)
    assert stored.keypoints == edited.original
    assert stored.form_label == edited.form_label
    latest = Revision.objects.filter(annotation=edited).order_by("-id").first()
    assert latest.note.startswith("restored the state before")


def test_the_history_page_restores_only_after_the_person_confirms(edited, users, client):
    from annotations.models import Annotation, Revision

    client.force_login(users["annotator"])
    html = client.get(f"/p/demo/frames/{edited.frame_id}/history/").content.decode()
    # The first button only asks; the form posts from the confirmation, which the page script reveals.
    assert '<button type="button" class="secondary restore"' in html
    assert '<div class="restore-confirm" hidden>' in html and 'name="confirmed" value="1"' in html
    assert "annotations/review/history.js" in html
    first_edit = Revision.objects.filter(annotation=edited).order_by("id").first()
    r = client.post(f"/p/demo/revisions/{first_edit.pk}/restore/", {"version": edited.version + 2}, follow=True)
    assert "Confirm the restore first" in r.content.decode()
    assert Annotation.objects.get(pk=edited.pk).version == edited.version + 2


def test_restoring_a_revision_of_an_accepted_frame_sends_it_back_to_review(edited, users, client):
    from annotations.models import FrameTransition, Queue, QueueItem, Revision
    from annotations.review import decisions

    decisions.submit(edited.frame, users["annotator"])
    decisions.decide(edited.frame, users["reviewer"], "accept")
    edited.frame.refresh_from_db()
    assert edited.frame.status == "accepted"
    first_edit = Revision.objects.filter(annotation=edited).order_by("id").first()
    client.force_login(users["reviewer"])
    r = client.post(f"/p/demo/revisions/{first_edit.pk}/restore/", {"version": edited.version + 2, "confirmed": "1"},
                    follow=True)
    assert "the frame is submitted for review" in r.content.decode()
    edited.frame.refresh_from_db()
    assert edited.frame.status == "submitted"
    last = FrameTransition.objects.filter(frame=edited.frame).first()
    assert (last.action, last.from_status, last.to_status, last.user) == ("submit", "accepted", "submitted",
                                                                          users["reviewer"])
    assert "restored the state after revision" in last.comment
    item = QueueItem.objects.get(frame=edited.frame, queue=Queue.REVIEW)
    assert item.done_at is None and item.signals["restored"].startswith("restored")


def test_restoring_through_the_api_also_sends_an_accepted_frame_back_to_review(edited, users):
    from annotations.models import Revision
    from annotations.review import decisions

    decisions.submit(edited.frame, users["annotator"])
    decisions.decide(edited.frame, users["reviewer"], "accept")
    rev = Revision.objects.filter(annotation=edited).order_by("id").first()
    r = api_client(users["reviewer"]).post(f"/api/projects/demo/revisions/{rev.pk}/restore/",
                                           {"version": edited.version + 2}, format="json")
    assert r.status_code == 200
    edited.frame.refresh_from_db()
    assert edited.frame.status == "submitted"


def test_a_restore_of_a_frame_not_yet_submitted_leaves_its_status(edited, users):
    from annotations.models import FrameTransition, Revision
    from annotations.review.history import restore

    status = edited.frame.status
    restore(Revision.objects.filter(annotation=edited).order_by("id").first(), users["annotator"])
    edited.frame.refresh_from_db()
    assert edited.frame.status == status and not FrameTransition.objects.filter(frame=edited.frame).exists()


def test_the_history_page_draws_each_revisions_keypoints_before_and_after_over_the_frame(edited, users, client):
    client.force_login(users["annotator"])
    html = client.get(f"/p/demo/frames/{edited.frame_id}/history/").content.decode()
    neck_move = html.split('data-kind="edit"')[-1].split("</tr>")[0]  # the oldest edit: the neck moved
    assert "moved neck" in neck_move
    assert neck_move.count('<svg class="overlay"') == 2
    assert f'<image href="/api/projects/demo/frames/{edited.frame_id}/image/"' in neck_move
    before = neck_move.split('class="overlay-before"')[1].split("</figure>")[0]
    after = neck_move.split('class="overlay-after"')[1].split("</figure>")[0]
    x = edited.original[3 * NECK]
    changed = (r'<circle class="pt[a-z ]*changed" cx="([\d.]+)" cy="[\d.]+" r="[\d.]+" stroke-width="[\d.]+">'
               r"<title>(\w+)<")
    assert [(float(cx), name) for cx, name in re.findall(changed, before)] == [(pytest.approx(x), "neck")]
    assert [(float(cx), name) for cx, name in re.findall(changed, after)] == [(pytest.approx(x + 12), "neck")]
    assert '<line class="bone"' in after


def test_overlays_mark_changed_points_and_skip_unlabelled_ones():
    from annotations.review.history import overlay

    skeleton = {"keypoints": ["a", "b", "c"], "links": [[0, 1], [1, 2]]}
    before = {"keypoints": [1, 1, 2, 5, 5, 1, 0, 0, 0]}
    after = {"keypoints": [1, 1, 2, 6, 5, 2, 9, 9, 2]}
    drawn = overlay(after, before, skeleton)
    assert [(p["name"], p["changed"], p["occluded"]) for p in drawn["points"]] == [
        ("a", False, False), ("b", True, False), ("c", True, False)]
    assert len(drawn["bones"]) == 2
    drawn = overlay(before, after, skeleton)
    assert [p["name"] for p in drawn["points"]] == ["a", "b"] and drawn["points"][1]["occluded"]
    assert len(drawn["bones"]) == 1 and overlay(None, after, skeleton) is None
