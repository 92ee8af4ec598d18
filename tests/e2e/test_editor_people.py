"""A second person on a frame in the real editor: add them, place their points, save, reload and find
both people, export COCO with one annotation per person, then remove the second after confirming.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot
from tests.e2e.test_editor import open_editor, point, wait_ready, wait_saved

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]


def tabs(page) -> list[str]:
    return page.locator("#people-tabs .person-tab").all_inner_texts()


def current(page) -> str:
    return page.locator("#people-tabs .person-tab[aria-selected=true]").inner_text()


def click_frame(page, fx: float, fy: float) -> None:
    box = page.locator("#frame-image").bounding_box()
    page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def coco_of(page, frame_id: int) -> list[dict]:
    response = page.request.get("/api/projects/demo/splits/all/coco.json")
    assert response.status == 200
    return [a for a in json.loads(response.body())["annotations"] if a["image_id"] == frame_id]


def test_a_second_person_is_added_saved_reloaded_exported_and_removed(imported, users, new_page):
    from annotations.models import Annotation

    first = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    frame = first.frame
    url = f"/p/demo/frames/{frame.pk}/edit/"
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, url)
    assert tabs(page) == ["Person 1"]
    assert page.locator("#btn-remove-person").is_disabled()  # the frame's first person stays

    page.click("#btn-add-person")
    page.wait_for_function("() => window.poseEditor.state.current === 1")
    assert tabs(page) == ["Person 1", "Person 2"] and current(page) == "Person 2"
    assert page.evaluate("() => window.poseEditor.state.pose.labelled()") == 0
    assert page.locator("#others-layer circle").count() == first.num_keypoints  # person 1, drawn faint

    page.click("#kp-list li[data-i='0']")  # nose, then each click places the next point down the body
    placed = [(0.15, 0.2), (0.2, 0.25), (0.1, 0.25)]
    for fx, fy in placed:
        click_frame(page, fx, fy)
    mine = [point(page, i) for i in range(3)]
    assert [p["v"] for p in mine] == [2, 2, 2] and all(p["state"] == "verified" for p in mine)
    assert mine[0]["x"] == pytest.approx(frame.width * 0.15, abs=2)
    page.keyboard.press("2")  # person 2's own form label
    page.keyboard.press("s")
    wait_saved(page, 1)
    second = Annotation.objects.get(frame=frame, instance=1)
    assert second.num_keypoints == 3 and second.form_label.name == "lumbar_error"
    assert second.keypoints[:2] == [pytest.approx(mine[0]["x"], abs=0.01), pytest.approx(mine[0]["y"], abs=0.01)]
    assert Annotation.objects.get(pk=first.pk).version == first.version  # person 1 untouched
    screenshot(page, "editor-second-person")

    page.locator("#people-tabs .person-tab", has_text="Person 1").click()  # switch: person 2 is drawn faint
    page.wait_for_function("() => window.poseEditor.state.current === 0")
    assert page.locator("#others-layer circle").count() == 3
    assert point(page, 0) == pytest.approx({"x": first.keypoints[0], "y": first.keypoints[1],
                                            "v": first.keypoints[2], "state": first.keypoint_states[0]})

    page.reload()
    wait_ready(page)
    assert tabs(page) == ["Person 1", "Person 2"] and current(page) == "Person 1"
    page.locator("#people-tabs .person-tab", has_text="Person 2").click()
    page.wait_for_function("() => window.poseEditor.state.current === 1")
    for i, p in enumerate(mine):
        assert point(page, i) == pytest.approx(p, abs=0.01)
    assert page.locator("#form-labels").get_attribute("data-current") == "lumbar_error"

    exported = coco_of(page, frame.pk)
    assert len(exported) == 2 and len({a["id"] for a in exported}) == 2
    assert {a["id"] for a in exported} == {first.pk, second.pk}
    assert next(a for a in exported if a["id"] == second.pk)["num_keypoints"] == 3

    page.click("#btn-remove-person")  # asks first
    page.wait_for_selector("#remove-person-dialog[open]")
    assert "Person 2 and their 3 placed points" in page.locator("#remove-person-text").inner_text()
    page.click("#remove-person-cancel")
    assert tabs(page) == ["Person 1", "Person 2"] and Annotation.objects.filter(frame=frame).count() == 2
    page.click("#btn-remove-person")
    page.click("#remove-person-confirm")
    page.wait_for_function("() => document.querySelectorAll('#people-tabs .person-tab').length === 1")
    assert current(page) == "Person 1" and page.locator("#others-layer circle").count() == 0
    assert list(Annotation.objects.filter(frame=frame).values_list("pk", flat=True)) == [first.pk]
    assert [a["id"] for a in coco_of(page, frame.pk)] == [first.pk]
    page.reload()
    wait_ready(page)
    assert tabs(page) == ["Person 1"]


def test_a_second_person_waits_for_the_first(imported, users, new_page):
    from annotations.models import Annotation, Frame

    frame = (Frame.objects.filter(project=imported, annotations__isnull=True).exclude(source_path="")
             .order_by("id").first())
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{frame.pk}/edit/")
    page.click("#btn-add-person")
    assert "Place the first person's points" in page.locator("#notice").inner_text()
    assert tabs(page) == ["Person 1"]

    page.click("#kp-list li[data-i='0']")
    click_frame(page, 0.5, 0.25)
    page.click("#btn-add-person")  # saves person 1 first, then opens person 2
    page.wait_for_function("() => window.poseEditor.state.current === 1")
    assert Annotation.objects.get(frame=frame, instance=0).num_keypoints == 1
    page.click("#kp-list li[data-i='0']")
    click_frame(page, 0.3, 0.3)
    page.keyboard.press("s")
    wait_saved(page, 1)
    assert sorted(Annotation.objects.filter(frame=frame).values_list("instance", "num_keypoints")) == [(0, 1), (1, 1)]


def second_person_on(frame, x0: float, n: int = 3):
    """Person 2 stored on `frame`: the first `n` points from (x0, 100), verified."""
    from annotations.models import Annotation

    K = frame.project.num_keypoints
    kp = [0.0, 0.0, 0] * K
    for i in range(n):
        kp[3 * i:3 * i + 3] = [x0 + 10 * i, 100.0 + 5 * i, 2]
    return Annotation.objects.create(project=frame.project, frame=frame, instance=1, keypoints=kp,
                                     keypoint_states=["verified"] * K, bbox=[x0 - 5, 95.0, 10 * n + 10, 30.0],
                                     area=300.0)


def model_prediction(frame, instance: int, dx: float, annotation=None):
    """A stored prediction: the frame's first person's pose shifted dx px, made in `annotation`'s box if given."""
    from annotations.models import Annotation, ModelVersion, Prediction

    base = Annotation.objects.filter(project=frame.project, instance=0).order_by("frame_id").first()
    version = (ModelVersion.objects.filter(project=frame.project, kind="keypoints").first()
               or ModelVersion.objects.create(project=frame.project, kind="keypoints", number=1, status="ready",
                                              is_active=True))
    kp = [[base.keypoints[3 * i] + dx, base.keypoints[3 * i + 1], 0.9] for i in range(frame.project.num_keypoints)]
    return Prediction.objects.create(project=frame.project, frame=frame, model_version=version, instance=instance,
                                     keypoints=kp, bbox=base.bbox,
                                     signals={"annotation_id": annotation.pk} if annotation else {})


