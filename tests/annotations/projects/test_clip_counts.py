"""The per-clip counts the project figures are summed from stay equal to counting the frames and
annotations directly, after every kind of write: bulk inserts, edits of a form label, status and split
changes, moving a frame, deleting annotations, frames, clips and whole projects."""

from __future__ import annotations

import pytest
from django.db.models import Count

from annotations.models import Annotation, Clip, ClipCounts, Frame, Project
from annotations.projects.stats import clip_frames, project_stats
from tests.annotations.dashboards.test_scaling import grow

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def counted(project) -> dict:
    """The figures counted straight from frames and annotations (what the counts must equal)."""
    frames = Frame.objects.filter(project=project)
    annotations = Annotation.objects.filter(project=project)
    by_split: dict[str, dict] = {}
    for split, label, n in (annotations.values_list("frame__split", "form_label__name")
                            .annotate(n=Count("frame", distinct=True))):
        by_split.setdefault(split or "unassigned", {})[label or "none"] = n
    annotated = frames.filter(annotations__isnull=False).distinct()
    return {
        "frames": frames.count(), "annotated_frames": annotated.count(),
        "unlabelled_pool": frames.count() - annotated.count(), "clips": project.clips.count(),
        "annotated_clips": project.clips.filter(frames__annotations__isnull=False).distinct().count(),
        "frames_by_status": dict(frames.values_list("status").annotate(n=Count("id"))),
        "annotated_frames_by_label": {(k or "none"): v for k, v in annotations.values_list("form_label__name")
                                      .annotate(n=Count("frame", distinct=True))},
        "annotated_frames_by_split": by_split,
        "missing_images": frames.filter(image="", source_path="").count()}


def per_clip(project) -> list[tuple]:
    return list(project.clips.annotate(n=Count("frames", distinct=True),
                                       a=Count("frames__annotations__frame", distinct=True))
                .order_by("key").values_list("key", "n", "a"))


def check(project) -> None:
    assert project_stats(project) == counted(project)
    assert clip_frames(project) == per_clip(project)


@pytest.fixture
def grown(project, users):
    grow(project, [users["annotator"], users["reviewer"]], 60)
    return project


def test_counts_follow_inserts_label_status_and_split_changes(grown):
    check(grown)
    other = grown.form_labels.order_by("-order").first()
    first = Annotation.objects.filter(project=grown).order_by("frame_id")[0]
    Annotation.objects.filter(pk=first.pk).update(form_label=other)
    Annotation.objects.create(project=grown, frame_id=first.frame_id, instance=1, keypoints=first.keypoints,
                              keypoint_states=first.keypoint_states, bbox=first.bbox, area=first.area)
    Frame.objects.filter(project=grown, status="unlabelled").update(status="preannotated")
    Frame.objects.filter(project=grown, split="val").update(split="")
    Frame.objects.filter(pk=first.frame_id).update(image="", source_path="")
    assert project_stats(grown)["annotated_frames_by_label"]["none"] == 1
    check(grown)


def test_counts_follow_moves_and_deletes(grown):
    frame = Frame.objects.filter(project=grown, annotations__isnull=False).order_by("pk").first()
    last_clip = grown.clips.order_by("-key").first()
    Frame.objects.filter(pk=frame.pk).update(clip=last_clip, frame_index=99)
    check(grown)
    Annotation.objects.filter(project=grown, frame__clip=last_clip).delete()
    check(grown)
    Frame.objects.filter(project=grown, status="accepted").delete()  # their annotations go first
    check(grown)
    doomed = grown.clips.order_by("key").first()
    doomed.delete()
    assert not ClipCounts.objects.filter(clip_id=doomed.pk).exists()
    check(grown)


def test_a_new_clip_without_frames_counts_zero_and_a_deleted_project_leaves_no_counts(grown):
    Clip.objects.create(project=grown, key="empty")
    assert ("empty", 0, 0) in clip_frames(grown)
    check(grown)
    pk = grown.pk
    Project.objects.get(pk=pk).delete()
    assert not ClipCounts.objects.filter(project_id=pk).exists()


@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_two_transactions_changing_frames_of_one_clip_recount_it_one_after_the_other(project, users):
    """Two submits in one clip at once: the second recount waits for the first to commit, then counts
    both (without the wait both deleted the clip's row and both inserted one: a unique violation)."""
    import threading

    import psycopg
    from django.db import connection

    grow(project, [users["annotator"], users["reviewer"]], 4)
    clip = project.clips.order_by("key").first()
    first, second = Frame.objects.filter(clip=clip).order_by("id")[:2]
    cfg = connection.settings_dict
    dsn = dict(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432, user=cfg["USER"], dbname=cfg["NAME"])
    errors: list[BaseException] = []
    with psycopg.connect(**dsn) as a, psycopg.connect(**dsn) as b:
        a.execute("UPDATE annotations_frame SET status = 'accepted' WHERE id = %s", [first.pk])

        def other_submit():
            try:
                b.execute("UPDATE annotations_frame SET status = 'rejected' WHERE id = %s", [second.pk])
                b.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        worker = threading.Thread(target=other_submit)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive()             # waiting for the first transaction's recount of the clip
        a.commit()
        worker.join(timeout=30)
    assert errors == []
    counts = ClipCounts.objects.get(clip=clip).by_status
    assert counts.get("accepted", 0) >= 1 and counts.get("rejected", 0) >= 1
    check(project)
