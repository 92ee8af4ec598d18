"""Serving gold frames blind in the annotation queues (honeypots).

A claim of an annotation queue (uncertain, label_error, unverified_spine, new_preannotated) goes
through `claim_next` here. In order:
1. a honeypot the person holds in this queue (their open attempt) comes back, as any held claim does;
2. a normal claim they hold in this queue comes back (claims.claim_next);
3. with probability `project.honeypot_rate`, an active gold frame they have no attempt on (never one
   they marked themselves), matching the claim's filters and leased by nobody, is leased to them with
   a new open GoldAttempt: they get it as if it were the queue's next frame;
4. otherwise the queue's next frame. Gold frames reach people only as honeypots: an open item of a
   gold frame that a claim comes across (a later score or label check put it there) is closed and the
   claim moves on. A frame that needs independent annotations (annotations/consensus/) opens the
   person's own vote on it, or is passed over when they voted on it already.
"""

from __future__ import annotations

import random

from django.db import connection, transaction
from django.utils import timezone

from annotations.consensus import voting
from annotations.core import hot_path
from annotations.models import Clip, FrameLease, GoldAttempt, GoldFrame, QueueItem, QueueSkip
from annotations.models.review import ANNOTATION_QUEUES
from annotations.review import claims

RNG = random.Random()
# Signals of a queue item that speak of its review history, never shown on a honeypot.
REVIEW_SIGNALS = ("rejected", "rejected_by", "submitted_from", "submitted_by", "restored")
MAX_PASSES = 20  # gold frames a claim may pass over in the queue before giving up


def claim_next(project, queue: str, user, *, clip: str | None = None, split: str | None = None,
               form_label: str | None = None) -> QueueItem | None:
    """claims.claim_next with honeypots mixed into the annotation queues (see the module's doc)."""
    if queue not in ANNOTATION_QUEUES:
        return claims.claim_next(project, queue, user, clip=clip, split=split, form_label=form_label)
    filters = {"clip": clip, "split": split, "form_label": form_label}
    with transaction.atomic(), connection.cursor() as cur:
        # The same per-person lock as claims.claim_next (taken again there, which PostgreSQL allows).
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s), %s)", [f"claim:{project.pk}:{queue}", user.pk])
        held = _held_honeypot(project, queue, user, filters)
        if held is not None:
            return held
        now = timezone.now()
        # A claim the person holds comes back before any honeypot (a reload, a second tab).
        if (project.honeypot_rate > 0 and not _holds_claim(project, queue, user, filters, now)
                and RNG.random() < project.honeypot_rate):
            item = _serve(cur, project, queue, user, filters)
            if item is not None:
                return item
        for _ in range(MAX_PASSES):
            item = claims.claim_next(project, queue, user, **filters)
            if item is None:
                return None
            if hot_path.any_row(GoldFrame._meta.db_table, "frame_id = %s AND active", [item.frame_id]):
                QueueItem.objects.filter(pk=item.pk).update(done_at=now)
                FrameLease.objects.filter(frame_id=item.frame_id, user=user).delete()
                continue
            # A frame that needs independent annotations: the person's own vote, or the next frame when
            # they voted on this one already (never offered to them again) or its places are all taken.
            outcome = voting.on_claim(project, item, user)
            if outcome not in ("skip", "full"):
                return item
            if outcome == "skip":
                QueueSkip.objects.get_or_create(item_id=item.pk, user=user)
            FrameLease.objects.filter(frame_id=item.frame_id, user=user).delete()
    return None


def _holds_claim(project, queue: str, user, filters: dict, now) -> bool:
    """Whether the person holds an open claim in this queue that matches the filters (claims.claim_next
    then gives it back)."""
    held = FrameLease.objects.filter(project=project, user=user, item__queue=queue, item__done_at__isnull=True,
                                     expires_at__gt=now)
    if filters["clip"]:
        held = held.filter(item__clip__key=filters["clip"])
    if filters["split"]:
        held = held.filter(item__split=filters["split"])
    if filters["form_label"]:
        held = held.filter(item__form_label__name=filters["form_label"])
    return held.exists()


def shown(item: QueueItem) -> QueueItem:
    """The item as a honeypot shows it: its model signals, none of its review history."""
    item.signals = {k: v for k, v in (item.signals or {}).items() if k not in REVIEW_SIGNALS}
    return item


def _matches(attempt: GoldAttempt, filters: dict) -> bool:
    frame = attempt.frame
    if filters["clip"] and Clip.objects.filter(pk=frame.clip_id).values_list("key", flat=True).first() != \
            filters["clip"]:
        return False
    if filters["split"] and frame.split != filters["split"]:
        return False
    return not filters["form_label"] or attempt.gold.form_label == filters["form_label"]