def ghost_x(page, i: int):
    return page.evaluate("i => { const g = window.poseEditor.stage.ghost; "
                         "return g.length ? g[0].keypoints[3 * i] : null; }", i)


def test_prediction_and_neighbour_frames_are_each_persons_own(imported, users, new_page):
    """A frame predicted for Person 1 only: Person 2 is told so and given nothing of Person 1's; the onion
    skin shows the person being edited on the neighbour frames."""
    from annotations.models import Frame

    frame = Frame.objects.get(project=imported, file_name="52723_8_12.jpg")
    prev = Frame.objects.get(project=imported, file_name="52723_8_10.jpg")
    first = frame.annotations.get(instance=0)
    second_person_on(prev, 300.0, n=4)
    second_person_on(frame, 310.0, n=3)
    mine = model_prediction(frame, 0, 5.0, annotation=first)
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{frame.pk}/edit/")
    assert page.locator("#ghost-layer rect").count() == 24
    assert ghost_x(page, 0) == pytest.approx(mine.keypoints[0][0], abs=0.01)
    assert page.locator("#btn-accept-all").is_enabled()
    page.keyboard.press("o")
    assert page.locator("#onion-layer g.onion-prev circle").count() == 24  # person 1 on the previous frame

    page.locator("#people-tabs .person-tab", has_text="Person 2").click()
    page.wait_for_function("() => window.poseEditor.state.current === 1")
    info = page.locator("#pred-info").inner_text()
    assert "Predictions exist for Person 1 only: none for Person 2" in info, info
    assert page.locator("#btn-accept-all").is_disabled()
    assert page.locator("#ghost-layer rect").count() == 0  # person 1's prediction is not drawn for person 2
    page.keyboard.press("Shift+Y")  # accepts nothing: there is nothing of person 2's to accept
    assert "Predictions exist for Person 1 only" in page.locator("#notice").inner_text()
    assert page.evaluate("() => window.poseEditor.state.pose.labelled()") == 3
    assert point(page, 5)["v"] == 0
    assert page.locator("#onion-layer g.onion-prev circle").count() == 4  # person 2 on the previous frame
    onion = page.evaluate("() => window.poseEditor.stage.onion[0].keypoints.slice(0, 3)")
    assert onion == [300.0, 100.0, 2]
    assert page.locator("#onion-layer g.onion-next circle").count() == 0  # not on the next frame
    screenshot(page, "editor-second-person-no-prediction")


