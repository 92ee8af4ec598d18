"""Queue claim latency at 1,000,000 frames: the server-side time of `claim_next` under concurrency.

A scratch database gets one project with 1M frames in 25,000 clips (40 frames each; splits
70/15/15 by clip; an annotation with a form label on every frame), generated in SQL with
generate_series. The `uncertain` queue holds every frame with a random priority (written by
`set_priorities`, itself timed); `label_error` holds 100k of the same frames, so claims through
both queues compete for frames. Then WORKERS threads, each its own database connection and
user, claim and finish (close the item, as a submit does) as fast as they can; every claim's
wall time around `claim_next` is recorded. Scenarios: no filter, filtered by clip, split and
form label, two queues at once, and with 1,000 frames already leased to other people at the
head of the queue (1,000 people at work at once). The REST endpoint is timed too (Django test client, one thread).

Prints one JSON object per line: {"metric", "value", "unit"}. Target: p95 < 20 ms.

    .venv/bin/python -m webapp.dev bench bench/queue_claims.py
Between scenarios the queue tables are vacuumed, as autovacuum does with the thresholds the
migration sets for them. Figures depend on the machine's cores: the workers and PostgreSQL share them.

Environment: BENCH_QUEUE_FRAMES (default 1000000), BENCH_QUEUE_WORKERS (4), BENCH_QUEUE_CLAIMS
(claims per scenario, default 4000), DATABASE_URL (a scratch database is created next to it).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_db import scratch_database  # noqa: E402

BENCH_DB = "posereview_bench_queues"
FRAMES_PER_CLIP = 40


def emit(metric: str, value, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit}), flush=True)


def generate(project, n_frames: int) -> None:
    """Clips, frames and annotations in three INSERT ... SELECT generate_series statements."""
    from django.db import connection

    n_clips = (n_frames + FRAMES_PER_CLIP - 1) // FRAMES_PER_CLIP
    labels = dict(project.form_labels.values_list("name", "id"))
    with connection.cursor() as cur:
        cur.execute("""INSERT INTO annotations_clip (project_id, key, created_at)
                       SELECT %s, 'bench_' || g, now() FROM generate_series(0, %s - 1) g""", [project.pk, n_clips])
        cur.execute("SELECT min(id) FROM annotations_clip WHERE project_id = %s", [project.pk])
        first_clip = cur.fetchone()[0]
        # Splits by clip (70/15/15 on the clip number), like a real split keeps clips whole.
        cur.execute("""
            INSERT INTO annotations_frame (project_id, clip_id, file_name, image, thumbnail, source_path, width, height,
                                           frame_index, split, status, priority, created_at)
            SELECT %s, %s + g / %s, 'bench_' || (g / %s) || '_' || (g %% %s) || '.jpg', '', '', '', 360, 530,
                   g %% %s,
                   CASE WHEN (g / %s) %% 20 < 14 THEN 'train' WHEN (g / %s) %% 20 < 17 THEN 'val' ELSE 'test' END,
                   'annotated', 0, now()
            FROM generate_series(0, %s - 1) g""",
                    [project.pk, first_clip] + [FRAMES_PER_CLIP] * 6 + [n_frames])
        # Clips are all-correct or all-lumbar, as in barbell-row.
        cur.execute("""
            INSERT INTO annotations_annotation (project_id, frame_id, instance, keypoints, keypoint_states,
                num_keypoints, bbox, area, form_label_id, source, human_edited, import_digest, version,
                created_at, updated_at)
            SELECT f.project_id, f.id, 0, '{100, 100, 2}', '{1}', 1, '[0, 0, 10, 10]', 100,
                   CASE WHEN f.clip_id %% 2 = 0 THEN %s ELSE %s END, 'import', false, '', 1, now(), now()
            FROM annotations_frame f WHERE f.project_id = %s""",
                    [labels["correct"], labels["lumbar_error"], project.pk])
        # The split version the frames' split field mirrors (as the split job writes both).
        cur.execute("""INSERT INTO annotations_splitversion (project_id, number, seed, ratios, summary, created_at)
                       VALUES (%s, 1, 42, '{"train": 0.7, "val": 0.15, "test": 0.15}', '{}', now()) RETURNING id""",
                    [project.pk])
        version = cur.fetchone()[0]
        cur.execute("""INSERT INTO annotations_clipsplit (version_id, clip_id, subset)
                       SELECT DISTINCT %s, clip_id, split FROM annotations_frame WHERE project_id = %s""",
                    [version, project.pk])
        cur.execute("ANALYZE annotations_clip; ANALYZE annotations_frame; ANALYZE annotations_annotation; "
                    "ANALYZE annotations_clipsplit")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_claims(project, users, queues: list[str], total: int, filters: dict | None = None) -> tuple[list, float, int]:
    """WORKERS threads claim-and-finish until `total` claims; returns (latencies ms, seconds, duplicates)."""
    from django.db import connection

    from annotations.models import Frame
    from annotations.models.review import ANNOTATION_QUEUES
    from annotations.review.claims import claim_next, close_items

    latencies: list[float] = []
    frames: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(users))
    per_worker = total // len(users)

    def work(n, user):
        queue = queues[n % len(queues)]
        try:
            barrier.wait()
            for _ in range(per_worker):
                t = time.perf_counter()
                item = claim_next(project, queue, user, **(filters or {}))
                elapsed = (time.perf_counter() - t) * 1000
                if item is None:
                    return
                with lock:
                    latencies.append(elapsed)
                    frames.append(item.frame_id)
                close_items(Frame(pk=item.frame_id, project_id=project.pk), user, ANNOTATION_QUEUES)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n, u)) for n, u in enumerate(users)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start, len(frames) - len(set(frames))


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE annotations_queueitem, annotations_framelease")


def report(name: str, latencies: list[float], seconds: float, duplicates: int) -> None:
    emit(f"{name}_claims", len(latencies), "claims")
    emit(f"{name}_p50_ms", round(statistics.median(latencies), 2), "ms")
    emit(f"{name}_p95_ms", round(percentile(latencies, 0.95), 2), "ms")
    emit(f"{name}_p99_ms", round(percentile(latencies, 0.99), 2), "ms")
    emit(f"{name}_claims_per_s", round(len(latencies) / seconds), "claims/s")
    emit(f"{name}_duplicate_frames", duplicates, "frames")


def main() -> None:
    n_frames = int(os.environ.get("BENCH_QUEUE_FRAMES", 1_000_000))
    n_workers = int(os.environ.get("BENCH_QUEUE_WORKERS", 4))
    n_claims = int(os.environ.get("BENCH_QUEUE_CLAIMS", 4000))
    os.environ["POSEREVIEW_DEV"] = "1"
    os.environ["DATABASE_URL"] = scratch_database(BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    import random

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from annotations.models import Clip, Frame, FrameLease, Membership, Project, Role
    from annotations.review.claims import LEASE
    from annotations.review.queues import queue_sizes, set_priorities

    User = get_user_model()
    admin = User.objects.create_user("bench-pi", password="bench")
    project = Project.create("bench-queues", "Bench queues", user=admin)
    t = time.perf_counter()
    generate(project, n_frames)
    emit("generate_frames", n_frames, "frames")
    emit("generate_s", round(time.perf_counter() - t, 2), "s")

    ids = list(Frame.objects.filter(project=project).values_list("id", flat=True))
    rng = random.Random(42)
    t = time.perf_counter()
    written = set_priorities(project, "uncertain", {f: rng.random() for f in ids})
    emit("set_priorities_rows", written, "rows")
    emit("set_priorities_s", round(time.perf_counter() - t, 2), "s")
    set_priorities(project, "label_error", {f: rng.random() for f in rng.sample(ids, min(100_000, len(ids)))})
    with connection.cursor() as cur:
        cur.execute("ANALYZE annotations_queueitem")
    t = time.perf_counter()
    sizes = queue_sizes(project)
    emit("queue_sizes_ms", round((time.perf_counter() - t) * 1000, 1), "ms")
    emit("uncertain_open_items", sizes["uncertain"], "items")

    users = []
    for n in range(n_workers):
        user = User.objects.create_user(f"bench-{n}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        users.append(user)
    emit("workers", n_workers, "threads")

    vacuum()
    report("claim_one_worker", *run_claims(project, users[:1], ["uncertain"], n_claims // 4))
    vacuum()
    report("claim", *run_claims(project, users, ["uncertain"], n_claims))
    vacuum()
    report("claim_two_queues", *run_claims(project, users, ["uncertain", "label_error"], n_claims))
    clip = Clip.objects.filter(project=project).order_by("id").values_list("key", flat=True)[500]
    vacuum()
    report("claim_by_clip", *run_claims(project, users, ["uncertain"], FRAMES_PER_CLIP - 8, {"clip": clip}))
    vacuum()
    report("claim_by_split", *run_claims(project, users, ["uncertain"], n_claims, {"split": "test"}))
    vacuum()
    report("claim_by_form_label", *run_claims(project, users, ["uncertain"], n_claims, {"form_label": "lumbar_error"}))

    # 1,000 people are each holding a frame at the head of the queue: every claim walks past them.
    holder = User.objects.create_user("bench-holder")
    now = timezone.now()
    head = list(project.queue_items.filter(queue="uncertain", done_at__isnull=True).order_by("-priority", "id")
                .values_list("frame_id", "id")[:1000])
    FrameLease.objects.bulk_create(FrameLease(frame_id=f, project=project, user=holder, item_id=i, claimed_at=now,
                                              expires_at=now + LEASE) for f, i in head)
    vacuum()
    report("claim_past_1000_leases", *run_claims(project, users, ["uncertain"], n_claims))

    # The REST endpoint, one thread: DRF, session auth, JSON in and out.
    vacuum()
    client = Client(HTTP_HOST="localhost")
    client.force_login(users[0])
    api_ms = []
    for _ in range(300):
        t = time.perf_counter()
        r = client.post("/api/projects/bench-queues/queues/uncertain/claim/", {}, content_type="application/json")
        api_ms.append((time.perf_counter() - t) * 1000)
        item = r.json()["item"]
        client.post(f"/api/projects/bench-queues/frames/{item['frame']}/lease/skip/",
                    {"queue": "uncertain"}, content_type="application/json")
    emit("claim_api_p50_ms", round(statistics.median(api_ms), 2), "ms")
    emit("claim_api_p95_ms", round(percentile(api_ms, 0.95), 2), "ms")


if __name__ == "__main__":
    main()
