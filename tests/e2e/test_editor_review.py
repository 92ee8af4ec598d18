"""Reviewers in the browser, who may go where, history and settings pages, and a 37-keypoint skeleton
that stays smooth to drag. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from tests.conftest import LUMBAR_IMAGES
from tests.e2e.conftest import login, needs_browser, screenshot
from tests.e2e.test_editor import drag, point, wait_ready, wait_saved

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]


@pytest.fixture
def submitted(imported, users):
    """Two annotated frames submitted from the unverified-spine queue, waiting for review."""
    from annotations.models import Frame
    from annotations.review import decisions as review
    from annotations.review.queues import refresh_builtin_queues

    refresh_builtin_queues(imported, seed=1)
    frames = list(Frame.objects.filter(project=imported, annotations__isnull=False).order_by("id")[:2])
    for frame in frames:
        review.submit(frame, users["annotator"], "unverified_spine")
    return frames


def test_a_reviewer_rejects_with_a_comment_and_accepts_by_keyboard(submitted, users, new_page):
    from annotations.models import Frame

    page = new_page()
    login(page, "reviewer", "pw-reviewer")
    page.goto("/p/demo/")
    page.click("#start-review")
    page.wait_for_url(re.compile(r"queue=review"))
    wait_ready(page)
    assert int(page.locator("#editor").get_attribute("data-frame")) == submitted[0].pk
    assert page.locator("#btn-submit").inner_text() == "Accept & next"
    assert page.locator("#btn-accept").is_hidden()  # one accept action in a review queue
    page.keyboard.press("Shift+R")
    page.wait_for_selector("#reject-dialog[open]")
    page.keyboard.type("spine_02 is on the shirt; put it on the back")
    screenshot(page, "editor-reject")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("f => window.poseEditor.state.frameId === f", arg=submitted[1].pk)
    wait_ready(page)
    page.keyboard.press("Control+Enter")  # accept the second one as it is
    page.wait_for_selector("#notice.done")
    assert "Nothing left in this queue" in page.locator("#notice").inner_text()
    first, second = (Frame.objects.get(pk=f.pk) for f in submitted)
    assert (first.status, second.status) == ("rejected", "accepted")
    assert first.transitions.first().comment == "spine_02 is on the shirt; put it on the back"
    assert second.transitions.first().action == "accept"

    annotator = new_page()
    login(annotator, "annotator", "pw-annotator")
    annotator.goto("/p/demo/")
    annotator.click("#start-unverified_spine")
    wait_ready(annotator)
    assert int(annotator.locator("#editor").get_attribute("data-frame")) == first.pk  # back first in line
    assert "put it on the back" in annotator.locator("#rejection-text").inner_text()
    screenshot(annotator, "editor-rejected-frame")


def test_an_annotator_cannot_reach_the_settings_and_an_outsider_gets_nothing(imported, users, new_page):
    from annotations.models import Frame

    frame = Frame.objects.filter(project=imported).order_by("id").first()
    page = new_page()
    login(page, "annotator", "pw-annotator")
    page.goto("/p/demo/")
    assert page.locator("#settings-link").count() == 0
    assert page.goto("/p/demo/settings/").status == 403

    outsider = new_page()
    login(outsider, "outsider", "pw-outsider")
    for url in (f"/p/demo/frames/{frame.pk}/edit/", f"/p/demo/frames/{frame.pk}/history/", "/p/demo/settings/",
                f"/api/projects/demo/frames/{frame.pk}/editor/", "/api/projects/demo/queues/"):
        assert outsider.goto(url).status == 404, url
    response = outsider.request.post("/api/projects/demo/queues/unverified_spine/claim/",
                                     headers={"X-CSRFToken": "x"})
    assert response.status in (403, 404)

    pi = new_page()
    login(pi, "pi", "pw-pi")
    pi.goto("/p/demo/")
    pi.click("#settings-link")
    pi.fill("#add-member input[name=username]", "outsider")
    pi.click("#add-member button")
    assert pi.locator("tr[data-user='outsider']").count() == 1
    screenshot(pi, "settings")
    assert outsider.goto(f"/p/demo/frames/{frame.pk}/edit/").status == 200


def test_the_history_opens_from_the_editor_and_restores_a_revision(imported, users, new_page):
    from annotations.models import Annotation

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    page = new_page()
    login(page, "annotator", "pw-annotator")
    page.goto(f"/p/demo/frames/{ann.frame_id}/edit/")
    wait_ready(page)
    page.keyboard.press("2")
    wait_saved(page, ann.version + 1)  # autosaved: nobody pressed save
    page.keyboard.press("h")
    page.wait_for_url(re.compile(r"/history/$"))
    rows = page.locator("#history tbody tr")
    assert rows.count() == 1 and "form label correct → lumbar_error" in rows.first.inner_text()
    screenshot(page, "history")
    page.click("button.restore-original")
    page.locator(".restore-confirm >> visible=true >> .confirm-restore").click()  # restoring asks first
    page.wait_for_selector(".msg.success")
    assert page.locator("#history tbody tr").count() == 2
    stored = Annotation.objects.get(pk=ann.pk)
    assert stored.form_label.name == "correct" and stored.version == ann.version + 2


@pytest.fixture
def spine37(users):
    """A SpineTrack-37 project with one real frame whose 37 points are all placed."""
    import json

    import numpy as np

    from annotations.models import Annotation, Clip, Frame, Membership, Project, Role
    from mlcore.skeletons import get_preset
    from mlcore.spine import fill_spine
    from tests.conftest import LUMBAR_JSON

    data = json.loads(LUMBAR_JSON.read_text())
    ann = data["annotations"][0]
    image = next(i for i in data["images"] if i["id"] == ann["image_id"])
    skeleton = get_preset("spinetrack37")
    project = Project.create("spine37", "SpineTrack 37", "spinetrack37", user=users["pi"])
    Membership.objects.create(project=project, user=users["annotator"], role=Role.ANNOTATOR)
    clip = Clip.objects.create(project=project, key="52723_8")
    frame = Frame.objects.create(project=project, clip=clip, file_name=image["file_name"], width=image["width"],
                                 height=image["height"], frame_index=0,
                                 source_path=str(LUMBAR_IMAGES / image["file_name"]))
    kp = np.zeros((1, 37, 3))
    kp[0, :17] = np.array(ann["keypoints"]).reshape(17, 3)
    kp, _ = fill_spine(kp, skeleton)
    index = {n: i for i, n in enumerate(skeleton.keypoints)}
    near = {"head": ("nose", 0, -14), "left_big_toe": ("left_ankle", 22, 6), "right_big_toe": ("right_ankle", 22, 6),
            "left_small_toe": ("left_ankle", 16, 10), "right_small_toe": ("right_ankle", 16, 10),
            "left_heel": ("left_ankle", -8, 8), "right_heel": ("right_ankle", -8, 8),
            "left_latissimus": ("left_shoulder", -10, 40), "right_latissimus": ("right_shoulder", -10, 40),
            "left_clavicle": ("left_shoulder", 12, -4), "right_clavicle": ("right_shoulder", 12, -4),
            "neck_02": ("neck", 10, -6), "neck_03": ("neck", 20, -12)}
    for name, (anchor, dx, dy) in near.items():
        a = kp[0, index[anchor]]
        kp[0, index[name]] = [a[0] + dx, a[1] + dy, 1]
    flat = [round(float(v), 2) for v in kp[0].reshape(-1)]
    states = ["verified"] * 17 + ["heuristic"] * 20
    Annotation.objects.create(project=project, frame=frame, keypoints=flat, keypoint_states=states,
                              bbox=ann["bbox"], area=ann["area"])
    return frame


def test_dragging_with_37_keypoints_touches_only_the_moved_point_and_its_bones(spine37, users, new_page):
    page = new_page()
    login(page, "annotator", "pw-annotator")
    page.goto(f"/p/spine37/frames/{spine37.pk}/edit/")
    wait_ready(page)
    assert page.locator("circle.kp").count() == 37
    spine_03 = 28
    page.evaluate("""() => {
        window.__mutated = new Set();
        window.__observer = new MutationObserver((records) => {
            for (const r of records) {
                const node = r.target.nodeType === 3 ? r.target.parentNode : r.target;
                window.__mutated.add(node.tagName + (node.dataset && node.dataset.i ? '#' + node.dataset.i : '')
                                     + (node.dataset && node.dataset.link ? '@' + node.dataset.link : '')
                                     + (node.id ? '!' + node.id : ''));
            }
        });
        window.__observer.observe(document.body,
                                  {subtree: true, attributes: true, childList: true, characterData: true});
        const stage = window.poseEditor.stage;
        const original = stage.h.dragMove;
        window.__moves = [];
        stage.h.dragMove = (i, x, y) => { const t = performance.now(); original(i, x, y);
                                          window.__moves.push(performance.now() - t); };
    }""")
    box = page.locator(f"circle.kp[data-i='{spine_03}']").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 6, y + 3)  # past the drag threshold: selects the point (list row, old selection), not timed
    page.wait_for_timeout(50)
    page.evaluate("() => { window.__observer.takeRecords(); window.__mutated.clear(); window.__moves.length = 0; }")
    for step in range(7, 37):
        page.mouse.move(x + step, y + step / 2)
        page.wait_for_timeout(5)
    mutated = set(page.evaluate("() => [...window.__mutated]"))
    moves = page.evaluate("() => window.__moves")
    page.mouse.up()
    links = [n for n, (a, b) in enumerate(spine37.project.skeleton["links"]) if spine_03 in (a, b)]
    allowed = {f"circle#{spine_03}", "text!kp-tag"} | {f"line@{n}" for n in links}
    assert mutated <= allowed, mutated - allowed
    assert f"circle#{spine_03}" in mutated and len(moves) >= 10
    print(f"drag updates: {len(moves)}, mean {sum(moves) / len(moves):.3f} ms, max {max(moves):.3f} ms")
    assert point(page, spine_03)["state"] == "verified"
    page.keyboard.press("s")
    wait_saved(page, 2)
    screenshot(page, "editor-spinetrack37")
    for _ in range(6):
        page.keyboard.press("+")
    page.wait_for_timeout(100)
    screenshot(page, "editor-zoomed")
    assert page.evaluate("() => window.poseEditor.stage.view.s / window.poseEditor.stage.view.fit") > 3.5
    # Points keep their on-screen size at any zoom (they are drawn in screen space).
    assert page.locator(f"circle.kp[data-i='{spine_03 + 1}']").get_attribute("r") == "5.5"


def test_neighbour_frames_show_as_onion_skin_and_copy_from_previous(imported, users, new_page):
    from annotations.models import Frame

    frame = Frame.objects.get(project=imported, file_name="52723_8_12.jpg")
    prev = Frame.objects.get(project=imported, file_name="52723_8_10.jpg")
    page = new_page()
    login(page, "annotator", "pw-annotator")
    page.goto(f"/p/demo/frames/{prev.pk}/edit/")
    wait_ready(page)
    page.keyboard.press("f")
    page.wait_for_function("f => window.poseEditor.state.frameId === f", arg=frame.pk)
    wait_ready(page)
    assert page.url.endswith(f"/frames/{frame.pk}/edit/")
    assert page.locator("#onion-layer circle").count() == 0  # off until asked for
    page.keyboard.press("o")
    assert page.locator("#onion-layer g.onion-prev circle").count() == 24
    assert page.locator("#onion-layer g.onion-next circle").count() == 24
    # Drawn in one muted grey, never in the current frame's keypoint colours.
    strokes = page.eval_on_selector_all("#onion-layer line",
                                        "ls => [...new Set(ls.map(l => getComputedStyle(l).stroke))]")
    assert strokes == ["rgb(152, 162, 179)"]
    page.keyboard.press("o")
    assert page.locator("#onion-layer circle").count() == 0
    page.keyboard.press("Shift+D")
    prev_kp = prev.annotations.get().keypoints
    copied = point(page, 3)
    assert (copied["x"], copied["y"], copied["state"]) == (prev_kp[9], prev_kp[10], "unverified")
    page.keyboard.press("d")  # back to the previous frame: the copy is saved on the way
    page.wait_for_function("f => window.poseEditor.state.frameId === f", arg=prev.pk)
    assert frame.annotations.get().keypoints[9:11] == prev_kp[9:11]
    page.go_back()
    page.wait_for_function("f => window.poseEditor.state.frameId === f", arg=frame.pk)
    assert drag is not None  # imported helper stays used by the module's readers


def test_the_models_prediction_shows_as_a_ghost_and_points_are_accepted_from_it(imported, users, new_page):
    from annotations.models import Annotation, ModelVersion, Prediction

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    version = ModelVersion.objects.create(project=imported, kind="keypoints", number=1, status="ready",
                                          is_active=True)
    kp = [[ann.keypoints[3 * i] + 8, ann.keypoints[3 * i + 1] + 4, 0.3 + 0.04 * i if i < 17 else 0.0]
          for i in range(24)]
    Prediction.objects.create(project=imported, frame=ann.frame, model_version=version, keypoints=kp, bbox=ann.bbox,
                              heuristic_keypoints=list(range(17, 24)), form_probs={"lumbar_error": 0.7},
                              form_label="lumbar_error")
    page = new_page()
    login(page, "annotator", "pw-annotator")
    page.goto(f"/p/demo/frames/{ann.frame_id}/edit/")
    wait_ready(page)
    assert page.locator("#ghost-layer rect").count() == 24  # solid squares, outlined: readable on any frame
    page.click("#kp-list li[data-i='9']")  # left_wrist
    assert "left_wrist: confidence 0.66" in page.locator("#pred-info").inner_text()
    screenshot(page, "editor-prediction-ghost")
    page.keyboard.press("y")
    wrist = point(page, 9)
    assert (wrist["x"], wrist["y"], wrist["state"]) == (kp[9][0], kp[9][1], "predicted")
    page.keyboard.press("g")
    assert page.locator("#ghost-layer rect").count() == 0
    page.keyboard.press("Shift+Y")
    assert point(page, 3)["state"] == "predicted" and point(page, 20)["state"] == "heuristic"
    page.keyboard.press("s")
    wait_saved(page, ann.version + 1)
    stored = Annotation.objects.get(pk=ann.pk)
    assert stored.keypoint_states[9] == "predicted" and stored.keypoints[27] == kp[9][0]