def test_a_person_the_model_predicted_is_added_from_its_prediction(imported, users, new_page):
    from annotations.models import Annotation

    first = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    frame = first.frame
    mine = model_prediction(frame, 0, 5.0, annotation=first)
    theirs = model_prediction(frame, 1, 150.0)  # a second person the model saw on the whole frame
    page = new_page()
    login(page, "annotator", "pw-annotator")
    open_editor(page, f"/p/demo/frames/{frame.pk}/edit/")
    assert "the model also sees Person 2" in page.locator("#pred-info").inner_text()
    assert ghost_x(page, 0) == pytest.approx(mine.keypoints[0][0], abs=0.01)

    page.click("#btn-add-person")
    page.wait_for_function("() => window.poseEditor.state.current === 1")
    pts = page.evaluate("() => window.poseEditor.state.pose.points.map(p => ({...p}))")
    assert [p["state"] for p in pts] == ["predicted"] * 24
    assert pts[0]["x"] == pytest.approx(theirs.keypoints[0][0], abs=0.01)
    assert ghost_x(page, 0) == pytest.approx(theirs.keypoints[0][0], abs=0.01)  # person 2's prediction drawn
    assert page.locator("#btn-accept-all").inner_text() == "Accept all predicted points of Person 2"
    page.keyboard.press("Control+z")  # one undo empties the new person
    assert page.evaluate("() => window.poseEditor.state.pose.labelled()") == 0
    page.click("#btn-accept-all")
    assert page.evaluate("() => window.poseEditor.state.pose.labelled()") == 24
    page.keyboard.press("s")
    wait_saved(page, 1)
    second = Annotation.objects.get(frame=frame, instance=1)
    assert second.keypoints[0] == pytest.approx(theirs.keypoints[0][0], abs=0.01)
    assert set(second.keypoint_states) == {"predicted"}
    assert Annotation.objects.get(pk=first.pk).version == first.version  # person 1 untouched
    screenshot(page, "editor-second-person-predicted")
