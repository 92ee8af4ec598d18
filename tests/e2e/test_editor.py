"""The keypoint editor in a real browser on the real barbell-row frames.

Log in, open a queue, drag a point, change a visibility, set a form label, save, reload and see it
stored; a second browser saving the same frame gets the 409 choice; the whole correct-and-submit
loop by keyboard alone; nothing is lost offline. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

NECK = 17  # coco17_spine: the first spine point, heuristic after the import
LEFT_SHOULDER = 5


@pytest.fixture
def queued(imported):
    from annotations.review.queues import refresh_builtin_queues

    refresh_builtin_queues(imported, seed=1)
    return imported


def open_editor(page, url: str) -> None:
    page.goto(url)
    wait_ready(page)


def wait_ready(page) -> None:
    page.wait_for_selector("#editor[data-ready='1']")
    page.wait_for_function("() => document.querySelector('#save-status').dataset.state !== 'loading'")


def wait_saved(page, version: int) -> None:
    page.wait_for_function(
        "v => window.poseEditor.state.doc.version === v && !window.poseEditor.saver.dirty()"
        " && document.querySelector('#save-status').dataset.state === 'saved'", arg=version)


def point(page, i: int) -> dict:
    return page.evaluate("i => ({...window.poseEditor.state.pose.points[i]})", i)


def drag(page, i: int, dx: float, dy: float) -> None:
    box = page.locator(f"circle.kp[data-i='{i}']").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


def start_queue(page, queue: str) -> None:
    page.goto("/p/demo/")
    page.click(f"#start-{queue}")
    page.wait_for_url(re.compile(rf"/frames/\d+/edit/\?queue={queue}"))
    wait_ready(page)


def test_an_annotator_corrects_a_frame_from_a_queue_and_it_is_stored(queued, users, new_page):
    from annotations.models import Annotation, FrameLease, Revision

    page = new_page()
    login(page, "annotator", "pw-annotator")
    start_queue(page, "unverified_spine")
    frame_id = int(page.locator("#editor").get_attribute("data-frame"))
    before = Annotation.objects.get(frame_id=frame_id)
    assert before.keypoint_states[NECK] == "heuristic"
    assert "unverified" in page.locator(f"circle.kp[data-i='{NECK}']").get_attribute("class")

    scale = page.evaluate("() => window.poseEditor.stage.view.s")
    drag(page, NECK, 40, 24)
    moved = point(page, NECK)
    assert moved["state"] == "verified"
    assert moved["x"] == pytest.approx(before.keypoints[3 * NECK] + 40 / scale, abs=1.0)
    assert "unverified" not in page.locator(f"circle.kp[data-i='{NECK}']").get_attribute("class")

    page.click(f"#kp-list li[data-i='{LEFT_SHOULDER}']")
    old_v = point(page, LEFT_SHOULDER)["v"]
    page.keyboard.press("v")
    assert point(page, LEFT_SHOULDER)["v"] == {2: 1, 1: 2}[old_v]
    page.click("button.form-label[data-label='lumbar_error']")
    page.click("#btn-save")
    wait_saved(page, before.version + 1)
    screenshot(page, "editor-after-correction")

    page.reload()
    wait_ready(page)
    assert point(page, NECK) == pytest.approx(moved, abs=0.01)
    assert point(page, LEFT_SHOULDER)["v"] == {2: 1, 1: 2}[old_v]
    assert page.locator("#form-labels").get_attribute("data-current") == "lumbar_error"
    stored = Annotation.objects.get(frame_id=frame_id)
    assert stored.version == before.version + 1
    assert stored.keypoints[3 * NECK] == pytest.approx(moved["x"], abs=0.01)
    assert stored.keypoint_states[NECK] == "verified"
    assert stored.form_label.name == "lumbar_error"
    assert Revision.objects.filter(frame_id=frame_id, kind="edit", user=users["annotator"]).count() == 1

    assert FrameLease.objects.filter(frame_id=frame_id, user=users["annotator"]).exists()
    page.click("#btn-release")  # give the frame back to the queue and leave
    page.wait_for_url(re.compile(r"/p/demo/$"))
    assert not FrameLease.objects.filter(frame_id=frame_id).exists()


def test_a_second_browser_saving_the_same_frame_gets_both_versions_to_choose_from(queued, users, new_page):
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=queued).order_by("frame_id").first()
    url = f"/p/demo/frames/{ann.frame_id}/edit/"
    first, second = new_page(), new_page()
    login(first, "annotator", "pw-annotator")
    login(second, "reviewer", "pw-reviewer")
    open_editor(first, url)
    open_editor(second, url)

    drag(first, NECK, 30, 0)
    first.keyboard.press("s")
    wait_saved(first, ann.version + 1)

    second.click(f"#kp-list li[data-i='{LEFT_SHOULDER}']")
    for _ in range(5):
        second.keyboard.press("ArrowLeft")
    mine = point(second, LEFT_SHOULDER)
    second.keyboard.press("s")
    second.wait_for_selector("#conflict[open]")
    assert second.locator("#save-status").get_attribute("data-state") == "conflict"
    rows = second.locator("#conflict-rows tr").all_inner_texts()
    assert any(r.startswith("neck") for r in rows) and any(r.startswith("left_shoulder") for r in rows)
    assert "annotator saved version" in second.locator("#conflict-who").inner_text()
    assert second.locator("#conflict-layer circle").count() > 0
    screenshot(second, "editor-conflict")

    second.keyboard.press("m")  # keep mine
    wait_saved(second, ann.version + 2)
    stored = Annotation.objects.get(pk=ann.pk)
    assert stored.updated_by == users["reviewer"]
    assert stored.keypoints[3 * LEFT_SHOULDER] == pytest.approx(mine["x"], abs=0.01)

    # Now the other way round: the first browser is behind, and takes the saved version.
    first.keyboard.press("Delete")  # the neck is still selected there
    first.keyboard.press("s")
    first.wait_for_selector("#conflict[open]")
    first.click("#take-theirs")
    wait_saved(first, ann.version + 2)
    assert point(first, LEFT_SHOULDER)["x"] == pytest.approx(mine["x"], abs=0.01)
    assert point(first, NECK)["v"] > 0
    assert first.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('posereview:draft:')).length") == 0


def test_the_whole_correct_and_submit_loop_works_by_keyboard_alone(queued, users, new_page):
    from annotations.models import Annotation, FrameTransition, QueueItem

    page = new_page()
    login(page, "annotator", "pw-annotator")
    page.goto("/p/demo/")
    for _ in range(40):  # reach the queue's start button by Tab
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "start-unverified_spine":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/edit/\?queue=unverified_spine"))
    wait_ready(page)
    page.evaluate("() => { window.__samePage = true; }")
    first = int(page.locator("#editor").get_attribute("data-frame"))
    assert page.evaluate("() => window.poseEditor.state.selected") == NECK  # the first point to check

    start = point(page, NECK)
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowDown")
    assert point(page, NECK)["x"] == pytest.approx(start["x"] + 10)
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+Shift+z")
    assert point(page, NECK)["y"] == pytest.approx(start["y"] + 1)
    page.keyboard.press("]")
    hip = point(page, NECK + 1)
    page.keyboard.press("v")  # hip: occluded <-> visible, never unlabelled
    assert point(page, NECK + 1)["v"] == {1: 2, 2: 1}[hip["v"]]
    page.keyboard.press("v")  # and back, where it was
    assert point(page, NECK + 1) == {**hip, "state": "verified"}
    page.keyboard.press("Shift+C")  # confirm the remaining heuristic points
    page.keyboard.press("2")
    unverified = "() => window.poseEditor.state.pose.points.filter(p => p.v > 0 && p.state !== 'verified').length"
    assert page.evaluate(unverified) == 0
    page.keyboard.press("?")
    assert page.locator("#help[open]").count() == 1
    screenshot(page, "editor-help")
    page.keyboard.press("?")

    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "f => window.poseEditor.state.frameId !== f && document.querySelector('#editor').dataset.frame != f", arg=first)
    wait_ready(page)
    assert page.evaluate("() => window.__samePage") is True  # no page load in between
    assert re.search(r"/frames/(\d+)/edit/\?queue=unverified_spine", page.url)

    stored = Annotation.objects.get(frame_id=first)
    assert all(s == "verified" for s, v in zip(stored.keypoint_states, stored.keypoints[2::3]) if v > 0)
    assert stored.form_label.name == "lumbar_error"
    assert stored.frame.status == "submitted"
    t = FrameTransition.objects.get(frame_id=first)
    assert (t.action, t.from_status, t.to_status, t.queue, t.user) == (
        "submit", "annotated", "submitted", "unverified_spine", users["annotator"])
    assert QueueItem.objects.get(frame_id=first, queue="unverified_spine").done_at is not None
    assert QueueItem.objects.get(frame_id=first, queue="review").done_at is None
    screenshot(page, "editor-next-queue-item")


def test_edits_made_offline_are_kept_in_the_browser_and_saved_on_the_next_visit(queued, users, new_page):
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=queued).order_by("-frame_id").first()
    url = f"/p/demo/frames/{ann.frame_id}/edit/"
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, url)
    page.context.set_offline(True)
    page.keyboard.press("1")
    page.keyboard.press("Shift+ArrowUp")
    page.keyboard.press("s")
    page.wait_for_selector("#save-status[data-state='offline']")
    draft = page.evaluate(f"() => JSON.parse(localStorage.getItem('posereview:draft:demo:{ann.frame_id}'))")
    assert draft["version"] == ann.version and draft["payload"]["form_label"] == "correct"
    page.close()  # the tab is gone, the network too
    assert Annotation.objects.get(pk=ann.pk).version == ann.version

    page = page.context.new_page()
    page.context.set_offline(False)
    open_editor(page, url)
    assert "Restored your unsaved changes" in page.locator("#notice").inner_text()
    wait_saved(page, ann.version + 1)
    stored = Annotation.objects.get(pk=ann.pk)
    assert stored.form_label.name == "correct"
    assert stored.keypoints[3 * NECK + 1] == pytest.approx(ann.keypoints[3 * NECK + 1] - 10, abs=0.01)


def test_an_unlabelled_frame_gets_points_placed_by_list_and_click(queued, users, new_page):
    from annotations.models import Annotation, Frame

    frame = (Frame.objects.filter(project=queued, annotations__isnull=True).exclude(source_path="")
             .order_by("id").first())
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{frame.pk}/edit/")
    assert page.locator("#save-status").inner_text().startswith("Not annotated yet")
    page.click("#kp-list li[data-i='0']")  # nose, not placed
    box = page.locator("#frame-image").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.25)
    nose = point(page, 0)
    assert nose["v"] == 2 and nose["state"] == "verified"
    assert nose["x"] == pytest.approx(frame.width * 0.5, abs=2)
    assert nose["y"] == pytest.approx(frame.height * 0.25, abs=2)
    page.keyboard.press("s")
    wait_saved(page, 1)
    ann = Annotation.objects.get(frame=frame)
    assert ann.keypoints[:2] == [pytest.approx(nose["x"], abs=0.01), pytest.approx(nose["y"], abs=0.01)]
    assert ann.num_keypoints == 1
    assert ann.bbox == [pytest.approx(nose["x"], abs=0.01), pytest.approx(nose["y"], abs=0.01), 0.0, 0.0]
    # The frame's import task knows its form label; the editor shows what the server filled in.
    assert ann.form_label.name == page.locator("#form-labels").get_attribute("data-current")
