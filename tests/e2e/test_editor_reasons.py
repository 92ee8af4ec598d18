"""The editor's "Why this frame" box in a real browser: the queue item's signals in plain words, and the
spine sentence following the points a person confirms. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot
from tests.e2e.test_editor import NECK, start_queue, wait_saved

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

SPINE = "#signals-list li[data-signal='unverified_spine_points']"


@pytest.fixture
def queued(imported):
    from annotations.review.queues import refresh_builtin_queues

    refresh_builtin_queues(imported, seed=1)
    return imported


def spine_sentence(page) -> str | None:
    return page.evaluate(f"() => {{ const li = document.querySelector(\"{SPINE}\"); return li && li.textContent; }}")


def test_the_spine_sentence_lists_only_the_points_still_to_confirm(queued, users, new_page):
    from annotations.models import Annotation, QueueItem

    page = new_page()
    login(page, "annotator", "pw-annotator")
    start_queue(page, "unverified_spine")
    frame_id = int(page.locator("#editor").get_attribute("data-frame"))
    listed = QueueItem.objects.get(frame_id=frame_id, queue="unverified_spine").signals["unverified_spine_points"]
    assert listed[0] == "neck" and len(listed) >= 3

    assert page.locator("#signals").is_visible()
    text = spine_sentence(page)
    assert text.startswith("Spine points neck, ") and text.endswith("are guesses: confirm or move them")
    for name in listed:
        assert name.replace("_", " ") in text
    assert "unverified" not in page.locator("#signals-list").inner_text()  # no raw signal keys
    screenshot(page, "editor-why-this-frame")

    assert page.evaluate("() => window.poseEditor.state.selected") == NECK
    page.keyboard.press("c")  # confirm the neck where it is
    page.wait_for_function(f"() => !document.querySelector(\"{SPINE}\").textContent.includes('neck')")
    text = spine_sentence(page)
    for name in listed[1:]:
        assert name.replace("_", " ") in text

    page.keyboard.press("Control+z")  # undone: the neck is a guess again
    page.wait_for_function(f"() => document.querySelector(\"{SPINE}\").textContent.includes('neck')")

    page.keyboard.press("Shift+C")  # confirm every placed point: nothing left to say
    page.wait_for_function(f"() => !document.querySelector(\"{SPINE}\")")
    assert page.locator("#signals").is_hidden()

    before = Annotation.objects.get(frame_id=frame_id).version
    page.keyboard.press("s")
    wait_saved(page, before + 1)
    page.reload()  # the item still lists the points; the saved pose has them confirmed
    page.wait_for_selector("#editor[data-ready='1']")
    assert spine_sentence(page) is None


def test_the_uncertain_queue_explains_its_figures_in_words(queued, users, new_page):
    from annotations.models import Frame
    from annotations.review.queues import set_priorities

    frame = Frame.objects.filter(project=queued, annotations__isnull=True).order_by("id").first()
    set_priorities(queued, "uncertain", {frame.pk: 1.0}, {frame.pk: {
        "model": "v7", "uncertainty": 0.93, "rank": "3 of 880", "main_signal": "flip", "flip": 0.412,
        "confidence": 0.21, "form_margin": 0.977, "doubtful_points": ["left_wrist", "right_elbow"],
        "batch_note": "second pass"}})
    page = new_page()
    login(page, "annotator", "pw-annotator")
    start_queue(page, "uncertain")
    assert int(page.locator("#editor").get_attribute("data-frame")) == frame.pk
    items = page.locator("#signals-list li").all_inner_texts()
    assert items == [
        "The model disagrees with itself when the frame is mirrored (top 1% of the queue)",
        "The form label is uncertain (the classifier is nearly 50/50)",
        "The model is least sure about left wrist and right elbow",
        "Position 3 of 880 in this queue",
        "Scored by model v7",
        "Batch note: second pass",
    ]
    assert page.locator("#signals-raw").is_hidden()  # the figures wait behind a click
    page.click("#signals-figures summary")
    assert "flip: 0.412" in page.locator("#signals-raw").inner_text()
