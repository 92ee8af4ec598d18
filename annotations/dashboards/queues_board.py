"""Queues dashboard: sizes, age of the oldest open item, leases (expired ones too), the signal mix at the top."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import connection
from django.utils import timezone

from annotations.dashboards.charts import PALETTE, bar, dataset, table
from annotations.models import Queue, QueueItem

TOP = 50  # how many items from the top of each queue the signal mix looks at


def queue_sizes(project) -> dict:
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT queue, count(*) FILTER (WHERE done_at IS NULL), count(*) FILTER (WHERE done_at IS NOT NULL)
            FROM {QueueItem._meta.db_table} WHERE project_id = %s GROUP BY queue""", [project.pk])
        counts = {q: (o, d) for q, o, d in cur.fetchall()}
    rows = [[q.value, counts.get(q.value, (0, 0))[0], counts.get(q.value, (0, 0))[1]] for q in Queue]
    return table("Queue sizes", ["queue", "open", "done"], rows,
                 bar([r[0] for r in rows], [dataset("open", [r[1] for r in rows], 0),
                                            dataset("done", [r[2] for r in rows], 7)], stacked=True,
                     y_title="frames"))


def queue_age(project) -> dict:
    """Hours since the oldest open item of each queue was (re)queued, and the median.

    Read off the (project, queue, updated_at) index of open items: the oldest is its first entry, the
    median the middle one or two (as percentile_cont takes them), so nothing is sorted."""
    ages: dict[str, tuple[float, float]] = {}
    with connection.cursor() as cur:
        cur.execute(f"SELECT queue, count(*) FROM {QueueItem._meta.db_table} WHERE project_id = %s "
                    "AND done_at IS NULL GROUP BY queue", [project.pk])
        sizes = dict(cur.fetchall())
        for queue, n in sizes.items():
            hours = []
            for offset, limit in ((0, 1), ((n - 1) // 2, 2 - n % 2)):
                cur.execute(f"""SELECT extract(epoch FROM now() - updated_at) / 3600 FROM {QueueItem._meta.db_table}
                                WHERE project_id = %s AND queue = %s AND done_at IS NULL
                                ORDER BY updated_at OFFSET %s LIMIT %s""", [project.pk, queue, offset, limit])
                values = [float(v) for (v,) in cur.fetchall()]
                hours.append(sum(values) / len(values))
            ages[queue] = (round(hours[0], 2), round(hours[1], 2))
    rows = [[q.value, *ages.get(q.value, (None, None))] for q in Queue]
    return table("Age of open items", ["queue", "oldest_hours", "median_hours"], rows,
                 bar([r[0] for r in rows], [dataset("oldest open item", [r[1] for r in rows], 1),
                                            dataset("median open item", [r[2] for r in rows], 0)],
                     y_title="hours in the queue"),
                 "since the item was queued or last re-scored")


def leases(project) -> dict:
    """Per queue: frames with an active lease, the people holding them (several on a frame collecting a
    consensus, each with their own lease) and expired leases."""
    with connection.cursor() as cur:
        cur.execute("""
            SELECT coalesce((SELECT qi.queue FROM annotations_queueitem qi WHERE qi.id = l.item_id), '(no queue)'),
                   count(DISTINCT l.frame_id) FILTER (WHERE l.expires_at > now()),
                   count(*) FILTER (WHERE l.expires_at > now()), count(*) FILTER (WHERE l.expires_at <= now())
            FROM annotations_framelease l
            WHERE l.project_id = %s GROUP BY 1""", [project.pk])  # an id lookup per lease, never a join
        counts = {q: (a, h, e) for q, a, h, e in cur.fetchall()}
    names = [q.value for q in Queue] + [q for q in counts if q not in Queue.values]
    rows = [[q, *counts.get(q, (0, 0, 0))] for q in names]
    expired = sum(r[3] for r in rows)
    return table("Leases: frames being worked on, and expired claims", ["queue", "active", "holders", "expired"], rows,
                 bar(names, [dataset("active", [r[1] for r in rows], 2), dataset("expired", [r[3] for r in rows], 1)],
                     stacked=True, y_title="leases"),
                 f"{expired} expired lease{'s' if expired != 1 else ''}: those frames (or places on a frame "
                 "collecting a consensus) are free for the next claim")


def _reason(queue: str, signals: dict) -> str:
    """The one signal that put an item where it is, in a few words."""
    if signals.get("rejected"):
        return "rejected by a reviewer"
    if queue == Queue.UNCERTAIN:
        return signals.get("main_signal") or "other"
    if queue == Queue.LABEL_ERROR:
        if signals.get("form"):
            return "form disagreement"
        if signals.get("suspect_joints"):
            return "keypoint disagreement"
        if signals.get("jump") is not None or signals.get("jumps"):
            return "temporal jump"
        return "other"
    if queue == Queue.UNVERIFIED_SPINE:
        return "unverified spine points"
    if queue == Queue.REVIEW:
        return "submitted"
    return "sampled" if queue == Queue.AUDIT else "pre-annotated"


def signal_mix(project) -> dict:
    """What brought the top items of each queue there (the main signal of each)."""
    rows: list[list[Any]] = []
    mix: dict[str, Counter[str]] = {}
    for q in Queue:
        items = (QueueItem.objects.filter(project=project, queue=q.value, done_at__isnull=True)
                 .order_by("-priority", "id").values_list("signals", flat=True)[:TOP])
        counts = Counter(_reason(q.value, s or {}) for s in items)
        mix[q.value] = counts
        rows += [[q.value, reason, n] for reason, n in sorted(counts.items())]
    reasons = sorted({r[1] for r in rows})
    queues = [q for q in mix if mix[q]]
    sets = [dataset(reason, [mix[q].get(reason, 0) for q in queues], i) for i, reason in enumerate(reasons)]
    for i, d in enumerate(sets):
        d["backgroundColor"] = d["borderColor"] = PALETTE[i % len(PALETTE)]
    return table(f"Signal mix in the top {TOP} of each queue", ["queue", "main_signal", "items"], rows,
                 bar(queues, sets, stacked=True, y_title="items"),
                 f"measured {timezone.now():%Y-%m-%d %H:%M} UTC" if rows else "every queue is empty")


CHARTS = {
    "queue_sizes": queue_sizes,
    "queue_age": queue_age,
    "leases": leases,
    "signal_mix": signal_mix,
}
