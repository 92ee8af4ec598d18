"""Project figures shown on pages, over REST and on the dataset dashboard.

They are sums over the per-clip counts (annotations.models.counts.ClipCounts) that database triggers
keep current with every write to frames and annotations, so reading them costs a pass over one row
per clip instead of counting a million frames and their annotations on every request.
"""

from __future__ import annotations

from django.db import connection

from annotations.models import Clip, ClipCounts, FormLabel

TOTALS_SQL = """
    SELECT coalesce(sum(frames), 0), coalesce(sum(missing_images), 0), coalesce(sum(annotated), 0),
           count(*) FILTER (WHERE annotated > 0)
    FROM {counts} WHERE project_id = %s"""
STATUS_SQL = """
    SELECT s.key, sum(s.value::int) FROM {counts} c, jsonb_each_text(c.by_status) s
    WHERE c.project_id = %s GROUP BY s.key"""
SPLIT_LABEL_SQL = """
    SELECT s.key, sum(s.value::int) FROM {counts} c, jsonb_each_text(c.by_split_label) s
    WHERE c.project_id = %s GROUP BY s.key"""


def _rows(sql: str, project) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql.format(counts=ClipCounts._meta.db_table), [project.pk])
        return cur.fetchall()


def frames_by_status(project) -> dict[str, int]:
    """{status: frames} of the statuses some frame has."""
    return {status: int(n) for status, n in _rows(STATUS_SQL, project) if n}


def frames_by_split_and_label(project) -> list[tuple[str, str | None, int]]:
    """[(split ("" for none), form label name (None for none), distinct annotated frames)], by split then
    label name (no label last)."""
    names = dict(FormLabel.objects.filter(project=project).values_list("id", "name"))
    rows = []
    for key, n in _rows(SPLIT_LABEL_SQL, project):
        split, _, label_id = key.partition("|")
        if n:
            rows.append((split, names.get(int(label_id)) if label_id else None, int(n)))
    return sorted(rows, key=lambda r: (r[0], r[1] is None, r[1] or ""))


def clip_frames(project) -> list[tuple[str, int, int]]:
    """[(clip key, frames, annotated frames)] of every clip, by key."""
    with connection.cursor() as cur:
        cur.execute(f"""SELECT c.key, coalesce(n.frames, 0), coalesce(n.annotated, 0)
                        FROM {Clip._meta.db_table} c LEFT JOIN {ClipCounts._meta.db_table} n ON n.clip_id = c.id
                        WHERE c.project_id = %s ORDER BY c.key""", [project.pk])
        return cur.fetchall()


def project_stats(project) -> dict:
    frames, missing, annotated, annotated_clips = _rows(TOTALS_SQL, project)[0]
    by_label: dict[str, int] = {}
    by_split_label: dict[str, dict] = {}
    for split, label, n in frames_by_split_and_label(project):
        by_label[label or "none"] = by_label.get(label or "none", 0) + n  # a frame has one split
        by_split_label.setdefault(split or "unassigned", {})[label or "none"] = n
    return {
        "frames": int(frames),
        "annotated_frames": int(annotated),
        "unlabelled_pool": int(frames) - int(annotated),
        "clips": Clip.objects.filter(project=project).count(),
        "annotated_clips": annotated_clips,
        "frames_by_status": frames_by_status(project),
        "annotated_frames_by_label": by_label,
        "annotated_frames_by_split": by_split_label,
        "missing_images": int(missing),
    }
