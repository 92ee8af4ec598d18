"""Honeypots in a real browser: an annotator working the uncertain queue meets a gold frame that looks like
any pool frame, corrects the model's prediction on it and submits; their result is scored against the gold,
the frame's annotation stays as it was, and the PI's dataset dashboard draws their accuracy."""

from __future__ import annotations

import math
import re

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot
from tests.e2e.test_dashboards import chart_states
from tests.e2e.test_editor import start_queue
from tests.e2e.test_editor_labelling import LEFT_SHOULDER, predict

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]


@pytest.fixture
def honeypot(imported, users):
    """The project's first annotated frame marked gold by the PI, a prediction on it with the left shoulder
    40 px off, ten pool frames in the uncertain queue and every claim serving a honeypot."""
    from annotations.gold import marking
    from annotations.models import Annotation, Frame
    from annotations.review.queues import set_priorities

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    marking.mark(imported, [ann.frame_id], users["pi"])
    predict(ann.frame, wrong=(LEFT_SHOULDER,))
    pool = list(Frame.objects.filter(project=imported, annotations__isnull=True).exclude(source_path="")
                .order_by("id").values_list("id", flat=True)[:10])
    set_priorities(imported, "uncertain", {f: 10 - i for i, f in enumerate(pool)})
    marking.set_rate(imported, 1)
    return ann


def test_a_honeypot_is_worked_blind_scored_and_drawn_on_the_dashboard(honeypot, users, new_page):
    from annotations.models import Annotation, GoldAttempt

    before = (honeypot.keypoints, honeypot.keypoint_states, honeypot.version, honeypot.updated_at)
    page = new_page()
    login(page, "annotator", "pw-annotator")
    start_queue(page, "uncertain")
    assert int(page.locator("#editor").get_attribute("data-frame")) == honeypot.frame_id
    assert page.locator("#ed-status").inner_text() == "unlabelled"
    assert "gold" not in page.content().lower()
    states = page.evaluate("() => window.poseEditor.state.pose.points.map(p => p.state)")
    assert states[:17] == ["predicted"] * 17  # the prediction as the working copy, as on any pool frame
    screenshot(page, "gold-honeypot-editor")

    page.keyboard.press("Shift+C")  # accept the prediction as it is, the wrong shoulder included
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: f"/frames/{honeypot.frame_id}/" not in url)
    assert re.search(r"/frames/\d+/edit/\?queue=uncertain", page.url)

    attempt = GoldAttempt.objects.get(user=users["annotator"])
    assert attempt.status == "scored" and 0 < attempt.oks < 1
    sigma, area = honeypot.project.skeleton["sigmas"][LEFT_SHOULDER], attempt.gold.area
    shoulder = math.exp(-40**2 / (2 * area * (2 * sigma) ** 2))  # COCO's OKS for the 40 px the prediction is off
    assert attempt.oks_per_keypoint[LEFT_SHOULDER] == pytest.approx(shoulder, abs=0.01)
    assert attempt.oks_per_keypoint[0] > 0.99 and shoulder < 0.99
    assert attempt.pixel_error > 0 and attempt.form_agreement is not None
    stored = Annotation.objects.get(pk=honeypot.pk)
    assert (stored.keypoints, stored.keypoint_states, stored.version, stored.updated_at) == before

    pi = new_page((1400, 1000))
    login(pi, "pi", "pw-pi")
    pi.goto("/p/demo/dashboards/dataset/")
    state = chart_states(pi)["gold_accuracy"]
    assert state["state"] == "ready" and state["drawn"] == state["points"] == 1
    pi.locator(".chart-card[data-chart=gold_accuracy]").scroll_into_view_if_needed()
    screenshot(pi, "dashboard-gold-accuracy")
    pi.goto("/p/demo/gold/")
    row = pi.locator("#gold-accuracy tr[data-user=annotator]")
    assert row.locator(".gold-oks").inner_text() == f"{attempt.oks}"
