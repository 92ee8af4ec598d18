"""Dashboard charts as drawn by Chart.js in a real browser: every keypoint named on the error chart, the
median seconds inside an axis scaled to them, and no request of the page answered 404 (the favicon)."""

from __future__ import annotations

import datetime

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot
from tests.e2e.test_dashboards import chart_states

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

SCALES = """name => {
    const chart = Chart.getChart(document.querySelector(`.chart-card[data-chart=${name}] canvas`));
    const scales = Object.fromEntries(Object.entries(chart.scales).map(([k, s]) =>
        [k, {min: s.min, max: s.max, labels: s.ticks.map(t => t.label)}]));
    const points = chart.data.datasets.map((d, i) => chart.getDatasetMeta(i).data.map(e => e.y));
    // The colour drawn at each point of the last dataset: whether it is on top, not hidden under a bar.
    const ratio = chart.canvas.width / chart.canvas.getBoundingClientRect().width;
    const context = chart.canvas.getContext('2d');
    const last = chart.getDatasetMeta(chart.data.datasets.length - 1).data;
    const colours = last.map(e => Array.from(context.getImageData(Math.round(e.x * ratio),
                                                                   Math.round(e.y * ratio), 1, 1).data));
    return {scales, points, colours, top: chart.chartArea.top, bottom: chart.chartArea.bottom,
            height: chart.canvas.parentElement.getBoundingClientRect().height};
}"""


@pytest.fixture
def measured(imported, users):
    """Three saves by the annotator 20 s and 60 s apart, and a keypoint model with an error per point."""
    from annotations.models import Annotation, ModelStatus, ModelVersion, Revision
    from annotations.review import editing

    for ann in Annotation.objects.filter(project=imported).order_by("id")[:3]:
        kp = list(ann.keypoints)
        kp[0] += 3
        editing.save_edit(ann.pk, users["annotator"], {"keypoints": kp}, ann.version)
    start = datetime.datetime(2025, 1, 6, 9, tzinfo=datetime.UTC)
    for at, rev in zip((0, 20, 80), Revision.objects.filter(project=imported, kind="edit").order_by("id")):
        Revision.objects.filter(pk=rev.pk).update(created_at=start + datetime.timedelta(seconds=at))
    names = imported.skeleton["keypoints"]
    ModelVersion.objects.create(project=imported, kind="keypoints", number=1, status=ModelStatus.READY,
                                is_active=True, metrics={"keypoints": {"per_keypoint_mean_error": {
                                    k: 5.0 + i for i, k in enumerate(names)}}})
    return imported


def test_every_keypoint_is_named_and_the_median_sits_inside_its_axis(measured, users, new_page):
    page = new_page((1400, 1000))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    login(page, "pi", "pw-pi")

    page.goto("/p/demo/dashboards/models/")
    assert chart_states(page)["keypoint_errors"]["state"] == "ready"
    errors = page.evaluate(SCALES, "keypoint_errors")
    names = measured.skeleton["keypoints"]
    assert errors["scales"]["y"]["labels"] == names  # all 24, none skipped
    assert errors["height"] >= 24 * 18  # a row per keypoint
    screenshot(page, "dashboard-keypoint-errors")

    page.goto("/p/demo/dashboards/dataset/")
    assert chart_states(page)["annotator_throughput"]["state"] == "ready"
    throughput = page.evaluate(SCALES, "annotator_throughput")
    seconds = throughput["scales"]["y1"]
    assert seconds["min"] == 0 and seconds["max"] == 50  # 0-50 s for a median of 40 s
    (dot,) = throughput["points"][1]
    assert throughput["top"] + 20 < dot < throughput["bottom"]  # inside the plot, not pinned to its top
    assert throughput["colours"] == [[0xFF, 0x7F, 0x0E, 255]]  # the median's marker is drawn over the bar
    screenshot(page, "dashboard-throughput")

    assert not failed, failed  # the browser's /favicon.ico included
    icon = page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
