"""Dataset dashboard: what is labelled, where, by whom, how fast, and how much people agree."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from annotations.dashboards.charts import PALETTE, bar, dataset, doughnut, line, nice_max, table
from annotations.models import (
    AgreementPair,
    ClipCounts,
    ClipKeypointCounts,
    FrameStatus,
    FrameTransition,
    Revision,
)
from annotations.projects import stats

SPINE_PREFIXES = ("spine_", "neck", "hip")
PER_CLIP_LIMIT = 60           # above this many clips the coverage chart becomes a histogram
BREAK = timedelta(minutes=15)  # a longer gap between two saves is a break, not time spent on a frame
EDIT_KINDS = ("edit", "restore")


def frames_by_status(project) -> dict:
    counts = stats.frames_by_status(project)
    rows = [[s.value, counts.get(s.value, 0)] for s in FrameStatus]
    return table("Frames by status", ["status", "frames"], rows,
                 doughnut([r[0] for r in rows], [r[1] for r in rows]),
                 "every frame of the project, by its review status")


def labels_by_split(project) -> dict:
    rows: list[list[Any]] = [[split or "unassigned", label or "none", n]
                             for split, label, n in stats.frames_by_split_and_label(project)]
    splits = [s for s in ("train", "val", "test", "unassigned") if any(r[0] == s for r in rows)]
    labels = sorted({r[1] for r in rows})
    colours = dict(project.form_labels.values_list("name", "colour"))
    shown = dict(project.form_labels.values_list("name", "display_name"))  # the legend says "Correct form"
    sets = [dataset(shown.get(lab) or lab, [sum(r[2] for r in rows if r[0] == s and r[1] == lab) for s in splits], i,
                    colour=colours.get(lab, PALETTE[i % len(PALETTE)])) for i, lab in enumerate(labels)]
    return table("Labelled frames per form label and split", ["split", "form_label", "frames"], rows,
                 bar(splits, sets, stacked=True, y_title="labelled frames"), "frames with a human annotation")


def clip_coverage(project) -> dict:
    rows: list[list[Any]] = [[k, n, a, round(a / n, 3) if n else 0.0] for k, n, a in stats.clip_frames(project)]
    columns = ["clip", "frames", "annotated_frames", "coverage"]
    if len(rows) <= PER_CLIP_LIMIT:
        chart = bar([r[0] for r in rows], [dataset("annotated", [r[2] for r in rows], 2),
                                           dataset("not annotated", [r[1] - r[2] for r in rows], 7)],
                    stacked=True, horizontal=True, x_title="frames")
        note = f"{sum(1 for r in rows if r[2])} of {len(rows)} clips have annotated frames"
    else:
        names = ["none", "<10%", "10-25%", "25-50%", "50-75%", "75-<100%", "all"]
        counts = [0] * len(names)
        for r in rows:
            counts[_coverage_bin(r[3])] += 1
        chart = bar(names, [dataset("clips", counts, 0)], y_title="clips", x_title="share of frames annotated")
        note = f"{len(rows)} clips; the CSV lists each"
    return table("Clips and their coverage", columns, rows, chart, note)


def _coverage_bin(share: float) -> int:
    if share <= 0:
        return 0
    if share >= 1:
        return 6
    return 1 + sum(share >= edge for edge in (0.1, 0.25, 0.5, 0.75))


def _bucket(span: timedelta) -> tuple[str, str]:
    if span > timedelta(days=3):
        return "day", "%Y-%m-%d"
    if span > timedelta(hours=3):
        return "hour", "%Y-%m-%d %H:00"
    return "minute", "%H:%M"


# Each frame's first edit by a person and first acceptance, counted per bucket with the exact earliest and
# latest first time (read through the partial indexes of migration 0011, without sorting).
FIRSTS_SQL = """
    SELECT series, date_trunc(%(unit)s, t AT TIME ZONE 'UTC'), count(*), min(t), max(t) FROM (
        SELECT 1 AS series, min(created_at) AS t FROM {revision}
        WHERE project_id = %(p)s AND kind IN ('edit', 'restore') GROUP BY frame_id
        UNION ALL
        SELECT 2, min(created_at) FROM {transition}
        WHERE project_id = %(p)s AND action IN ('accept', 'fix') GROUP BY frame_id) firsts
    GROUP BY 1, 2"""
# Frames by the time of their first annotation: summed from the per-clip counts (one row per clip).
ANNOTATED_FIRSTS_SQL = """
    SELECT h.key, sum(h.value::int) FROM {counts} c, jsonb_each_text(c.{column}) h
    WHERE c.project_id = %(p)s GROUP BY h.key"""
KEY_FORMATS = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00", "minute": "%H:%M"}


def progress_over_time(project) -> dict:
    """Cumulative frames: annotated (first annotation), edited by a person (first edit), accepted.

    Per day, hour or minute, by the span of all three series; the annotated series comes from the per-clip
    counts, the other two are grouped in SQL, so nothing here grows with the frames in Python."""
    names = ["annotated", "edited by a person", "accepted"]
    tables = {"revision": Revision._meta.db_table, "transition": FrameTransition._meta.db_table,
              "counts": ClipCounts._meta.db_table}
    with connection.cursor() as cur:
        cur.execute(f"SELECT min(first_min), max(first_max) FROM {tables['counts']} WHERE project_id = %s",
                    [project.pk])
        bounds = [t for t in cur.fetchone() if t is not None]
        cur.execute(FIRSTS_SQL.format(**tables), {"p": project.pk, "unit": "hour"})
        buckets = cur.fetchall()
        bounds += [t for row in buckets for t in row[3:]]
        if not bounds:
            return table("Annotation progress over time", ["time", *names], [], line([], []),
                         "nothing annotated yet")
        unit, fmt = _bucket(max(bounds) - min(bounds))
        if unit == "minute":
            cur.execute(FIRSTS_SQL.format(**tables), {"p": project.pk, "unit": "minute"})
            buckets = cur.fetchall()
        cur.execute(ANNOTATED_FIRSTS_SQL.format(column="first_minutes" if unit == "minute" else "first_hours",
                                                **tables), {"p": project.pk})
        annotated = cur.fetchall()
    per_key: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    stored = "%Y-%m-%dT%H:%M" if unit == "minute" else "%Y-%m-%dT%H"  # the counts' keys, UTC
    for key, n in annotated:
        per_key[datetime.strptime(key, stored).strftime(fmt)][0] += int(n)
    for series, bucket, n, _, _ in buckets:
        per_key[bucket.strftime(fmt)][series] += n
    keys = sorted(per_key)
    rows, total = [], [0, 0, 0]
    for key in keys:
        total = [a + b for a, b in zip(total, per_key[key])]
        rows.append([key, *total])
    sets = [dataset(name, [r[i + 1] for r in rows], i) for i, name in enumerate(names)]
    return table("Annotation progress over time", ["time", *names], rows,
                 line(keys, sets, y_title="frames (cumulative)", x_title=unit), f"cumulative, per {unit}")


THROUGHPUT_SQL = """
    WITH saves AS (
        SELECT user_id, frame_id, lag(frame_id) OVER w AS previous_frame,
               extract(epoch FROM created_at - lag(created_at) OVER w) AS gap
        FROM {revision} WHERE project_id = %(p)s AND kind IN ('edit', 'restore') AND user_id IS NOT NULL
        WINDOW w AS (PARTITION BY user_id ORDER BY created_at))
    SELECT u.username, count(DISTINCT s.frame_id), count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY s.gap) FILTER (WHERE s.frame_id <> s.previous_frame
                                                                      AND s.gap <= %(brk)s),
           coalesce(sum(s.gap) FILTER (WHERE s.frame_id <> s.previous_frame AND s.gap <= %(brk)s), 0) / 3600
    FROM saves s JOIN {user} u ON u.id = s.user_id GROUP BY u.username ORDER BY u.username"""


def annotator_throughput(project) -> dict:
    """Per person: frames they saved, and the median seconds between saves on consecutive frames (a gap
    counts when the next save is on another frame and within BREAK); computed in SQL."""
    with connection.cursor() as cur:
        cur.execute(THROUGHPUT_SQL.format(revision=Revision._meta.db_table, user=get_user_model()._meta.db_table),
                    {"p": project.pk, "brk": BREAK.total_seconds()})
        per_user = cur.fetchall()
    rows = [[u, frames, saves, round(float(median), 1) if median is not None else None,
             round(frames / float(hours), 1) if hours and hours > 0 else None]
            for u, frames, saves, median, hours in per_user]
    users = [r[0] for r in rows]
    medians = [r[3] for r in rows]
    # The medians on their own axis in seconds, scaled to them with room above (never Chart.js's 0-1
    # default, nor a top tick that is the largest median); one marker per person, no line between people,
    # drawn over the bars (the lower `order` is drawn last).
    chart = bar(users, [dataset("frames saved", [r[1] for r in rows], 0, yAxisID="y", order=2),
                        dataset("median seconds per frame", medians, 3, yAxisID="y1", type="line", showLine=False,
                                pointRadius=6, pointHoverRadius=8, pointStyle="rectRot", order=1)],
                y_title="frames")
    chart["options"]["scales"]["y"]["ticks"] = {"precision": 0}
    chart["options"]["scales"]["y1"] = {"type": "linear", "position": "right", "min": 0, "max": nice_max(medians),
                                        "title": {"display": True, "text": "median seconds per frame"},
                                        "grid": {"drawOnChartArea": False}}
    return table("Per-annotator throughput", ["user", "frames", "saves", "median_seconds_per_frame",
                                              "frames_per_active_hour"], rows, chart,
                 "from the times of their saves; gaps over 15 minutes count as breaks" if rows
                 else "nobody has edited a frame here yet (imports are not edits)")


def spine_verified(project) -> dict:
    """Per spine point: annotations where it is labelled, and where a person verified it (from the per-clip
    keypoint counts that triggers keep, not from the annotations)."""
    names = project.skeleton["keypoints"]
    spine = [(i, n) for i, n in enumerate(names) if n.startswith(SPINE_PREFIXES)]
    if not spine:
        return table("Verified share of spine points", ["keypoint", "labelled", "verified", "share"], [],
                     bar([], []), "this project's skeleton has no spine points")
    # Summed from the per-clip keypoint counts (one row per clip; migration 0012), 1-based arrays.
    parts = [f"coalesce(sum(labelled[{i + 1}]), 0), coalesce(sum(verified[{i + 1}]), 0)" for i, _ in spine]
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(parts)} FROM {ClipKeypointCounts._meta.db_table} WHERE project_id = %s",
                    [project.pk])
        counts = cur.fetchone()
    rows = [[n, counts[2 * j], counts[2 * j + 1], round(counts[2 * j + 1] / counts[2 * j], 3) if counts[2 * j] else 0.0]
            for j, (_, n) in enumerate(spine)]
    total_l, total_v = sum(r[1] for r in rows), sum(r[2] for r in rows)
    chart = bar([r[0] for r in rows], [dataset("verified", [r[2] for r in rows], 2),
                                       dataset("labelled, not verified", [r[1] - r[2] for r in rows], 6)],
                stacked=True, y_title="annotations")
    return table("Verified share of spine points", ["keypoint", "labelled", "verified", "share"], rows, chart,
                 f"{total_v} of {total_l} labelled spine points verified "
                 f"({100 * total_v / total_l:.0f}%)" if total_l else "no spine point is labelled yet")


# Each pair once, a before b by username; the OKS of (a, b) is stored for both orders (migration 0012).
AGREEMENT_SQL = """
    SELECT p.frame_id, ua.username, ub.username, p.oks, p.same_form_label
    FROM {pair} p JOIN {user} ua ON ua.id = p.user_a_id JOIN {user} ub ON ub.id = p.user_b_id
    WHERE p.project_id = %(p)s AND ua.username < ub.username
    ORDER BY p.frame_id, ua.username, ub.username"""


def agreement(project) -> dict:
    """Frames saved by two or more people: OKS between their last versions, and form-label agreement.

    Per pair of people on a frame, read from the pairs that triggers score when revisions are written
    (mlcore.metrics.oks with the first person's points as prediction, the second's as truth)."""
    with connection.cursor() as cur:
        cur.execute(AGREEMENT_SQL.format(pair=AgreementPair._meta.db_table, user=get_user_model()._meta.db_table),
                    {"p": project.pk})
        rows: list[list[Any]] = [[f, ua, ub, round(o, 4), same] for f, ua, ub, o, same in cur.fetchall()]
    edges = [0.0, 0.5, 0.75, 0.9, 0.95, 1.01]
    names = ["<0.5", "0.5-0.75", "0.75-0.9", "0.9-0.95", "≥0.95"]
    counts = [sum(1 for r in rows if lo <= r[3] < hi) for lo, hi in zip(edges, edges[1:])]
    frames = len({r[0] for r in rows})
    note = (f"{len(rows)} pair{'s' if len(rows) != 1 else ''} on {frames} frame{'s' if frames != 1 else ''}; "
            f"same form label in "
            f"{100 * sum(r[4] for r in rows) / len(rows):.0f}% of pairs" if rows
            else "no frame has been labelled by two people yet")
    return table("Agreement where several people labelled a frame", ["frame", "user_a", "user_b", "oks",
                                                                     "same_form_label"], rows,
                 bar(names, [dataset("pairs of people", counts, 4)], y_title="pairs", x_title="OKS between them"),
                 note)


CHARTS = {
    "frames_by_status": frames_by_status,
    "labels_by_split": labels_by_split,
    "clip_coverage": clip_coverage,
    "progress_over_time": progress_over_time,
    "annotator_throughput": annotator_throughput,
    "spine_verified": spine_verified,
    "agreement": agreement,
}
