"""Fast labelling in a real browser: one click per point down the body, the model's prediction as the
working copy, points that `v` never removes, Delete with undo, Fit showing every point, and the
editor's look at 1280x720 and 1440x900 (screenshots in artifacts/screenshots/)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot
from tests.e2e.test_editor import open_editor, point, wait_ready

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

NOSE, LEFT_EYE, RIGHT_EYE, LEFT_SHOULDER, NECK = 0, 1, 2, 5, 17


def unannotated_frame(project):
    from annotations.models import Frame

    return (Frame.objects.filter(project=project, annotations__isnull=True).exclude(source_path="")
            .order_by("id").first())


def predict(frame, wrong=()):
    """A prediction on `frame`: a pose from the project's first annotation, the points in `wrong` shifted 40 px."""
    from annotations.models import Annotation, ModelVersion, Prediction

    ann = Annotation.objects.filter(project=frame.project).order_by("frame_id").first()
    version = ModelVersion.objects.create(project=frame.project, kind="keypoints", number=1, status="ready",
                                          is_active=True)
    kp = [[ann.keypoints[3 * i] + (40 if i in wrong else 0), ann.keypoints[3 * i + 1], 0.9 if i < 17 else 0.0]
          for i in range(24)]
    return Prediction.objects.create(project=frame.project, frame=frame, model_version=version, keypoints=kp,
                                     bbox=ann.bbox, heuristic_keypoints=list(range(17, 24)))


def selected(page) -> int:
    return page.evaluate("() => window.poseEditor.state.selected")


def click_image(page, fx: float, fy: float) -> None:
    box = page.locator("#frame-image").bounding_box()
    page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def test_each_click_places_a_point_and_selects_the_next_one_down_the_body(imported, users, new_page):
    from annotations.models import Annotation

    frame = unannotated_frame(imported)
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{frame.pk}/edit/")
    assert selected(page) == NOSE
    for n, (fx, fy) in enumerate([(0.5, 0.2), (0.55, 0.15), (0.45, 0.15)]):
        click_image(page, fx, fy)
        assert point(page, n)["v"] == 2
    assert [point(page, i)["state"] for i in (NOSE, LEFT_EYE, RIGHT_EYE)] == ["verified"] * 3
    assert selected(page) == 3  # left ear: the next unplaced point, no list click in between
    page.keyboard.press("Tab")
    assert selected(page) == 4
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert selected(page) == RIGHT_EYE
    page.keyboard.press("Escape")  # nothing selected: a click on a placed point selects it
    page.keyboard.press("s")
    page.wait_for_function("() => window.poseEditor.state.doc.version === 1")
    assert Annotation.objects.get(frame=frame).num_keypoints == 3

    # The rest from the project's template, fitted to a box the person drags.
    page.keyboard.press("t")
    box = page.locator("#frame-image").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.9, steps=6)
    page.mouse.up()
    pts = page.evaluate("() => window.poseEditor.state.pose.points.map(p => ({...p}))")
    assert all(p["v"] == 2 for p in pts)
    assert pts[NOSE]["state"] == "verified" and pts[NECK]["state"] == "unverified"
    assert frame.width * 0.3 - 1 <= pts[NECK]["x"] <= frame.width * 0.7 + 1
    assert pts[NOSE]["y"] < pts[NECK]["y"]
    screenshot(page, "editor-template-dropped")


