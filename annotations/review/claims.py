"""Claims of review-queue frames, with a lease that is safe under concurrency.

How a claim stays safe with many people pressing "next" at once:
- Candidates are read in priority order with `FOR UPDATE OF qi SKIP LOCKED`, so two claimers of
  one queue never wait for each other: the second takes the next row.
- The lease itself is a FrameLease row, plain (the frame's only one: a partial unique index on the
  frame of plain leases) written with `INSERT ... ON CONFLICT (frame) WHERE NOT shared DO UPDATE ...
  WHERE <expired or mine>`. A frame that sits in two queues and is claimed through both at the same
  instant is therefore still leased to one person only; the loser's insert returns nothing and it
  moves on to the next candidate.
- A frame collecting independent annotations (a ConsensusFrame "collecting": each person works on
  their own vote, annotations/consensus/voting.py) is the exception: up to `required` people hold it at
  once, each with a shared lease (unique per frame and person, `ON CONFLICT (frame, user)`). It is
  offered to someone without a submitted or skipped vote on it while its submitted votes and the
  unexpired leases of other people on it are fewer than `required`; voting.on_claim recounts under a
  lock per frame, so two people joining through two queues at once never make one too many.
- An expired lease is simply free: the claim query ignores it and the upsert takes it over.
- One open claim per person per queue, whatever the tabs: a claim first takes a transaction-level
  advisory lock keyed on (project, queue, person), so two tabs of one person claiming at once run
  one after the other and the second gets the first's frame back (people never wait for each other).
- A lease that lapsed and was taken over by someone else is theirs: the first holder's submit, save,
  decision or release through the queue answers 409 (LeaseLost) and leaves the new lease alone. The
  leases of people voting on a collecting consensus frame never count as someone else's.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from annotations.core import hot_path
from annotations.core.errors import InputError
from annotations.models import Clip, ConsensusFrame, FrameLease, QueueItem, QueueSkip
from annotations.review.queues import check_queue

LEASE = timedelta(seconds=getattr(settings, "POSEREVIEW_QUEUE_LEASE_SECONDS", 600))
# How many frames a claimer may lose to a simultaneous claim through another queue before giving up.
MAX_CLAIM_RACES = 20
COLLECTING = ConsensusFrame.Status.COLLECTING
# Whether the project (parameter) has a frame collecting a consensus.
COLLECTING_ANY = "EXISTS (SELECT 1 FROM annotations_consensusframe WHERE project_id = %s AND status = 'collecting')"
# The queue item `qi`'s frame collects a consensus.
COLLECTING_HERE = "EXISTS (SELECT 1 FROM annotations_consensusframe cf WHERE cf.frame_id = qi.frame_id " \
                  "AND cf.status = 'collecting')"
# The places of a consensus ({consensus} id, on frame {frame}) already taken: its submitted votes and the
# unexpired leases of people other than the caller. Parameters: now, the caller. (voting.on_claim recounts
# with it under a lock.)
TAKEN_PLACES = """((SELECT count(*) FROM annotations_consensusvote v
                     WHERE v.consensus_id = {consensus} AND v.status = 'submitted')
                   + (SELECT count(*) FROM annotations_framelease l
                      WHERE l.frame_id = {frame} AND l.expires_at > %s AND l.user_id <> %s))"""
# ... and has a place for the caller, who has not voted on it yet (or left their open vote: it waits for
# them). Parameters: the caller, now, the caller.
JOINABLE = f"""EXISTS (SELECT 1 FROM annotations_consensusframe cf
    WHERE cf.frame_id = qi.frame_id AND cf.status = 'collecting'
      AND NOT EXISTS (SELECT 1 FROM annotations_consensusvote v
                      WHERE v.consensus_id = cf.id AND v.user_id = %s AND v.status <> 'open')
      AND {TAKEN_PLACES.format(consensus="cf.id", frame="qi.frame_id")} < cf.required)"""


class LeaseLost(APIException):
    """The caller's claim on a frame lapsed and someone else holds it now (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "lease_lost"


