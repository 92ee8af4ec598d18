"""Per-annotator accuracy on gold frames: a summary per person and their mean OKS over time, the latter
also the dataset dashboard's "gold_accuracy" chart (JSON and CSV like every chart)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np

from annotations.dashboards.charts import dataset, line, table
from annotations.models import GoldAttempt

WEEKLY_AFTER = timedelta(days=14)  # attempts spread over more than this are counted per week, else per day


def _scored(project, user: str | None = None):
    attempts = GoldAttempt.objects.filter(project=project, status=GoldAttempt.Status.SCORED)
    if user:
        attempts = attempts.filter(user__username=user)
    return (attempts.order_by("submitted_at", "id")
            .values_list("user__username", "submitted_at", "oks", "pixel_error", "form_agreement", "missed"))


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return round(float(np.mean(kept)), 4) if kept else None


def _share(flags: list) -> float | None:
    kept = [f for f in flags if f is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


def per_annotator(project, user: str | None = None) -> list[dict]:
    """Per person (by name): attempts, mean OKS, median pixel error, form agreement, missed points, last."""
    by_user: dict[str, list] = defaultdict(list)
    for row in _scored(project, user):
        by_user[row[0]].append(row)
    out = []
    for name, rows in sorted(by_user.items()):
        pixels = [r[3] for r in rows if r[3] is not None]
        out.append({"user": name, "attempts": len(rows), "mean_oks": _mean([r[2] for r in rows]),
                    "median_pixel_error": round(float(np.median(pixels)), 2) if pixels else None,
                    "form_agreement": _share([r[4] for r in rows]), "missed_points": sum(r[5] for r in rows),
                    "last_attempt": rows[-1][1].isoformat()})
    return out


def over_time(project, user: str | None = None) -> tuple[str, list[list]]:
    """(unit, rows [period, user, attempts, mean_oks, mean_pixel_error, form_agreement]): per week when the
    attempts span more than two weeks, else per day; a week is named by its Monday."""
    rows = list(_scored(project, user))
    if not rows:
        return "day", []
    weekly = rows[-1][1] - rows[0][1] > WEEKLY_AFTER
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        day = row[1].date()
        period = (day - timedelta(days=day.weekday())) if weekly else day
        groups[(period.isoformat(), row[0])].append(row)
    table_rows = [[period, name, len(g), _mean([r[2] for r in g]), _mean([r[3] for r in g]),
                   _share([r[4] for r in g])] for (period, name), g in sorted(groups.items())]
    return ("week" if weekly else "day"), table_rows


def accuracy_chart(project) -> dict:
    """Per annotator: mean OKS against the gold per day or week, one line per person."""
    unit, rows = over_time(project)
    periods = sorted({r[0] for r in rows})
    people = sorted({r[1] for r in rows})
    value = {(r[0], r[1]): r[3] for r in rows}
    sets = [dataset(name, [value.get((p, name)) for p in periods], i, spanGaps=True, pointRadius=4)
            for i, name in enumerate(people)]
    columns = ["period", "user", "attempts", "mean_oks", "mean_pixel_error", "form_agreement"]
    attempts = sum(r[2] for r in rows)
    note = (f"{attempts} honeypot{'s' if attempts != 1 else ''} scored for {len(people)} "
            f"{'person' if len(people) == 1 else 'people'}, per {unit}; OKS 1 is exactly on the gold" if rows
            else "nobody has submitted a gold frame yet: mark gold frames and set a honeypot rate")
    return table("Per-annotator accuracy on gold frames", columns, rows,
                 line(periods, sets, y_title="mean OKS against the gold", x_title=unit, y_max=1), note)
