"""A reviewer compares the people behind a disputed consensus in a real browser: each person's points
beside the consensus over the frame, the keypoints they disagree on drawn orange, reached from the
frame's history. Screenshot: artifacts/screenshots/consensus-compare.png."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]


@pytest.fixture
def disputed(imported, users):
    """The first annotated frame asked of two people who placed the left arm 80 px apart (the rest agrees, so
    the frame is in review for those three points)."""
    from annotations.consensus import voting
    from annotations.gold import attempts
    from annotations.gold.serving import claim_next
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    voting.require(imported, [ann.frame_id], 2, users["pi"])
    for name, dx in (("annotator", 0), ("reviewer", 80)):
        item = claim_next(imported, "uncertain", users[name])
        assert item.frame_id == ann.frame_id
        copy = attempts.open_attempt(item.frame, users[name])
        kp = list(ann.keypoints)
        for i in (5, 7, 9):  # left shoulder, elbow, wrist
            kp[3 * i] += dx
        attempts.create_draft(copy, users[name], {"keypoints": kp, "form_label": "correct"})
        attempts.submit(copy, users[name])
    assert ann.frame.consensus.status == "disputed"
    return ann.frame_id


def test_a_reviewer_sees_the_people_side_by_side_with_their_disagreement_marked(disputed, users, new_page):
    page = new_page((1400, 1000))
    login(page, "reviewer", "pw-reviewer")
    page.goto(f"/p/demo/frames/{disputed}/history/")
    page.click("#consensus-compare-link")
    page.wait_for_selector("#compare-panels")
    assert page.locator("#compare-panels figure").count() == 3
    assert page.locator("#compare-panels figure[data-who=reviewer] circle.changed").count() >= 3
    for name in ("left_shoulder", "left_elbow", "left_wrist"):
        assert page.locator(f"#compare-keypoints tr[data-keypoint={name}].disagree").count() == 1
    assert page.locator("#compare-keypoints tr[data-keypoint=nose].disagree").count() == 0
    sizes = page.evaluate("() => [...document.querySelectorAll('#compare-panels svg')]"
                          ".map(s => s.getBoundingClientRect().width)")
    assert all(w > 100 for w in sizes)
    screenshot(page, "consensus-compare")