def check_holder(frame, user) -> None:
    """Raise LeaseLost when someone other than `user` holds an unexpired plain lease on `frame`.

    For a frame opened through a queue: the caller's own lease, or none (it lapsed and nobody took the
    frame), lets the action go on; a lease of someone else means the frame was handed to them. Not so
    on a frame collecting a consensus: the people on it each work on their own vote.
    """
    now = timezone.now()
    if not hot_path.any_row(FrameLease._meta.db_table,
                            "frame_id = %s AND expires_at > %s AND user_id <> %s AND NOT shared",
                            [frame.pk, now, user.pk]):
        return
    other = (FrameLease.objects.filter(frame=frame, expires_at__gt=now, shared=False).exclude(user=user)
             .select_related("user").first())
    # The first person on a frame collecting a consensus holds a plain lease beside the others' shared ones.
    if other is not None and not ConsensusFrame.objects.filter(frame=frame, status=COLLECTING).exists():
        raise LeaseLost(f"your claim on frame {frame.pk} lapsed and {other.user.get_username()} has it now; "
                        "nothing was changed (your edits stay in this browser): take the next frame")


def claim_next(project, queue: str, user, *, clip: str | None = None, split: str | None = None,
               form_label: str | None = None) -> QueueItem | None:
    """Lease the highest-priority free frame of `queue` to `user`, or None when nothing is left.

    A person holds one frame per queue: their own unexpired claim (matching the filters) comes
    back again (a reload, a second tab), and any other claim of theirs in this queue is released.
    Filters: clip key, split subset, form label name.
    """
    check_queue(queue)
    where = filter_sql(project, clip=clip, split=split, form_label=form_label)
    if where is None:
        return None
    # No savepoint when a caller's transaction is open (gold/serving.py): nothing here catches a database
    # error, so a failure ends that transaction as it is, and two round trips per claim are saved.
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        # Claims of one person in one queue run one at a time (two tabs): the lock ends with the transaction.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s), %s)", [f"claim:{project.pk}:{queue}", user.pk])
        now = timezone.now()
        held = held_claim(cur, project, queue, user, where, now)
        if held is not None:
            return held
        return lease_next(cur, project, queue, user, where, now)


def filter_sql(project, *, clip: str | None, split: str | None, form_label: str | None) -> tuple[str, list] | None:
    """(" AND ..." conditions on the queue item `qi`, their parameters); None when the clip does not exist.

    Each filter is a column of the item with its own index in priority order (see QueueItem).
    """
    filters: list[str] = []
    params: list[object] = []
    if clip:
        clip_id = Clip.objects.filter(project=project, key=clip).values_list("id", flat=True).first()
        if clip_id is None:
            return None
        filters.append("qi.clip_id = %s")
        params.append(clip_id)
    if split:
        filters.append("qi.split = %s")
        params.append(split)
    if form_label:
        label_id = project.form_labels.filter(name=form_label).values_list("id", flat=True).first()
        if label_id is None:
            raise InputError(f"unknown form label {form_label!r}")
        filters.append("qi.form_label_id = %s")
        params.append(label_id)
    return "".join(f" AND {f}" for f in filters), params


