"""Per-annotator accuracy on gold frames: the REST figures and the dataset dashboard's chart (JSON and CSV)."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

BASE = "/api/projects/demo"


@pytest.fixture
def attempts(gold, users):
    """Three scored attempts on three gold frames: the annotator twice (exact, then 5 px off with the wrong
    label) a week apart, the reviewer once (exact)."""
    from annotations.gold import attempts as honeypots
    from annotations.gold import marking
    from annotations.gold.serving import claim_next
    from annotations.models import Annotation, GoldAttempt

    more = list(Annotation.objects.filter(project=gold.project).exclude(frame_id=gold.frame_id)
                .order_by("frame_id").values_list("frame_id", flat=True)[:2])
    marking.mark(gold.project, more, users["pi"])
    week = datetime.timedelta(days=7)
    start = datetime.datetime(2025, 3, 3, 10, tzinfo=datetime.UTC)
    plan = [("annotator", 0, "same", start), ("annotator", 5, "other", start + week),
            ("reviewer", 0, "same", start + week)]
    for name, shift, label, when in plan:
        item = claim_next(gold.project, "uncertain", users[name])
        attempt = GoldAttempt.objects.select_related("gold").get(frame_id=item.frame_id, user=users[name])
        kp = list(attempt.gold.keypoints)
        kp[0] += shift
        other = "lumbar_error" if attempt.gold.form_label == "correct" else "correct"
        honeypots.create_draft(attempt, users[name], {"keypoints": kp, "form_label": attempt.gold.form_label
                                                      if label == "same" else other})
        honeypots.submit(attempt, users[name])
        GoldAttempt.objects.filter(pk=attempt.pk).update(submitted_at=when)
    return GoldAttempt.objects.filter(status="scored")


def test_accuracy_per_annotator_comes_from_their_scored_attempts(attempts, users):
    body = api_client(users["reviewer"]).get(f"{BASE}/gold/accuracy/").json()
    people = {a["user"]: a for a in body["annotators"]}
    assert set(people) == {"annotator", "reviewer"}
    mine = list(attempts.filter(user=users["annotator"]).order_by("submitted_at"))
    assert people["annotator"]["attempts"] == 2 and mine[0].oks == 1.0 and mine[1].oks < 1.0
    assert people["annotator"]["mean_oks"] == pytest.approx((mine[0].oks + mine[1].oks) / 2, abs=1e-4)
    assert people["annotator"]["form_agreement"] == 0.5 and people["reviewer"]["form_agreement"] == 1.0
    assert people["annotator"]["median_pixel_error"] == pytest.approx(mine[1].pixel_error / 2, abs=0.01)
    assert body["unit"] == "day" and len(body["over_time"]) == 3
    only = api_client(users["pi"]).get(f"{BASE}/gold/accuracy/?user=reviewer").json()
    assert [a["user"] for a in only["annotators"]] == ["reviewer"]
    listed = api_client(users["reviewer"]).get(f"{BASE}/gold/attempts/?user=annotator").json()
    assert listed["count"] == 2 and set(listed["results"][0]["oks_per_keypoint"]) == set(
        attempts[0].project.skeleton["keypoints"])


def test_the_dashboard_chart_draws_each_persons_mean_oks_over_time_with_csv(attempts, users):
    client = api_client(users["pi"])
    chart = client.get(f"{BASE}/dashboards/dataset/gold_accuracy.json").json()
    assert chart["chart"]["type"] == "line" and chart["chart"]["data"]["labels"] == ["2025-03-03", "2025-03-10"]
    lines = {d["label"]: d["data"] for d in chart["chart"]["data"]["datasets"]}
    mine = [a.oks for a in attempts.filter(user=users["annotator"]).order_by("submitted_at")]
    assert lines == {"annotator": mine, "reviewer": [None, 1.0]}
    rows = list(csv.reader(io.StringIO(client.get(f"{BASE}/dashboards/dataset/gold_accuracy.csv").content.decode())))
    assert rows[0] == chart["columns"] and len(rows) == 4
    assert "3 honeypots scored for 2 people, per day" in chart["note"]
    # Over more than two weeks the points are weekly, each week named by its Monday.
    later = datetime.datetime(2025, 3, 26, 15, tzinfo=datetime.UTC)  # a Wednesday
    attempts.filter(user=users["reviewer"]).update(submitted_at=later)
    weekly = client.get(f"{BASE}/dashboards/dataset/gold_accuracy.json").json()
    assert weekly["chart"]["data"]["labels"] == ["2025-03-03", "2025-03-10", "2025-03-24"]
    assert "per week" in weekly["note"]
    assert api_client(users["reviewer"]).get(f"{BASE}/dashboards/dataset/gold_accuracy.json").status_code == 403
