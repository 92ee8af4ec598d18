"""Review queues: stored priorities per frame, and claims with a lease that are safe under concurrency.

How a claim stays safe with many people pressing "next" at once:
- Candidates are read in priority order with `FOR UPDATE OF qi SKIP LOCKED`, so two claimers of
  one queue never wait for each other: the second takes the next row.
- The lease itself is a row per frame (FrameLease, unique on frame) written with
  `INSERT ... ON CONFLICT (frame) DO UPDATE ... WHERE <expired or mine>`. A frame that sits in
  two queues and is claimed through both at the same instant is therefore still leased to one
  person only; the loser's insert returns nothing and it moves on to the next candidate.
- An expired lease is simply free: the claim query ignores it and the upsert takes it over.
"""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import Annotation, Clip, FrameLease, FrameStatus, KeypointState, Queue, QueueItem, QueueSkip
from ..models.review import QUEUE_ROLES
from .errors import InputError

LEASE = timedelta(seconds=getattr(settings, "POSEREVIEW_QUEUE_LEASE_SECONDS", 600))
# Rows per INSERT in set_priorities: bounded statement size for million-frame score runs.
UPSERT_CHUNK = 50_000
# How many frames a claimer may lose to a simultaneous claim through another queue before giving up.
MAX_CLAIM_RACES = 20
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
    spine_scores, spine_signals = {}, {}
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

def claim_next(project, queue: str, user, *, clip: str | None = None, split: str | None = None,
               form_label: str | None = None) -> QueueItem | None:
    """Lease the highest-priority free frame of `queue` to `user`, or None when nothing is left.

    A person holds one frame per queue: their own unexpired claim (matching the filters) comes
    back again (a reload, a second tab), and any other claim of theirs in this queue is released.
    Filters: clip key, split subset, form label name.
    """
    check_queue(queue)
    now = timezone.now()
    filters, params = [], []
    if clip:
        clip_id = Clip.objects.filter(project=project, key=clip).values_list("id", flat=True).first()
        if clip_id is None:
            return None
        filters.append("qi.clip_id = %s")
        params.append(clip_id)
    # Each filter is a column of the item with its own index in priority order (see QueueItem).
    if split:
        filters.append("qi.split = %s")
        params.append(split)
    if form_label:
        label_id = project.form_labels.filter(name=form_label).values_list("id", flat=True).first()
        if label_id is None:
            raise InputError(f"unknown form label {form_label!r}")
        filters.append("qi.form_label_id = %s")
        params.append(label_id)
    where = "".join(f" AND {f}" for f in filters)

    with transaction.atomic(), connection.cursor() as cur:
        # A lease is short-lived and cheap to lose: if the server crashed right after this commit,
        # the frame would simply be free again. So the claim does not wait for its WAL flush
        # (milliseconds on ordinary disks, most of a claim's time otherwise). Set here, in the
        # same round trip as the look-up of the person's current claims in this queue.
        cur.execute(
            f"""
            SELECT set_config('synchronous_commit', 'off', true), h.lease_id, h.item_id, h.usable
            FROM (SELECT 1) AS one LEFT JOIN LATERAL (
                SELECT l.id AS lease_id, qi.id AS item_id,
                       (l.expires_at > %s AND qi.done_at IS NULL {where}) AS usable
                FROM annotations_framelease l JOIN annotations_queueitem qi ON qi.id = l.item_id
                WHERE l.user_id = %s AND l.project_id = %s AND qi.queue = %s
                ORDER BY l.claimed_at DESC
            ) h ON true
            """,
            [now, *params, user.pk, project.pk, queue],
        )
        held = [row[1:] for row in cur.fetchall() if row[1] is not None]
        usable = next((item_id for _, item_id, ok in held if ok), None)
        if usable is not None:
            FrameLease.objects.filter(item_id=usable, user=user).update(expires_at=now + LEASE)
            return QueueItem.objects.get(pk=usable)
        if held:
            cur.execute("DELETE FROM annotations_framelease WHERE id = ANY(%s)", [[lease for lease, _, _ in held]])
        lost: list[int] = []
        for _ in range(MAX_CLAIM_RACES):
            # Pick and lease in one statement: the candidate row is locked (SKIP LOCKED: claimers
            # of the same queue pass each other), the lease upsert decides between claimers that
            # reached the same frame through different queues.
            cur.execute(
                f"""
                WITH candidate AS (
                    SELECT qi.id, qi.frame_id, qi.clip_id, qi.priority, qi.signals, qi.created_at, qi.updated_at
                    FROM annotations_queueitem qi
                    WHERE qi.project_id = %s AND qi.queue = %s AND qi.done_at IS NULL {where}
                      AND NOT EXISTS (SELECT 1 FROM annotations_framelease l
                                      WHERE l.frame_id = qi.frame_id AND l.expires_at > %s)
                      AND NOT EXISTS (SELECT 1 FROM annotations_queueskip s WHERE s.item_id = qi.id AND s.user_id = %s)
                      AND NOT (qi.frame_id = ANY(%s::bigint[]))
                    ORDER BY qi.priority DESC, qi.id
                    LIMIT 1
                    FOR UPDATE OF qi SKIP LOCKED
                ), leased AS (
                    INSERT INTO annotations_framelease (frame_id, project_id, user_id, item_id, claimed_at, expires_at)
                    SELECT c.frame_id, %s, %s, c.id, %s, %s FROM candidate c
                    ON CONFLICT (frame_id) DO UPDATE SET user_id = EXCLUDED.user_id, item_id = EXCLUDED.item_id,
                        claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
                    WHERE annotations_framelease.expires_at <= %s
                       OR annotations_framelease.user_id = EXCLUDED.user_id
                    RETURNING frame_id
                )
                SELECT c.id, c.frame_id, c.clip_id, c.priority, c.signals::text, c.created_at, c.updated_at,
                       EXISTS (SELECT 1 FROM leased)
                FROM candidate c
                """,
                [project.pk, queue, *params, now, user.pk, lost, project.pk, user.pk, now, now + LEASE, now],
            )
            row = cur.fetchone()
            if row is None:
                return None
            if row[7]:
                item = QueueItem(id=row[0], project_id=project.pk, frame_id=row[1], clip_id=row[2], queue=queue,
                                 priority=row[3], signals=json.loads(row[4]), created_at=row[5], updated_at=row[6])
                item._state.adding = False
                return item
            lost.append(row[1])  # leased through another queue a moment ago
    return None


