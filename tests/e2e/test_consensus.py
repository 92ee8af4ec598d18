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


def moved_on(page, frame_id: int) -> None:
    """Wait until a queue's submit or accept has opened the next frame (or said the queue is finished)."""
    page.wait_for_function(f"() => window.poseEditor.state.frameId !== {frame_id}"
                           " || document.querySelector('#notice').textContent.includes('Nothing left')")


def test_a_pi_asks_three_people_about_a_clip_and_a_reviewer_resolves_their_disagreement_in_the_editor(
        imported, users, new_page, django_user_model):
    """The PI asks for three independent annotations of every frame of a clip; three annotators label its
    first frame from the queue (the third drags the left wrist away and picks the other form label); the
    reviewer gets the frame in review, sees the three people side by side in the editor with the wrist
    orange, takes the third person's wrist and label, and accepts. The dashboard's consensus chart has data."""
    from annotations.models import Annotation, ConsensusFrame, ConsensusVote, Frame, Membership, Role
    from tests.e2e.test_dashboards import chart_states
    from tests.e2e.test_editor import drag, point, start_queue, wait_ready
    from tests.e2e.test_editor_labelling import predict

    left_wrist = imported.skeleton["keypoints"].index("left_wrist")
    for name in ("annotator2", "annotator3"):
        user = django_user_model.objects.create_user(name, password="pw-" + name)
        Membership.objects.create(project=imported, user=user, role=Role.ANNOTATOR)
    clip = min((c for c in imported.clips.all() if c.frames.exclude(source_path="").exists()),
               key=lambda c: c.frames.count())
    frames = list(Frame.objects.filter(clip=clip).order_by("frame_index", "id"))
    first = frames[0]
    predict(first)  # the model's pose: each person's working copy to correct

    pi = new_page((1400, 1000))
    login(pi, "pi", "pw-pi")
    pi.goto("/p/demo/consensus/")
    pi.fill("#consensus-require-form input[name=clip]", clip.key)
    pi.fill("#consensus-require-form input[name=people]", "3")
    pi.click("#consensus-require-form button")
    pi.wait_for_selector(".msg >> text=need independent annotations")
    assert ConsensusFrame.objects.filter(frame__clip=clip, required=3).count() == len(frames)

    for name, label, dx in (("annotator", "correct", 0), ("annotator2", "correct", 0),
                            ("annotator3", "lumbar_error", 200)):
        page = new_page((1400, 1000))
        login(page, name, "pw-" + name)
        start_queue(page, "uncertain")
        wait_ready(page)
        assert page.evaluate("() => window.poseEditor.state.frameId") == first.pk
        assert page.evaluate("() => window.poseEditor.state.data.annotation") is None  # blind
        if dx:
            drag(page, left_wrist, dx, dx * 0.75)  # far enough that the pairs with it score about 0
        page.click(f"#form-labels button[data-label={label}]")
        page.keyboard.press("Shift+C")  # confirm every point
        page.keyboard.press("Control+Enter")  # submit & next
        moved_on(page, first.pk)
        page.close()
    cf = ConsensusFrame.objects.get(frame=first)
    assert cf.status == "disputed" and left_wrist in cf.disagreeing
    theirs = ConsensusVote.objects.get(consensus=cf, user__username="annotator3").keypoints
    assert Annotation.objects.get(frame=first).keypoints[3 * left_wrist] != pytest.approx(theirs[3 * left_wrist])

    reviewer = new_page((1400, 1000))
    login(reviewer, "reviewer", "pw-reviewer")
    start_queue(reviewer, "review")
    wait_ready(reviewer)
    assert reviewer.evaluate("() => window.poseEditor.state.frameId") == first.pk
    reviewer.wait_for_selector("#disagreement:not([hidden])")
    assert reviewer.locator("#disagreement-people figure").count() == 3
    assert "left_wrist" in reviewer.locator("#disagreement-summary").inner_text()
    wrist = "circle.disagree[data-keypoint=left_wrist]"
    assert reviewer.locator(f"#disagreement-people figure[data-who=annotator3] {wrist}").count() == 1
    assert reviewer.locator("#disagreement-people circle.disagree").count() == 3  # the wrist, once a person
    screenshot(reviewer, "consensus-editor-disagreement")
    reviewer.click(".take-person[data-who=annotator3]")
    taken = point(reviewer, left_wrist)
    assert (taken["x"], taken["y"]) == (pytest.approx(theirs[3 * left_wrist], abs=0.01),
                                        pytest.approx(theirs[3 * left_wrist + 1], abs=0.01))
    reviewer.click("#btn-submit")  # "Accept & next" in the review queue
    moved_on(reviewer, first.pk)
    resolved = Annotation.objects.select_related("form_label").get(frame=first)
    assert Frame.objects.get(pk=first.pk).status == "accepted"
    assert resolved.keypoints[3 * left_wrist] == pytest.approx(theirs[3 * left_wrist], abs=0.01)
    assert resolved.form_label.name == "lumbar_error"

    pi.goto("/p/demo/dashboards/dataset/")
    states = chart_states(pi)
    assert states["consensus_agreement"]["state"] == "ready" and states["consensus_agreement"]["drawn"] > 0
    assert states["consensus_keypoints"]["state"] == "ready" and states["consensus_keypoints"]["drawn"] > 0
