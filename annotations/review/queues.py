"""Review queues: stored priorities per frame, the built-in queues, sending a frame back, and figures.
Claims and leases are in annotations/review/claims.py."""

from __future__ import annotations

import json
import math
import random

from django.db import connection, transaction

from annotations.core.errors import InputError
from annotations.models import Annotation, FrameStatus, KeypointState, Queue, QueueItem
from annotations.models.review import QUEUE_ROLES

# Rows per INSERT in set_priorities: bounded statement size for million-frame score runs.
UPSERT_CHUNK = 50_000
SPINE_NAMES = ("neck", "hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05")
AUDIT_SHARE = 0.1


def check_queue(queue: str) -> str:
    if queue not in Queue.values:
        raise InputError(f"unknown queue {queue!r}; choose one of {Queue.values}")
    return queue


# -- priorities ------------------------------------------------------------------------------

def set_priorities(project, queue: str, scores: dict[int, float], signals: dict[int, dict] | None = None, *,
                   reopen: bool = False, close_missing: bool = False) -> int:
    """Upsert `scores` (frame id -> priority, higher first) into one queue of `project`; returns rows written.

    signals: optional frame id -> JSON object stored with the item (why it is queued); items
    keep their old signals where none are given. Frames of other projects are ignored.
    reopen: put frames whose item was done (submitted, decided) back into the queue.
    close_missing: mark open items of frames not in `scores` done (a full recomputation of the queue).
    """
    check_queue(queue)
    ids, values, sig = [], [], []
    for frame_id, score in scores.items():
        score = float(score)
        if not math.isfinite(score):
            raise InputError(f"frame {frame_id}: priority must be a finite number, got {score}")
        ids.append(int(frame_id))
        values.append(score)
        extra = (signals or {}).get(frame_id)
        sig.append(json.dumps(extra) if extra is not None else None)
    written = 0
    with transaction.atomic(), connection.cursor() as cur:
        for start in range(0, len(ids), UPSERT_CHUNK):
            end = start + UPSERT_CHUNK
            cur.execute(
                f"""
                INSERT INTO annotations_queueitem (project_id, frame_id, clip_id, split, form_label_id, queue,
                                                   priority, signals, created_at, updated_at)
                SELECT f.project_id, f.id, f.clip_id, f.split, a.form_label_id, %s, s.priority,
                       COALESCE(s.signals::jsonb, '{{}}'::jsonb), now(), now()
                FROM unnest(%s::bigint[], %s::float8[], %s::text[]) AS s(frame_id, priority, signals)
                JOIN annotations_frame f ON f.id = s.frame_id AND f.project_id = %s
                LEFT JOIN annotations_annotation a ON a.frame_id = f.id AND a.instance = 0
                ON CONFLICT (frame_id, queue) DO UPDATE SET
                    priority = EXCLUDED.priority, split = EXCLUDED.split, form_label_id = EXCLUDED.form_label_id,
                    signals = CASE WHEN %s THEN EXCLUDED.signals ELSE annotations_queueitem.signals END,
                    {"done_at = NULL, done_by_id = NULL," if reopen else ""}
                    updated_at = now()
                """,
                [queue, ids[start:end], values[start:end], sig[start:end], project.pk, signals is not None],
            )
            written += cur.rowcount
        if close_missing:
            cur.execute(
                """
                UPDATE annotations_queueitem qi SET done_at = now(), updated_at = now()
                WHERE qi.project_id = %s AND qi.queue = %s AND qi.done_at IS NULL
                  AND NOT (qi.frame_id = ANY(%s::bigint[]))
                """,
                [project.pk, queue, ids],
            )
    return written