def _held_honeypot(project, queue: str, user, filters: dict) -> QueueItem | None:
    """The person's open honeypot in this queue, leased to them again; None (and the attempt dropped,
    as it was never submitted) when someone else took the frame or the filters no longer match it."""
    if not hot_path.any_row(GoldAttempt._meta.db_table,
                            "project_id = %s AND user_id = %s AND queue = %s AND status = %s",
                            [project.pk, user.pk, queue, GoldAttempt.Status.OPEN]):
        return None
    attempt = (GoldAttempt.objects.filter(project=project, user=user, queue=queue, status=GoldAttempt.Status.OPEN)
               .select_related("gold", "frame", "item").order_by("-served_at").first())
    if attempt is None:
        return None
    now = timezone.now()
    item = attempt.item
    taken = FrameLease.objects.filter(frame_id=attempt.frame_id, expires_at__gt=now).exclude(user=user).exists()
    if taken or not attempt.gold.active or not _matches(attempt, filters) or item is None:
        FrameLease.objects.filter(frame_id=attempt.frame_id, user=user).delete()
        attempt.delete()
        return None
    if not _lease(project, attempt.frame_id, item.pk, user, now):
        return None
    return shown(item)


def _lease(project, frame_id: int, item_id: int, user, now) -> bool:
    """Lease the frame to `user` unless someone else holds an unexpired lease on it."""
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO annotations_framelease (frame_id, project_id, user_id, item_id, claimed_at, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (frame_id) WHERE NOT shared DO UPDATE SET user_id = EXCLUDED.user_id,
                item_id = EXCLUDED.item_id, claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
            WHERE annotations_framelease.expires_at <= %s OR annotations_framelease.user_id = EXCLUDED.user_id
            RETURNING frame_id
            """,
            [frame_id, project.pk, user.pk, item_id, now, now + claims.LEASE, now],
        )
        return cur.fetchone() is not None


def _candidates(cur, project, user, filters: dict, now) -> list[tuple[int, int]]:
    """(gold id, frame id) of gold frames this person may be served now, in random order (a few)."""
    where, params = [], []
    if filters["clip"]:
        where.append("c.key = %s")
        params.append(filters["clip"])
    if filters["split"]:
        where.append("f.split = %s")
        params.append(filters["split"])
    if filters["form_label"]:
        where.append("g.form_label = %s")
        params.append(filters["form_label"])
    cur.execute(
        f"""
        SELECT g.id, g.frame_id FROM annotations_goldframe g
        JOIN annotations_frame f ON f.id = g.frame_id JOIN annotations_clip c ON c.id = f.clip_id
        WHERE g.project_id = %s AND g.active AND g.marked_by_id IS DISTINCT FROM %s
          AND NOT EXISTS (SELECT 1 FROM annotations_goldattempt t WHERE t.gold_id = g.id AND t.user_id = %s)
          AND NOT EXISTS (SELECT 1 FROM annotations_framelease l WHERE l.frame_id = g.frame_id AND l.expires_at > %s)
          {"".join(f" AND {w}" for w in where)}
        ORDER BY random() LIMIT 5
        """,
        [project.pk, user.pk, user.pk, now, *params],
    )
    return cur.fetchall()


def _serve(cur, project, queue: str, user, filters: dict) -> QueueItem | None:
    """Lease a gold frame to `user` through `queue` with a new open attempt; None when there is none."""
    now = timezone.now()
    for gold_id, frame_id in _candidates(cur, project, user, filters, now):
        item = _item_for(project, frame_id, queue, now)
        claims.release_mine(project, queue, user)
        if not _lease(project, frame_id, item.pk, user, now):
            continue  # claimed through another queue a moment ago
        GoldAttempt.objects.create(project=project, gold_id=gold_id, frame_id=frame_id, user=user, queue=queue,
                                   item=item, draft_id=voting.draft_id(), served_at=now)
        return shown(item)
    return None


def _item_for(project, frame_id: int, queue: str, now) -> QueueItem:
    """The frame's item in `queue` (created done, so it never counts as open work), closed if open."""
    frame = project.frames.select_related("clip").get(pk=frame_id)
    item, created = QueueItem.objects.get_or_create(
        frame_id=frame_id, queue=queue,
        defaults={"project": project, "clip_id": frame.clip_id, "split": frame.split, "done_at": now})
    if not created and item.done_at is None:
        item.done_at = now
        item.save(update_fields=["done_at", "updated_at"])
    return item
