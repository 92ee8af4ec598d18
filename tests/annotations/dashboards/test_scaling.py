"""The dashboards, project page and queue pages at scale: every chart endpoint and page makes the same
number of queries with N and with 3N frames (no query per frame, clip, revision or person), and the charts
that are computed in SQL give the figures the data holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations.dashboards.dataset_board import agreement, annotator_throughput, progress_over_time
from annotations.dashboards.registry import boards
from annotations.models import (
    Annotation,
    Clip,
    Frame,
    FrameTransition,
    GoldAttempt,
    GoldFrame,
    Membership,
    Revision,
    Role,
)
from annotations.review.queues import set_priorities

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

FRAMES_PER_CLIP = 10


def grow(project, people, n: int) -> None:
    """Add n frames in clips of 10: two thirds annotated, each annotated frame saved by one person and every
    third by a second one, every sixth accepted, every fifth gold with a scored attempt; all queued."""
    K = project.num_keypoints
    label = project.form_labels.first()
    start = Frame.objects.filter(project=project).count()
    clips = Clip.objects.bulk_create(Clip(project=project, key=f"clip{(start + i) // FRAMES_PER_CLIP:05d}")
                                     for i in range(0, n, FRAMES_PER_CLIP))
    statuses = ["unlabelled", "annotated", "accepted"]
    frames = Frame.objects.bulk_create(
        Frame(project=project, clip=clips[i // FRAMES_PER_CLIP], file_name=f"f{start + i}.jpg", width=100, height=100,
              frame_index=i % FRAMES_PER_CLIP, status=statuses[i % 3], split=["train", "val", "test"][i % 3],
              source_path=f"/nowhere/f{start + i}.jpg") for i in range(n))
    annotated = [f for f in frames if f.status != "unlabelled"]
    anns = Annotation.objects.bulk_create(
        Annotation(project=project, frame=f, keypoints=[20.0 + i % 7, 30.0, 2] * K, keypoint_states=["verified"] * K,
                   num_keypoints=K, bbox=[0, 0, 50, 80], area=4000.0, form_label=label)
        for i, f in enumerate(annotated))
    revisions = []
    for i, ann in enumerate(anns):
        snapshot = {"keypoints": ann.keypoints, "keypoint_states": ann.keypoint_states, "bbox": ann.bbox,
                    "area": ann.area, "form_label": label.name, "version": 2}
        for who in ([people[0]] if i % 3 else [people[0], people[1]]):
            revisions.append(Revision(project=project, frame_id=ann.frame_id, annotation=ann, user=who, kind="edit",
                                      after=snapshot))
    Revision.objects.bulk_create(revisions)
    FrameTransition.objects.bulk_create(
        FrameTransition(project=project, frame=f, user=people[1], action="accept", from_status="submitted",
                        to_status="accepted") for f in annotated if f.status == "accepted")
    for ann in anns[::5]:
        gold = GoldFrame.objects.create(project=project, frame_id=ann.frame_id, keypoints=ann.keypoints,
                                        keypoint_states=ann.keypoint_states, bbox=ann.bbox, area=ann.area)
        GoldAttempt.objects.create(project=project, gold=gold, frame_id=ann.frame_id, user=people[0],
                                   draft_id=10**12 + ann.frame_id, status=GoldAttempt.Status.SCORED, oks=0.9,
                                   submitted_at=timezone.now(), pixel_error=2.0, form_agreement=True)
    set_priorities(project, "uncertain", {f.pk: float(i) for i, f in enumerate(frames)},
                   {f.pk: {"main_signal": "flip"} for f in frames})


def pages(slug: str) -> list[tuple[str, str]]:
    urls = [(f"/api/projects/{slug}/dashboards/{board}/{chart}.{fmt}", "get")
            for board, charts in boards().items() for chart in charts for fmt in ("json", "csv")]
    return urls + [(f"/p/{slug}/", "get"), (f"/api/projects/{slug}/", "get"), (f"/p/{slug}/dashboards/", "get"),
                   (f"/api/projects/{slug}/queues/", "get"), (f"/p/{slug}/frames/", "get"),
                   (f"/api/projects/{slug}/frames/", "get"), (f"/p/{slug}/clips/", "get"),
                   (f"/p/{slug}/gold/", "get"), (f"/p/{slug}/consensus/", "get")]


def query_counts(client, slug: str) -> dict[str, int]:
    counts = {}
    for url, method in pages(slug):
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(url)
        assert response.status_code == 200, (url, response.content[:300])
        counts[url] = len(queries)
    return counts


@pytest.fixture
def people(project, users):
    return [users["annotator"], users["reviewer"]]


def test_no_page_or_chart_makes_more_queries_with_three_times_the_frames(project, users, people):
    client = Client()
    client.force_login(users["pi"])
    grow(project, people, 60)
    client.get(f"/p/{project.slug}/")  # the first request of a process warms per-process caches
    small = query_counts(client, project.slug)
    grow(project, people, 120)
    assert Frame.objects.filter(project=project).count() == 180
    large = query_counts(client, project.slug)
    grown = {url: (small[url], large[url]) for url in small if large[url] != small[url]}
    assert not grown, f"query counts that grow with the frames: {grown}"


def at(minutes: float):
    """`minutes` after a whole hour two days ago."""
    return timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=2) + timedelta(minutes=minutes)


def test_progress_over_time_counts_each_frame_once_cumulatively_per_bucket(project, people):
    grow(project, people, 30)
    anns = list(Annotation.objects.filter(project=project).order_by("frame_id"))  # 20 annotated frames
    # First annotations over 5 hours (hourly buckets): 10 in the first hour, 10 four hours later.
    for i, ann in enumerate(anns):
        Annotation.objects.filter(pk=ann.pk).update(created_at=at(5 if i < 10 else 245))
    Revision.objects.filter(project=project).update(created_at=at(250))
    # The later edit of a frame does not count again: only each frame's first.
    Revision.objects.filter(project=project, user=people[1]).update(created_at=at(290))
    FrameTransition.objects.filter(project=project).update(created_at=at(6))
    table = progress_over_time(project)
    assert table["note"] == "cumulative, per hour"
    rows = table["rows"]
    accepted = FrameTransition.objects.filter(project=project).values("frame_id").distinct().count()
    assert [r[1] for r in rows] == [10, 20]  # annotated, in the first hour and four hours later
    assert [r[2] for r in rows] == [0, 20]   # edited by a person: 20 frames, the second person's not again
    assert [r[3] for r in rows] == [accepted] * 2 and accepted > 0
    assert rows[0][0].endswith(":00") and rows[0][0] < rows[1][0]


def test_throughput_median_gap_and_frames_come_from_the_saves(project, people):
    grow(project, people, 30)
    Revision.objects.filter(project=project).delete()
    frames = list(Frame.objects.filter(project=project, annotations__isnull=False).order_by("pk")[:4])
    # Saves at 0, 20 s, 60 s (same frame again: no gap counted), 100 s, then 2 h later (a break).
    for seconds, frame in ((0, frames[0]), (20, frames[1]), (60, frames[1]), (100, frames[2]), (7300, frames[3])):
        r = Revision.objects.create(project=project, frame=frame, user=people[0], kind="edit", after={})
        Revision.objects.filter(pk=r.pk).update(created_at=at(0) + timedelta(seconds=seconds))
    row = annotator_throughput(project)["rows"][0]
    assert row[:3] == [people[0].username, 4, 5]
    assert row[3] == 30.0  # gaps 20 and 40 s (the same-frame save and the break do not count)
    assert row[4] == round(4 / (60 / 3600), 1)


def test_agreement_pairs_the_last_saves_of_people_on_the_same_frame(project, people, users):
    grow(project, people, 30)
    Membership.objects.create(project=project, user=users["outsider"], role=Role.ANNOTATOR)
    frame_id = Revision.objects.filter(project=project, user=people[1]).order_by("frame_id")[0].frame_id
    K = project.num_keypoints
    moved = {"keypoints": [20.0, 30.0, 2] * K, "area": 4000.0, "form_label": "lumbar_error"}
    Revision.objects.create(project=project, frame_id=frame_id, user=users["outsider"], kind="edit", after=moved)
    table = agreement(project)
    doubled = Revision.objects.filter(project=project, user=people[1]).values("frame_id").distinct().count()
    assert len(table["rows"]) == doubled + 2  # the third person on one frame adds two pairs
    three = [r for r in table["rows"] if r[0] == frame_id]
    assert [r[1:3] for r in three] == [["annotator", "outsider"], ["annotator", "reviewer"],
                                       ["outsider", "reviewer"]]
    assert three[1][3] == 1.0 and three[1][4] is True  # identical saves
    assert 0 < three[0][3] <= 1 and three[0][4] is False


def test_the_queue_panel_lists_a_few_clips_and_asks_for_the_key_among_many(project, users, people):
    from annotations.templatetags.review_tags import CLIP_CHOICES

    client = Client()
    client.force_login(users["pi"])
    grow(project, people, 30)
    html = client.get(f"/p/{project.slug}/").content.decode()
    assert '<select name="clip">' in html and "<option>clip00002</option>" in html
    Clip.objects.bulk_create(Clip(project=project, key=f"more{i:05d}") for i in range(CLIP_CHOICES))
    html = client.get(f"/p/{project.slug}/").content.decode()
    assert '<select name="clip">' not in html and '<input name="clip"' in html and "more00001" not in html
    frame = Frame.objects.filter(project=project, clip__key="clip00002").order_by("pk").first()
    response = client.post(f"/p/{project.slug}/queues/uncertain/start/", {"clip": "clip00002"})
    assert response.status_code == 302 and "clip=clip00002" in response["Location"]
    assert Frame.objects.get(pk=int(response["Location"].split("/frames/")[1].split("/")[0])).clip_id == frame.clip_id


def test_project_stats_count_what_the_orm_counts(project, people):
    from django.db.models import Count

    from annotations.projects.stats import project_stats

    grow(project, people, 60)
    # A second person on a frame with the other label, a frame of no split, and a frame without an image.
    other = project.form_labels.exclude(pk=project.form_labels.first().pk).get()
    ann = Annotation.objects.filter(project=project).order_by("frame_id").first()
    Annotation.objects.create(project=project, frame_id=ann.frame_id, instance=1, keypoints=ann.keypoints,
                              keypoint_states=ann.keypoint_states, bbox=ann.bbox, area=ann.area, form_label=other)
    Annotation.objects.create(project=project, frame_id=ann.frame_id, instance=2, keypoints=ann.keypoints,
                              keypoint_states=ann.keypoint_states, bbox=ann.bbox, area=ann.area, form_label=None)
    Frame.objects.filter(pk=ann.frame_id).update(split="")
    pool = Frame.objects.filter(project=project, status="unlabelled").order_by("pk")[0]
    Frame.objects.filter(pk=pool.pk).update(source_path="")
    stats = project_stats(project)
    frames = Frame.objects.filter(project=project)
    annotations = Annotation.objects.filter(project=project)
    by_split: dict[str, dict] = {}
    for split, label, n in (annotations.values_list("frame__split", "form_label__name")
                            .annotate(n=Count("frame", distinct=True))):
        by_split.setdefault(split or "unassigned", {})[label or "none"] = n
    assert stats == {
        "frames": 60, "annotated_frames": 40, "unlabelled_pool": 20, "clips": 6, "annotated_clips": 6,
        "frames_by_status": dict(frames.values_list("status").annotate(n=Count("id"))),
        "annotated_frames_by_label": {(k or "none"): v for k, v in annotations.values_list("form_label__name")
                                      .annotate(n=Count("frame", distinct=True))},
        "annotated_frames_by_split": by_split, "missing_images": 1}
    assert stats["annotated_frames_by_label"] == {"correct": 40, "lumbar_error": 1, "none": 1}
    assert stats["annotated_frames_by_split"]["unassigned"] == {"correct": 1, "lumbar_error": 1, "none": 1}


@pytest.mark.parametrize("n", [7, 8])
def test_queue_age_reads_the_oldest_and_the_median_as_percentile_cont_does(project, people, n):
    from annotations.dashboards.queues_board import queue_age
    from annotations.models import QueueItem

    grow(project, people, n)
    for i, item in enumerate(QueueItem.objects.filter(project=project, queue="uncertain").order_by("pk")):
        QueueItem.objects.filter(pk=item.pk).update(updated_at=timezone.now() - timedelta(hours=1 + i * i))
    with connection.cursor() as cur:
        cur.execute("""SELECT extract(epoch FROM now() - min(updated_at)) / 3600, percentile_cont(0.5) WITHIN GROUP
                       (ORDER BY extract(epoch FROM now() - updated_at)) / 3600 FROM annotations_queueitem
                       WHERE project_id = %s AND queue = 'uncertain' AND done_at IS NULL""", [project.pk])
        oldest, median = cur.fetchone()
    row = {r[0]: r for r in queue_age(project)["rows"]}["uncertain"]
    assert row[1:] == [round(float(oldest), 2), round(float(median), 2)]
    assert row[1] == pytest.approx(1 + (n - 1) ** 2, abs=0.01)
