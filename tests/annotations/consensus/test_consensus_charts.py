"""The dataset dashboard's consensus charts: agreement over time (mean pairwise OKS and Krippendorff's alpha
of the labels, per day or week) and per keypoint, as JSON and CSV, against hand-computed values."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from tests.annotations.consensus.test_consensus import claim, template, vote
from tests.conftest import api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

BASE = "/api/projects/demo"
CHARTS = f"{BASE}/dashboards/dataset"
DAY = datetime.datetime(2025, 3, 3, 10, tzinfo=datetime.UTC)  # a Monday


@pytest.fixture
def finished(imported, users):
    """Three annotated frames each labelled blind by the annotator and the reviewer: A agreed (both
    "correct"), B disputed (60 px apart, "correct" against "lumbar_error"), C agreed (both "lumbar_error").
    Returns the ConsensusFrames {"A", "B", "C"}."""
    from annotations.models import Annotation, ConsensusFrame

    frames = list(Annotation.objects.filter(project=imported).order_by("frame_id")
                  .values_list("frame_id", flat=True)[:3])
    pi, annotator, reviewer = (api_client(users[n]) for n in ("pi", "annotator", "reviewer"))
    plan = {"A": (("correct", 0), ("correct", 1)), "B": (("correct", 0), ("lumbar_error", 60)),
            "C": (("lumbar_error", 0), ("lumbar_error", 1))}
    out = {}
    for frame_id, (name, votes) in zip(frames, plan.items()):
        assert pi.post(f"{BASE}/consensus/frames/", {"frames": [frame_id], "people": 2},
                       format="json").json()["required"] == [frame_id]
        for client, (label, dx) in zip((annotator, reviewer), votes):
            assert claim(client)["frame"] == frame_id
            vote(client, frame_id, template(imported, dx=dx), label)
        out[name] = ConsensusFrame.objects.get(frame_id=frame_id)
    assert [out[n].status for n in "ABC"] == ["agreed", "disputed", "agreed"]
    return out


def finish_on(cf, when):
    from annotations.models import ConsensusFrame

    ConsensusFrame.objects.filter(pk=cf.pk).update(completed_at=when)


def test_agreement_over_time_has_the_mean_oks_and_the_alpha_of_each_period(finished, users):
    client = api_client(users["pi"])
    for cf in finished.values():
        finish_on(cf, DAY)
    oks = {n: cf.mean_oks for n, cf in finished.items()}
    chart = client.get(f"{CHARTS}/consensus_agreement.json").json()
    assert chart["columns"] == ["period", "frames", "disputed", "mean_oks", "form_alpha"]
    # One day: labels (c, c), (c, l), (l, l): D_o = 2/6, D_e = 2 * 3 * 3 / (6 * 5), alpha = 1 - D_o / D_e = 4/9.
    assert chart["rows"] == [["2025-03-03", 3, 1, pytest.approx(sum(oks.values()) / 3, abs=1e-4),
                              pytest.approx(4 / 9, abs=1e-4)]]
    assert chart["chart"]["type"] == "line" and "3 consensus frames finished, 1 below the threshold" in chart["note"]
    # B a day later: the first day agrees fully (alpha 1), the second is one pair of different labels (alpha 0).
    finish_on(finished["B"], DAY + datetime.timedelta(days=1))
    chart = client.get(f"{CHARTS}/consensus_agreement.json").json()
    assert chart["rows"] == [["2025-03-03", 2, 0, pytest.approx((oks["A"] + oks["C"]) / 2, abs=1e-4), 1.0],
                             ["2025-03-04", 1, 1, oks["B"], 0.0]]
    lines = {d["label"]: d["data"] for d in chart["chart"]["data"]["datasets"]}
    assert lines["form-label alpha (Krippendorff)"] == [1.0, 0.0] and chart["chart"]["data"]["labels"] == [
        "2025-03-03", "2025-03-04"]
    # Over more than two weeks, per week (named by its Monday).
    finish_on(finished["B"], DAY + datetime.timedelta(days=23))
    weekly = client.get(f"{CHARTS}/consensus_agreement.json").json()
    assert [r[:3] for r in weekly["rows"]] == [["2025-03-03", 2, 0], ["2025-03-24", 1, 1]] and "per week" in weekly[
        "note"]
    rows = list(csv.reader(io.StringIO(client.get(f"{CHARTS}/consensus_agreement.csv").content.decode())))
    assert rows[0] == weekly["columns"] and rows[1][0] == "2025-03-03" and float(rows[2][4]) == 0.0
    assert api_client(users["reviewer"]).get(f"{CHARTS}/consensus_agreement.json").status_code == 403


def test_agreement_per_keypoint_is_the_mean_over_finished_frames(finished, users):
    import numpy as np

    client = api_client(users["pi"])
    chart = client.get(f"{CHARTS}/consensus_keypoints.json").json()
    names = finished["A"].project.skeleton["keypoints"]
    by_name = {r[0]: r for r in chart["rows"]}
    for k, name in enumerate(names):
        values = [cf.oks_per_keypoint[k] for cf in finished.values() if cf.oks_per_keypoint[k] is not None]
        if values:
            assert by_name[name][1:] == [len(values), pytest.approx(float(np.mean(values)), abs=1e-4)]
        else:
            assert name not in by_name
    assert chart["chart"]["type"] == "bar" and chart["chart"]["data"]["labels"] == [r[0] for r in chart["rows"]]
    # The points B's two people placed apart are the least agreed on.
    worst = min(chart["rows"], key=lambda r: r[2])[0]
    assert names.index(worst) in finished["B"].disagreeing
    rows = list(csv.reader(io.StringIO(client.get(f"{CHARTS}/consensus_keypoints.csv").content.decode())))
    assert rows[0] == ["keypoint", "frames", "mean_oks"] and len(rows) == len(chart["rows"]) + 1


def test_the_consensus_charts_say_why_they_are_empty(imported, users):
    client = api_client(users["pi"])
    for name in ("consensus_agreement", "consensus_keypoints"):
        chart = client.get(f"{CHARTS}/{name}.json").json()
        assert chart["rows"] == [] and "no consensus frame is finished yet" in chart["note"]
    index = client.get(f"{BASE}/dashboards/").json()
    assert {"consensus_agreement", "consensus_keypoints"} <= set(index["dataset"]["charts"])
