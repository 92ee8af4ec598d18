"""Dashboard charts people can read: every keypoint named on the error chart, and the median seconds
on an axis scaled to them (not Chart.js's 0-1 default, not a top tick equal to the largest median)."""

import datetime

import pytest

from annotations.dashboards.charts import nice_max
from annotations.dashboards.dataset_board import annotator_throughput
from annotations.dashboards.models_board import keypoint_errors
from annotations.models import Annotation, ModelStatus, ModelVersion, Revision
from annotations.review import editing

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def test_an_axis_maximum_leaves_room_over_the_largest_value():
    assert nice_max([12.0, 40.0, None]) == 50
    assert nice_max([3.2]) == 5
    assert nice_max([0.05]) == 0.1
    assert nice_max([1.0]) == 2
    assert nice_max([100.0]) == 200  # 115 -> the next nice step
    assert nice_max([]) == nice_max([None]) == nice_max([0.0]) == 1
    for values in ([7.3], [0.4, 0.9], [86.0], [999.0]):
        assert nice_max(values) > max(values) * 1.1


def test_the_keypoint_error_chart_names_every_keypoint_of_the_skeleton(project):
    names = list(project.skeleton["keypoints"])
    for n in (1, 2):
        ModelVersion.objects.create(project=project, kind="keypoints", number=n, status=ModelStatus.READY,
                                    is_active=n == 2, metrics={"keypoints": {"per_keypoint_mean_error": {
                                        k: 5.0 + i / n for i, k in enumerate(names)}}})
    chart = keypoint_errors(project)["chart"]
    assert chart["data"]["labels"] == names and len(names) == 24
    options = chart["options"]
    # One row per keypoint, read along the left side, none skipped (the page sizes the box for them).
    assert options["indexAxis"] == "y"
    assert options["scales"]["y"]["ticks"]["autoSkip"] is False
    assert options["scales"]["x"]["title"]["text"] == "pixels" and options["scales"]["x"]["beginAtZero"]
    assert [len(d["data"]) for d in chart["data"]["datasets"]] == [24, 24]


def test_the_median_seconds_axis_is_scaled_to_the_medians(imported, users):
    anns = list(Annotation.objects.filter(project=imported).order_by("id")[:3])
    for ann in anns:
        kp = list(ann.keypoints)
        kp[0] += 3
        editing.save_edit(ann.pk, users["annotator"], {"keypoints": kp}, ann.version)
    start = datetime.datetime(2025, 1, 6, 9, tzinfo=datetime.UTC)
    for at, rev in zip((0, 20, 80), Revision.objects.filter(project=imported, kind="edit").order_by("id")):
        Revision.objects.filter(pk=rev.pk).update(created_at=start + datetime.timedelta(seconds=at))

    table = annotator_throughput(imported)
    assert table["rows"][0][:4] == ["annotator", 3, 3, 40.0]  # gaps of 20 s and 60 s
    chart = table["chart"]
    medians = chart["data"]["datasets"][1]
    assert medians["yAxisID"] == "y1" and medians["data"] == [40.0] and medians["showLine"] is False
    axis = chart["options"]["scales"]["y1"]
    assert axis["type"] == "linear" and axis["min"] == 0 and axis["max"] == 50
    assert "seconds" in axis["title"]["text"]
