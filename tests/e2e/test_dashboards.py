"""The PI's dashboards and models page in a real browser, on the demo data after a real (tiny) retrain,
predict and score, a few edits and reviews, and a stored simulation of the loop. Every chart must
draw data; screenshots go to artifacts/screenshots/ (dashboard-*.png, models-page.png)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from tests.annotations.consensus.helpers import finish_consensus
from tests.annotations.gold.helpers import submit_honeypot
from tests.e2e.conftest import login, needs_browser, screenshot

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

TINY_KEYPOINTS = {"backbone": "scratch", "epochs": 2, "width": 8, "hidden": 32, "input_size": [32, 48],
                  "batch_size": 32}
SIM = ["--rounds", "3", "--batch", "8", "--seed-frames", "6", "--keypoint-epochs", "1", "--keypoint-steps", "4",
       "--input-size", "32x48", "--width", "8", "--form-epochs", "10", "--backbone", "scratch"]


def run(project, kind, user, **params):
    from annotations.core.jobs import run_job
    from annotations.models import Job

    job = Job.objects.create(project=project, kind=kind, params=params, created_by=user)
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", (job.message, job.traceback)
    return job


@pytest.fixture
def lively(imported, users, capsys):
    """Demo data with a trained model, predictions, scored queues, edits by two people and simulations."""
    from annotations.models import Annotation, Frame
    from annotations.review import decisions as review
    from annotations.review import editing

    run(imported, "retrain", users["pi"], keypoint_config=TINY_KEYPOINTS, form_config={"epochs": 15}, chain=False)
    run(imported, "predict", users["pi"], clips=["52723_8", "52916_12", "52930_2", "53055_1"], then_score=False)
    run(imported, "score", users["pi"])
    anns = list(Annotation.objects.filter(project=imported).order_by("id")[:4])
    for who in ("annotator", "reviewer"):
        for ann in anns[:3 if who == "annotator" else 1]:
            ann = Annotation.objects.get(pk=ann.pk)
            kp = list(ann.keypoints)
            kp[0] += 3
            editing.save_edit(ann.pk, users[who], {"keypoints": kp}, ann.version)
    review.submit(anns[1].frame, users["annotator"])
    review.decide(Frame.objects.get(pk=anns[1].frame_id), users["reviewer"], "accept")
    last = Annotation.objects.filter(project=imported).order_by("-frame_id").first()
    submit_honeypot(imported, last.frame_id, users["pi"], users["annotator"])  # the gold accuracy chart
    other = Annotation.objects.filter(project=imported).exclude(pk=last.pk).order_by("-frame_id").first()
    finish_consensus(imported, other.frame_id, [users["pi"], users["reviewer"]], [0, 60], users["pi"])  # consensus
    for strategy in ("uncertainty", "random"):
        call_command("simulate_active_learning", "demo", "--strategy", strategy, *SIM)
    capsys.readouterr()
    return imported


def chart_states(page) -> dict:
    page.wait_for_function("() => document.querySelectorAll('.chart-card[data-state=loading]').length === 0",
                           timeout=30_000)
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.chart-card')].map(card => {
        const canvas = card.querySelector('canvas');
        const chart = canvas && window.Chart ? Chart.getChart(canvas) : null;
        const values = chart ? chart.data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null).length, 0) : 0;
        return [card.dataset.chart, {state: card.dataset.state, points: Number(card.dataset.points || 0),
                                     drawn: values, width: canvas ? canvas.width : 0}];
    }))""")


def test_a_pi_sees_every_dashboard_draw_data_and_the_models_page_with_progress_and_cancel(lively, users, new_page):
    from annotations.dashboards.registry import boards
    from annotations.models import Job

    page = new_page((1400, 1000))
    login(page, "pi", "pw-pi")
    page.goto("/p/demo/")
    page.click("#dashboard-dataset-link")
    for board in ("dataset", "models", "queues"):
        if board != "dataset":
            page.click(f"#board-nav >> text={board.title()}")
        page.wait_for_url(f"**/p/demo/dashboards/{board}/")
        states = chart_states(page)
        assert set(states) == set(boards()[board])
        empty = {name: s for name, s in states.items() if s["state"] != "ready" or s["drawn"] == 0}
        assert not empty, f"charts without data on {board}: {json.dumps(empty)}"
        assert all(s["drawn"] == s["points"] > 0 and s["width"] > 0 for s in states.values())
        screenshot(page, f"dashboard-{board}")
        # Every chart's data can be downloaded as CSV from a link on the chart.
        href = page.locator(".chart-card >> text=CSV").first.get_attribute("href")
        response = page.request.get(href)
        assert response.status == 200 and response.headers["content-type"].startswith("text/csv")

    queued = Job.objects.create(project=lively, kind="retrain", params={}, created_by=users["pi"])
    page.click("#board-nav >> text=Models & retraining")
    page.wait_for_url("**/p/demo/models/")
    assert "keypoints v1" in page.locator("#active-keypoints").inner_text()
    row = page.locator("#model-table tr.active-model", has_text="keypoints v1")
    assert "OKS-AP" in row.inner_text() and "held-out clips" in row.inner_text()
    assert page.locator(f"#learning-job-table tr[data-job='{queued.pk}'] .job-status").inner_text() == "queued"
    screenshot(page, "models-page")
    page.locator(f"#learning-job-table tr[data-job='{queued.pk}'] .cancel-job").click()
    page.wait_for_selector(f"#learning-job-table tr[data-job='{queued.pk}'] .status-cancelled")
    queued.refresh_from_db()
    assert queued.status == "cancelled"


def test_reviewers_get_the_models_page_but_not_the_dashboards(imported, users, new_page):
    page = new_page()
    login(page, "reviewer", "pw-reviewer")
    assert page.goto("/p/demo/dashboards/dataset/").status == 403
    assert page.goto("/p/demo/models/").status == 200
    assert page.locator("#upload-form").count() == 0 and page.locator("#start-predict").count() == 1