def held_claim(cur, project, queue: str, user, where: tuple[str, list], now) -> QueueItem | None:
    """The person's own unexpired claim in this queue that matches the filters, renewed; their other
    claims in the queue are released."""
    sql, params = where
    # A lease is short-lived and cheap to lose: if the server crashed right after this commit,
    # the frame would simply be free again. So the claim does not wait for its WAL flush
    # (milliseconds on ordinary disks, most of a claim's time otherwise). Set here, in the
    # same round trip as the look-up of the person's current claims in this queue.
    cur.execute(
        f"""
        SELECT set_config('synchronous_commit', 'off', true), h.lease_id, h.item_id, h.usable
        FROM (SELECT 1) AS one LEFT JOIN LATERAL (
            SELECT l.id AS lease_id, qi.id AS item_id,
                   (l.expires_at > %s AND qi.done_at IS NULL {sql}) AS usable
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
    return None


def lease_next(cur, project, queue: str, user, where: tuple[str, list], now) -> QueueItem | None:
    """Pick and lease the best free frame in one statement, retrying past frames another queue's claimer
    leased a moment ago. A frame collecting a consensus with a free place is leased shared (module doc)."""
    sql, params = where
    lost: list[int] = []
    for _ in range(MAX_CLAIM_RACES):
        # The candidate row is locked (SKIP LOCKED: claimers of the same queue pass each other), the
        # lease upserts decide between claimers that reached the same frame through different queues.
        # Whether the project collects any consensus is asked once per statement (an InitPlan on the
        # project/status index), so a claim in a project without one looks up no consensus per frame.
        cur.execute(
            f"""
            WITH candidate AS (
                SELECT qi.id, qi.frame_id, qi.clip_id, qi.priority, qi.signals, qi.created_at, qi.updated_at,
                       ({COLLECTING_ANY} AND {COLLECTING_HERE}) AS shared
                FROM annotations_queueitem qi
                WHERE qi.project_id = %s AND qi.queue = %s AND qi.done_at IS NULL {sql}
                  AND (NOT EXISTS (SELECT 1 FROM annotations_framelease l
                                   WHERE l.frame_id = qi.frame_id AND l.expires_at > %s)
                       OR ({COLLECTING_ANY} AND {JOINABLE}))
                  AND NOT EXISTS (SELECT 1 FROM annotations_queueskip s WHERE s.item_id = qi.id AND s.user_id = %s)
                  AND NOT (qi.frame_id = ANY(%s::bigint[]))
                ORDER BY qi.priority DESC, qi.id
                LIMIT 1
                FOR UPDATE OF qi SKIP LOCKED
            ), leased AS (
                INSERT INTO annotations_framelease (frame_id, project_id, user_id, item_id, claimed_at, expires_at,
                                                    shared)
                SELECT c.frame_id, %s, %s, c.id, %s, %s, false FROM candidate c WHERE NOT c.shared
                ON CONFLICT (frame_id) WHERE NOT shared DO UPDATE SET user_id = EXCLUDED.user_id,
                    item_id = EXCLUDED.item_id, claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
                WHERE annotations_framelease.expires_at <= %s
                   OR annotations_framelease.user_id = EXCLUDED.user_id
                RETURNING frame_id
            ), joined AS (
                INSERT INTO annotations_framelease (frame_id, project_id, user_id, item_id, claimed_at, expires_at,
                                                    shared)
                SELECT c.frame_id, %s, %s, c.id, %s, %s, true FROM candidate c WHERE c.shared
                ON CONFLICT (frame_id, user_id) DO UPDATE SET item_id = EXCLUDED.item_id,
                    claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at, shared = true
                RETURNING frame_id
            )
            SELECT c.id, c.frame_id, c.clip_id, c.priority, c.signals::text, c.created_at, c.updated_at,
                   EXISTS (SELECT 1 FROM leased) OR EXISTS (SELECT 1 FROM joined)
            FROM candidate c
            """,
            [project.pk, project.pk, queue, *params, now, project.pk, user.pk, now, user.pk, user.pk, lost,
             project.pk, user.pk, now, now + LEASE, now, project.pk, user.pk, now, now + LEASE],
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
    """Give a claimed frame back to its queue unchanged. True if the user held it; LeaseLost when the
    claim lapsed and someone else holds the frame now (their lease stays)."""
    if FrameLease.objects.filter(frame=frame, user=user).delete()[0] > 0:
        return True
    check_holder(frame, user)
    return False


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
