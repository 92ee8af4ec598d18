"""Dashboard charts as tables: every chart is one function of the project returning a table that is
served as JSON (with a Chart.js-ready `chart` part) and as CSV from the same endpoint.

A table: {"title", "columns": [names], "rows": [[values]], "chart": {"type", "data": {"labels",
"datasets": [{"label", "data"}]}, "options": {...}}, "note": what the chart shows or why it is empty}.
"""

from __future__ import annotations

import csv
import io
import math

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def table(title: str, columns: list[str], rows: list[list], chart: dict, note: str = "") -> dict:
    return {"title": title, "columns": columns, "rows": rows, "chart": chart, "note": note}


def dataset(label: str, data: list, i: int = 0, **extra) -> dict:
    colour = extra.pop("colour", PALETTE[i % len(PALETTE)])
    return {"label": label, "data": data, "backgroundColor": colour, "borderColor": colour, **extra}


def bar(labels: list, datasets: list[dict], *, stacked: bool = False, horizontal: bool = False,
        y_title: str = "", x_title: str = "", every_label: bool = False) -> dict:
    """A bar chart; `horizontal`: bars along x, one row per label (the page makes the chart tall enough
    for every row); `every_label`: name every bar on its axis (Chart.js otherwise skips labels that
    would touch)."""
    scales: dict[str, dict] = {"x": {"stacked": stacked, "title": {"display": bool(x_title), "text": x_title}},
                               "y": {"stacked": stacked, "title": {"display": bool(y_title), "text": y_title}}}
    index, value = ("y", "x") if horizontal else ("x", "y")
    scales[value]["beginAtZero"] = True
    if every_label:
        scales[index]["ticks"] = {"autoSkip": False}
    options: dict[str, object] = {"scales": scales}
    if horizontal:
        options["indexAxis"] = "y"
    return {"type": "bar", "data": {"labels": labels, "datasets": datasets}, "options": options}


def nice_max(values: list, headroom: float = 0.15) -> float:
    """An axis maximum above every value with some room over the largest: 1, 2, 2.5 or 5 times a power
    of ten (40 -> 50, 3.2 -> 5, 0.05 -> 0.1); 1 when there is no positive value."""
    top = max((float(v) for v in values if v is not None), default=0.0) * (1 + headroom)
    if top <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(top))
    return next(round(step * power, 10) for step in (1, 2, 2.5, 5, 10) if step * power >= top)


def line(labels: list | None, datasets: list[dict], *, y_title: str = "", x_title: str = "", linear_x: bool = False,
         y_max: float | None = None) -> dict:
    x: dict[str, object] = {"title": {"display": bool(x_title), "text": x_title}}
    if linear_x:
        x["type"] = "linear"
    y: dict[str, object] = {"beginAtZero": True, "title": {"display": bool(y_title), "text": y_title}}
    if y_max is not None:
        y["max"] = y_max
    data = {"datasets": datasets}
    if labels is not None:
        data["labels"] = labels
    for d in datasets:
        d.setdefault("fill", False)
        d.setdefault("tension", 0.15)
    return {"type": "line", "data": data, "options": {"scales": {"x": x, "y": y}}}


def doughnut(labels: list, values: list, colours: list | None = None) -> dict:
    colours = colours or [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    return {"type": "doughnut", "data": {"labels": labels, "datasets": [{"label": "frames", "data": values,
                                                                          "backgroundColor": colours}]},
            "options": {}}


def to_csv(t: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(t["columns"])
    for row in t["rows"]:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def has_data(t: dict) -> bool:
    return any(len(d.get("data", [])) for d in t["chart"]["data"]["datasets"])
