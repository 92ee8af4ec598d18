"""Per-annotator accuracy on gold frames: a summary per person and their mean OKS over time, the latter
also the dataset dashboard's "gold_accuracy" chart (JSON and CSV like every chart)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection

from annotations.dashboards.charts import dataset, line, table
from annotations.models import GoldAttempt

WEEKLY_AFTER = timedelta(days=14)  # attempts spread over more than this are counted per week, else per day


# Scored attempts of a project (optionally one person's): the figures below aggregate them in SQL, so a
# project with tens of thousands of honeypots answers without reading each attempt into Python.
SCORED_SQL = """
    SELECT u.username, a.submitted_at, a.oks, a.pixel_error, a.form_agreement, a.missed
    FROM {attempt} a JOIN {user} u ON u.id = a.user_id
    WHERE a.project_id = %(p)s AND a.status = %(scored)s AND (%(user)s::text IS NULL OR u.username = %(user)s)"""


def _query(sql: str, project, user: str | None, **extra) -> list[tuple]:
    params = {"p": project.pk, "scored": GoldAttempt.Status.SCORED, "user": user or None, **extra}
    scored = SCORED_SQL.format(attempt=GoldAttempt._meta.db_table, user=get_user_model()._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(sql.format(scored=scored), params)
        return cur.fetchall()


def _round(value, digits: int = 4) -> float | None:
    return round(float(value), digits) if value is not None else None


PER_ANNOTATOR_SQL = """
    WITH scored AS ({scored})
    SELECT username, count(*), avg(oks), percentile_cont(0.5) WITHIN GROUP (ORDER BY pixel_error),
           avg(form_agreement::int), sum(missed), max(submitted_at)
    FROM scored GROUP BY username ORDER BY username"""


def per_annotator(project, user: str | None = None) -> list[dict]:
    """Per person (by name): attempts, mean OKS, median pixel error, form agreement, missed points, last."""
    return [{"user": name, "attempts": n, "mean_oks": _round(oks), "median_pixel_error": _round(pixels, 2),
             "form_agreement": _round(agreement), "missed_points": int(missed), "last_attempt": last.isoformat()}
            for name, n, oks, pixels, agreement, missed, last in sorted(_query(PER_ANNOTATOR_SQL, project, user))]


# Per week (named by its Monday) when the attempts span more than WEEKLY_AFTER, else per day (UTC).
OVER_TIME_SQL = """
    WITH scored AS MATERIALIZED ({scored}),
    span AS (SELECT CASE WHEN max(submitted_at) - min(submitted_at) > %(weekly)s THEN 'week' ELSE 'day' END
             AS unit FROM scored)
    SELECT span.unit, date_trunc(span.unit, submitted_at AT TIME ZONE 'UTC')::date, username, count(*), avg(oks),
           avg(pixel_error), avg(form_agreement::int)
    FROM scored CROSS JOIN span GROUP BY 1, 2, 3 ORDER BY 2, 3"""


def over_time(project, user: str | None = None) -> tuple[str, list[list]]:
    """(unit, rows [period, user, attempts, mean_oks, mean_pixel_error, form_agreement]): per week when the
    attempts span more than two weeks, else per day; a week is named by its Monday."""
    rows = _query(OVER_TIME_SQL, project, user, weekly=WEEKLY_AFTER)
    if not rows:
        return "day", []
    return rows[0][0], sorted([period.isoformat(), name, n, _round(oks), _round(pixels), _round(agreement)]
                              for _, period, name, n, oks, pixels, agreement in rows)


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
