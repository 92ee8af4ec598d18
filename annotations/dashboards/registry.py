"""The boards and their charts: {board: {chart name: function(project) -> table}}, in display order."""

from __future__ import annotations

from collections.abc import Callable

from annotations.consensus import charts as consensus_charts
from annotations.dashboards import dataset_board, models_board, queues_board
from annotations.gold import accuracy

BOARDS: dict[str, dict[str, Callable]] = {
    "dataset": {**dataset_board.CHARTS, "gold_accuracy": accuracy.accuracy_chart,
                "consensus_agreement": consensus_charts.agreement_chart,
                "consensus_keypoints": consensus_charts.keypoint_chart},
    "models": models_board.CHARTS, "queues": queues_board.CHARTS}
BOARD_TITLES = {"dataset": "Dataset", "models": "Models", "queues": "Queues"}


def boards() -> dict[str, dict[str, Callable]]:
    return BOARDS


def chart(board: str, name: str, project) -> dict:
    """One chart's table; KeyError for an unknown board or chart."""
    return BOARDS[board][name](project)