def test_the_prediction_is_the_working_copy_and_accept_move_submit_is_the_loop(imported, users, new_page):
    from annotations.models import Annotation

    frame = unannotated_frame(imported)
    pred = predict(frame, wrong=(LEFT_SHOULDER,))
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{frame.pk}/edit/")
    pts = page.evaluate("() => window.poseEditor.state.pose.points.map(p => ({...p}))")
    assert [p["state"] for p in pts[:17]] == ["predicted"] * 17
    assert [p["state"] for p in pts[17:]] == ["heuristic"] * 7
    assert pts[LEFT_SHOULDER]["x"] == pytest.approx(pred.keypoints[LEFT_SHOULDER][0], abs=0.01)
    assert page.locator("#kp-summary").inner_text().startswith("24 of 24 placed")
    assert page.locator("#ghost-layer rect").count() == 24  # the model's points, drawn as solid squares
    assert not Annotation.objects.filter(frame=frame).exists()  # looking saves nothing
    screenshot(page, "editor-prediction-working-copy")

    before = pts[LEFT_SHOULDER]
    sbox = page.locator(f"circle.kp[data-i='{LEFT_SHOULDER}']").bounding_box()
    x, y = sbox["x"] + sbox["width"] / 2, sbox["y"] + sbox["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 30, y, steps=6)
    page.mouse.up()
    moved = point(page, LEFT_SHOULDER)
    assert moved["state"] == "verified" and moved["x"] < before["x"]
    page.keyboard.press("Shift+C")  # confirm the rest
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelector('#notice').textContent.includes('submitted')")
    stored = Annotation.objects.get(frame=frame)
    assert stored.keypoint_states == ["verified"] * 24
    assert stored.keypoints[3 * LEFT_SHOULDER] == pytest.approx(moved["x"], abs=0.01)
    assert stored.frame.status == "submitted"


def test_v_never_unplaces_a_point_and_delete_is_undone_by_ctrl_z(imported, users, new_page):
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{ann.frame_id}/edit/")
    page.click(f"#kp-list li[data-i='{LEFT_SHOULDER}']")
    start = point(page, LEFT_SHOULDER)
    seen = []
    for _ in range(5):
        page.keyboard.press("v")
        seen.append(point(page, LEFT_SHOULDER)["v"])
    assert 0 not in seen and set(seen) == {1, 2}
    page.keyboard.press("Delete")
    assert point(page, LEFT_SHOULDER)["v"] == 0
    page.keyboard.press("Control+z")
    back = point(page, LEFT_SHOULDER)
    assert back["v"] == seen[-1] and (back["x"], back["y"]) == (start["x"], start["y"])


def test_fit_shows_a_point_outside_the_image_and_the_frame_clear_of_the_zoom_bar(imported, users, new_page):
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    kp = list(ann.keypoints)
    kp[3 * NOSE:3 * NOSE + 3] = [-0.4 * ann.frame.width, ann.frame.height * 1.2, 2]
    Annotation.objects.filter(pk=ann.pk).update(keypoints=kp)
    page = new_page(viewport=(1280, 720))
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{ann.frame_id}/edit/")
    for _ in range(4):
        page.keyboard.press("+")
    page.click("#btn-fit")
    page.wait_for_timeout(100)
    stage = page.locator("#stage").bounding_box()
    tools = page.locator(".stage-tools").bounding_box()
    nose = page.locator(f"circle.kp[data-i='{NOSE}']").bounding_box()
    image = page.locator("#frame-image").bounding_box()
    assert stage["x"] <= nose["x"] and nose["y"] + nose["height"] <= tools["y"]
    assert image["y"] + image["height"] <= tools["y"] and image["x"] >= stage["x"]
    assert nose["x"] < image["x"]  # left of the image, and still in view


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_the_editor_fits_the_window_on_one_toolbar_row(imported, users, new_page, size):
    from annotations.review.queues import refresh_builtin_queues

    refresh_builtin_queues(imported, seed=1)
    frame = unannotated_frame(imported)
    predict(frame, wrong=(LEFT_SHOULDER,))
    page = new_page(viewport=size)
    login(page, "reviewer", "pw-reviewer")
    page.goto("/p/demo/")
    page.click("#start-unverified_spine")
    wait_ready(page)
    bar = page.locator(".ed-bar")
    tops = [b.bounding_box()["y"] for b in bar.locator("button:visible").all()]
    assert max(tops) - min(tops) < 5, "the toolbar wrapped"
    last = bar.locator("button:visible").last.bounding_box()
    assert last["x"] + last["width"] <= size[0]
    assert page.evaluate("() => document.documentElement.scrollHeight") <= size[1]
    colour = page.locator("#btn-confirm-all").evaluate("b => getComputedStyle(b).color")
    assert colour not in ("rgb(255, 255, 255)",)
    image = page.locator("#frame-image").bounding_box()
    tools = page.locator(".stage-tools").bounding_box()
    assert image["y"] + image["height"] <= tools["y"]
    assert not page.locator("#toggle-onion").is_checked()
    screenshot(page, f"editor-{size[0]}x{size[1]}")
    page.goto(f"/p/demo/frames/{frame.pk}/edit/")
    wait_ready(page)
    screenshot(page, f"editor-prediction-{size[0]}x{size[1]}")
    page.keyboard.press("?")
    page.wait_for_selector("#help[open]")
    assert page.locator("#help").evaluate("d => d.scrollTop") == 0
    screenshot(page, f"editor-help-{size[0]}x{size[1]}")


def test_overlapping_points_are_reached_by_clicking_again_and_the_selected_one_is_dragged(imported, users, new_page):
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    kp = list(ann.keypoints)
    kp[3 * NECK:3 * NECK + 3] = [kp[3 * LEFT_SHOULDER] + 1, kp[3 * LEFT_SHOULDER + 1] + 1, 2]  # on the shoulder
    Annotation.objects.filter(pk=ann.pk).update(keypoints=kp)
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{ann.frame_id}/edit/")
    page.keyboard.press("Escape")
    box = page.locator(f"circle.kp[data-i='{LEFT_SHOULDER}']").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    picks = []
    for _ in range(3):
        page.mouse.click(x + 2, y)  # near both, a little off: the nearest first, then the other, then back
        picks.append(selected(page))
    assert sorted(picks[:2]) == sorted([LEFT_SHOULDER, NECK]) and picks[2] == picks[0]
    page.mouse.click(x + 2, y)  # now the second one is selected: a drag moves it, not the nearest
    chosen = selected(page)
    other = NECK if chosen == LEFT_SHOULDER else LEFT_SHOULDER
    still = point(page, other)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 20, steps=6)
    page.mouse.up()
    assert point(page, chosen)["x"] > still["x"] + 10
    assert point(page, other) == still