def held_lease(frame, user) -> FrameLease | None:
    """The user's unexpired lease on a frame, if any."""
    return FrameLease.objects.filter(frame=frame, user=user, expires_at__gt=timezone.now()).select_related(
        "item").first()


def renew(frame, user) -> FrameLease | None:
    """Extend the user's lease on a frame by a full lease period (the editor calls this while open)."""
    now = timezone.now()
    updated = FrameLease.objects.filter(frame=frame, user=user, expires_at__gt=now).update(expires_at=now + LEASE)
    return held_lease(frame, user) if updated else None


def release(frame, user) -> bool:
    """Give a claimed frame back to its queue unchanged. True if the user held it."""
    return FrameLease.objects.filter(frame=frame, user=user).delete()[0] > 0


def release_mine(project, queue: str, user) -> int:
    """Release every lease the user holds through `queue` (before they take a new frame from it)."""
    return FrameLease.objects.filter(project=project, user=user, item__queue=queue).delete()[0]


def skip(frame, user, queue: str | None = None) -> int:
    """Release the frame and never offer its open items (of `queue`, or all) to this user again."""
    items = QueueItem.objects.filter(frame=frame, done_at__isnull=True)
    if queue:
        items = items.filter(queue=check_queue(queue))
    QueueSkip.objects.bulk_create([QueueSkip(item=i, user=user) for i in items], ignore_conflicts=True)
    release(frame, user)
    return len(items)


def close_items(frame, user, queues) -> int:
    """Mark the frame's open items of `queues` done (it was submitted or decided) and end its lease."""
    n = QueueItem.objects.filter(frame=frame, queue__in=list(queues), done_at__isnull=True).update(
        done_at=timezone.now(), done_by=user)
    FrameLease.objects.filter(frame=frame).delete()
    return n


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
        cur.execute("SELECT qi.queue, count(*) FROM annotations_framelease l JOIN annotations_queueitem qi "
                    "ON qi.id = l.item_id WHERE l.project_id = %s AND l.expires_at > now() GROUP BY qi.queue",
                    [project.pk])
        claimed = dict(cur.fetchall())
    return [{"queue": q.value, "label": q.label, "open": sizes[q.value], "claimed": claimed.get(q.value, 0),
             "minimum_role": QUEUE_ROLES[q.value], "allowed": project.has_role(user, QUEUE_ROLES[q.value])}
            for q in Queue]
