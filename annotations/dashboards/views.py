"""The dataset, models and queues dashboards: each chart is drawn in the browser from its JSON endpoint."""

from __future__ import annotations

from django.shortcuts import render

from annotations.core.permissions import project_for
from annotations.dashboards.registry import BOARD_TITLES, boards
from annotations.models import Role


def dashboard(request, slug, board="dataset"):
    project = project_for(request.user, slug, Role.PI)
    charts = boards().get(board)
    if charts is None:
        return render(request, "404.html", status=404)
    return render(request, "annotations/dashboards/board.html", {
        "project": project, "board": board, "board_title": BOARD_TITLES[board],
        "boards": BOARD_TITLES.items(), "charts": list(charts),
    })