def refresh_builtin_queues(project, *, seed: int | None = None) -> dict[str, int]:
    """Recompute the queues PoseReview derives from its own data; returns open items per queue.

    unverified_spine: annotated frames with spine points nobody confirmed (priority: how many).
    new_preannotated: frames a model pre-annotated and no person has touched (priority: the frame's).
    audit: a random share of annotated and accepted frames, in random order, for spot checks.
    Submitted or decided frames are not put back (their items stay done).
    """
    names = project.skeleton["keypoints"]
    spine = [i for i, n in enumerate(names) if n in SPINE_NAMES]
    verified = KeypointState.VERIFIED.value
    spine_scores: dict[int, float] = {}
    spine_signals: dict[int, dict] = {}
    rows = (Annotation.objects.filter(project=project,
                                      frame__status__in=[FrameStatus.ANNOTATED, FrameStatus.PREANNOTATED,
                                                         FrameStatus.REJECTED])
            .values_list("frame_id", "keypoints", "keypoint_states"))
    for frame_id, kpts, states in rows.iterator(chunk_size=5000):
        todo = [names[i] for i in spine if i < len(states) and kpts[3 * i + 2] > 0 and states[i] != verified]
        if todo:
            spine_scores[frame_id] = max(spine_scores.get(frame_id, 0), len(todo))
            spine_signals[frame_id] = {"unverified_spine_points": todo}
    set_priorities(project, Queue.UNVERIFIED_SPINE, spine_scores, spine_signals, close_missing=True)

    pre = dict(project.frames.filter(status=FrameStatus.PREANNOTATED).values_list("id", "priority"))
    set_priorities(project, Queue.NEW_PREANNOTATED, pre, close_missing=True)

    rng = random.Random(seed)
    already = set(QueueItem.objects.filter(project=project, queue=Queue.AUDIT).values_list("frame_id", flat=True))
    pool = [f for f in project.frames.filter(status__in=[FrameStatus.ANNOTATED, FrameStatus.ACCEPTED])
            .values_list("id", flat=True) if f not in already]
    wanted = max(0, math.ceil(AUDIT_SHARE * (len(pool) + len(already))) - len(already))
    audit = {f: rng.random() for f in rng.sample(pool, min(wanted, len(pool)))}
    set_priorities(project, Queue.AUDIT, audit)
    return queue_sizes(project)


def ensure_builtin_queues(project) -> bool:
    """Build the built-in queues of a project that has never had any queue item; True if it did.

    A freshly imported project then shows work on its first page view, without waiting for a
    reviewer's refresh or a score job (both of which keep the queues current afterwards).
    """
    if QueueItem.objects.filter(project=project).exists():
        return False
    refresh_builtin_queues(project)
    return True


# -- claims ----------------------------------------------------------------------------------

def requeue(frame, queue: str, *, signals: dict, top: bool = True) -> QueueItem:
    """Put a frame (back) into a queue, first in line when `top`, with `signals` merged into its item."""
    check_queue(queue)
    priority = 0.0
    if top:
        highest = (QueueItem.objects.filter(project_id=frame.project_id, queue=queue, done_at__isnull=True)
                   .order_by("-priority").values_list("priority", flat=True).first())
        priority = (highest or 0.0) + 1.0
    label_id = (Annotation.objects.filter(frame=frame, instance=0).values_list("form_label_id", flat=True)
                .first())
    item, created = QueueItem.objects.get_or_create(
        frame=frame, queue=queue,
        defaults={"project_id": frame.project_id, "clip_id": frame.clip_id, "split": frame.split,
                  "form_label_id": label_id, "priority": priority, "signals": signals})
    if not created:
        item.priority = priority if top else item.priority
        item.signals = {**item.signals, **signals}
        item.done_at, item.done_by = None, None
        item.save(update_fields=["priority", "signals", "done_at", "done_by", "updated_at"])
        item.skips.all().delete()  # a frame sent back deserves a fresh look from everyone
    return item


# -- figures ---------------------------------------------------------------------------------

def queue_sizes(project) -> dict[str, int]:
    """Open items per queue (every queue named, zero when empty)."""
    sizes = dict.fromkeys(Queue.values, 0)
    with connection.cursor() as cur:
        cur.execute("SELECT queue, count(*) FROM annotations_queueitem WHERE project_id = %s AND done_at IS NULL "
                    "GROUP BY queue", [project.pk])
        sizes.update(dict(cur.fetchall()))
    return sizes


def queue_overview(project, user) -> list[dict]:
    """Per queue: name, label, open items, frames leased right now, whether `user` may work it."""
    sizes = queue_sizes(project)
    with connection.cursor() as cur:
        # Each lease looks its item up by id: a join may instead walk the whole queue-item key index.
        # Frames, not leases: a frame collecting a consensus is held by several people at once.
        cur.execute("SELECT (SELECT qi.queue FROM annotations_queueitem qi WHERE qi.id = l.item_id) AS queue, "
                    "count(DISTINCT l.frame_id) FROM annotations_framelease l WHERE l.project_id = %s "
                    "AND l.expires_at > now() AND l.item_id IS NOT NULL GROUP BY 1", [project.pk])
        claimed = dict(cur.fetchall())
    return [{"queue": q.value, "label": q.label, "open": sizes[q.value], "claimed": claimed.get(q.value, 0),
             "minimum_role": QUEUE_ROLES[q.value], "allowed": project.has_role(user, QUEUE_ROLES[q.value])}
            for q in Queue]
