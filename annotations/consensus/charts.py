"""The dataset dashboard's consensus charts (JSON and CSV like every chart): agreement over time (mean
pairwise OKS and Krippendorff's alpha of the form labels of the frames finished in each day or week) and
agreement per keypoint (mean pairwise OKS over every finished frame)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np

from annotations.consensus.building import krippendorff_alpha
from annotations.consensus.figures import FINISHED
from annotations.dashboards.charts import bar, dataset, line, table
from annotations.models import ConsensusFrame, ConsensusVote

WEEKLY_AFTER = timedelta(days=14)  # frames finished over more than this are counted per week, else per day
EMPTY = "no consensus frame is finished yet: ask for several independent annotations on a clip or frames"


def _finished(project):
    return ConsensusFrame.objects.filter(project=project, status__in=FINISHED, completed_at__isnull=False)


def over_time(project) -> tuple[str, list[list]]:
    """(unit, rows [period, frames, disputed, mean_oks, form_alpha]) of the finished consensus frames, by
    the day (or, over more than two weeks, the week, named by its Monday) they were finished."""
    frames = list(_finished(project).order_by("completed_at").values_list("id", "completed_at", "status", "mean_oks"))
    if not frames:
        return "day", []
    weekly = frames[-1][1] - frames[0][1] > WEEKLY_AFTER
    labels: dict[int, list[str]] = defaultdict(list)
    for consensus_id, label in (ConsensusVote.objects.filter(consensus_id__in=[f[0] for f in frames],
                                                             status=ConsensusVote.Status.SUBMITTED)
                                .exclude(form_label="").values_list("consensus_id", "form_label")):
        labels[consensus_id].append(label)
    groups: dict[str, list] = defaultdict(list)
    for row in frames:
        day = row[1].date()
        groups[((day - timedelta(days=day.weekday())) if weekly else day).isoformat()].append(row)
    rows = []
    for period, group in sorted(groups.items()):
        oks = [r[3] for r in group if r[3] is not None]
        alpha = krippendorff_alpha([labels[r[0]] for r in group])
        rows.append([period, len(group), sum(r[2] == ConsensusFrame.Status.DISPUTED for r in group),
                     round(float(np.mean(oks)), 4) if oks else None, None if alpha is None else round(alpha, 4)])
    return ("week" if weekly else "day"), rows


def agreement_chart(project) -> dict:
    """Per day or week: the mean pairwise OKS of the frames finished then, and the alpha of their labels."""
    unit, rows = over_time(project)
    periods = [r[0] for r in rows]
    sets = [dataset("mean pairwise OKS", [r[3] for r in rows], 0, spanGaps=True, pointRadius=4),
            dataset("form-label alpha (Krippendorff)", [r[4] for r in rows], 1, spanGaps=True, pointRadius=4)]
    frames = sum(r[1] for r in rows)
    disputed = sum(r[2] for r in rows)
    note = (f"{frames} consensus frame{'s' if frames != 1 else ''} finished, {disputed} below the threshold, per "
            f"{unit}; alpha is empty where every label was the same" if rows else EMPTY)
    return table("Consensus agreement over time", ["period", "frames", "disputed", "mean_oks", "form_alpha"], rows,
                 line(periods, sets, y_title="agreement", x_title=unit, y_max=1), note)


def keypoint_chart(project) -> dict:
    """Per keypoint: mean pairwise OKS over the finished consensus frames where someone placed it."""
    names = project.skeleton["keypoints"]
    values: list[list[float]] = [[] for _ in names]
    for per_kpt in _finished(project).values_list("oks_per_keypoint", flat=True):
        for k, v in enumerate(per_kpt[:len(names)]):
            if v is not None:
                values[k].append(v)
    rows = [[name, len(v), round(float(np.mean(v)), 4) if v else None] for name, v in zip(names, values)]
    shown = [r for r in rows if r[1]]
    note = ("mean pairwise OKS per keypoint over every finished consensus frame; the lowest are where people "
            "place a point differently" if shown else EMPTY)
    return table("Consensus agreement per keypoint", ["keypoint", "frames", "mean_oks"], shown,
                 bar([r[0] for r in shown], [dataset("mean pairwise OKS", [r[2] for r in shown])],
                     horizontal=True, x_title="mean pairwise OKS", every_label=True), note)
