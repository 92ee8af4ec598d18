"""The clip timeline and the video upload in a real browser: scrub, fill between keyframes, open a frame,
see interpolated points marked unverified; upload a video in chunks through a dropped connection."""

import json

import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from annotations.models import Annotation, Frame, Job, KeypointState
from tests.annotations.video.video_builders import SIZE, barbell_frames, write_video
from tests.conftest import CORRECT_JSON, needs_dataset
from tests.e2e.conftest import login, needs_browser, screenshot

pytestmark = [needs_browser, needs_dataset, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

K = 24


@pytest.fixture
def eager_jobs():
    """The live server runs jobs inline (the test has no worker)."""
    from webapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def scaled_labels(file_name: str) -> tuple[list, list]:
    """(17 COCO keypoints flat, bbox) of a dataset frame, scaled to the test video's frame size."""
    data = json.loads(CORRECT_JSON.read_text())
    image = next(im for im in data["images"] if im["file_name"] == file_name)
    ann = next(a for a in data["annotations"] if a["image_id"] == image["id"])
    sx, sy = SIZE[0] / image["width"], SIZE[1] / image["height"]
    kp = ann["keypoints"]
    flat = [round(v * (sx, sy, 1)[i % 3], 2) if i % 3 < 2 else int(v) for i, v in enumerate(kp)]
    x, y, w, h = ann["bbox"]
    return flat, [round(x * sx, 2), round(y * sy, 2), round(w * sx, 2), round(h * sy, 2)]


@pytest.fixture
def clip(project, users, tmp_path):
    """A 12-frame clip extracted from a real video, with a person labelled on frames 0 and 11."""
    from annotations.video.extraction import start_extraction

    path = write_video(tmp_path / "row.mp4", barbell_frames(12))
    with open(path, "rb") as fh:
        upload = default_storage.save("uploads/e2e/row.mp4", File(fh))
    job = start_extraction(project, upload, "row.mp4", {"selection": {"mode": "all"}, "clip": "53500_2"},
                           users["pi"], run_now=True)
    assert job.status == Job.Status.SUCCEEDED, job.message
    frames = list(Frame.objects.filter(clip__key="53500_2").order_by("frame_index"))
    # The video's frames 0 and 11 are the dataset's 52723_8_4 and 52723_8_37: their real labels, scaled.
    for frame, name in ((frames[0], "52723_8_4.jpg"), (frames[11], "52723_8_37.jpg")):
        kp, box = scaled_labels(name)
        Annotation.objects.create(project=project, frame=frame, keypoints=kp + [0, 0, 0] * (K - 17),
                                  keypoint_states=[KeypointState.VERIFIED] * K, bbox=box, area=box[2] * box[3])
    Frame.objects.filter(pk=frames[8].pk).update(priority=0.9)
    Frame.objects.filter(pk=frames[2].pk).update(priority=0.4)
    return frames


def wait_drawn(page, frame) -> None:
    """Until the frame's image is on the canvas (images load after the frame is chosen)."""
    page.wait_for_selector(f"#tl-canvas[data-drawn='{frame.pk}']")


def frame_name(page) -> str:
    return page.locator("#tl-frame-name").inner_text()


def test_an_annotator_scrubs_fills_between_keyframes_and_sees_unverified_points(project, users, clip, eager_jobs,
                                                                               new_page):
    page = new_page(viewport=(1400, 1000))
    login(page, "annotator", "pw-annotator")
    page.goto("/p/demo/clips/53500_2/timeline/")
    page.wait_for_selector("#timeline[data-loaded='1']")
    assert frame_name(page) == "53500_2_0.jpg"
    assert page.locator("#tl-position").inner_text() == "1 / 12"
    assert page.locator("#tl-frame-source").inner_text() == "import (keyframe)"

    # Scrub: the slider and the arrow keys move through the clip.
    page.locator("#tl-scrub").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert frame_name(page) == "53500_2_3.jpg"
    assert page.locator("#tl-frame-source").inner_text() == "no annotation"
    assert page.locator("#tl-kps tbody tr").count() == 0

    # The worst frames are listed by priority; one click goes there.
    worst = page.locator("#tl-worst button")
    assert worst.first.inner_text().startswith("frame 8 · priority 0.90")
    worst.first.click()
    assert frame_name(page) == "53500_2_8.jpg"
    wait_drawn(page, clip[8])
    screenshot(page, "timeline-before-fill")

    page.click("#tl-fill-all")
    page.wait_for_function("() => document.getElementById('tl-job').textContent.includes('frames filled')")
    assert page.locator("#tl-job").inner_text() == ("10 frames filled, 0 refreshed, 0 human annotations kept; "
                                                    "0 frames with jumping keypoints")
    assert frame_name(page) == "53500_2_8.jpg"  # the page stays where it was

    # Open frame 5 from the strip: its points are interpolated and unverified.
    strip = page.locator("#tl-strip")
    box = strip.bounding_box()
    strip.click(position={"x": box["width"] * 5.5 / 12, "y": box["height"] / 2})
    assert frame_name(page) == "53500_2_5.jpg"
    assert page.locator("#tl-frame-source").inner_text() == "interpolated"
    rows = page.locator("#tl-kps tbody tr")
    first, last = scaled_labels("52723_8_4.jpg")[0], scaled_labels("52723_8_37.jpg")[0]
    labelled = [k for k in range(17) if first[3 * k + 2] and last[3 * k + 2]]
    assert rows.count() == len(labelled) >= 12
    assert set(rows.evaluate_all("rs => rs.map(r => r.className)")) == {"state-unverified"}
    wrist = page.locator("#tl-kps tbody tr[data-keypoint='left_wrist'] td").all_inner_texts()
    x = first[27] + (last[27] - first[27]) * 5 / 11  # linear in time: frame 5 of 0..11
    assert wrist[0] == "left_wrist" and wrist[4] == "unverified"
    assert float(wrist[1]) == pytest.approx(x, abs=0.06)
    assert page.locator("#tl-frame-status").inner_text() == "preannotated"
    editor = page.locator("#tl-editor")
    frame5 = Frame.objects.get(clip__key="53500_2", frame_index=5)
    assert editor.get_attribute("href") == f"/p/demo/frames/{frame5.pk}/edit/"
    wait_drawn(page, frame5)
    screenshot(page, "timeline-interpolated")

    # Keyframes keep their verified points.
    page.keyboard.press("End")
    assert frame_name(page) == "53500_2_11.jpg"
    assert set(page.locator("#tl-kps tbody tr").evaluate_all("rs => rs.map(r => r.className)")) == {"state-verified"}

    # A wrist dropped 100 px off in frame 5 is a jump: marked in the strip, the table and the worst list.
    ann = Annotation.objects.get(frame=frame5)
    ann.keypoints[3 * 9 + 1] += 100
    ann.save()
    page.goto(f"/p/demo/clips/53500_2/timeline/#frame={frame5.pk}")
    page.reload()
    page.wait_for_selector("#timeline[data-loaded='1']")
    assert frame_name(page) == "53500_2_5.jpg"
    assert "▲ left_wrist" in page.locator("#tl-frame-jump").inner_text()
    assert page.locator("#tl-kps tbody tr.jumping").evaluate_all("rs => rs.map(r => r.dataset.keypoint)") == [
        "left_wrist"]
    assert page.locator("#tl-worst button").first.inner_text() == "frame 5 · priority 0.00 · jump left_wrist"
    wait_drawn(page, frame5)
    screenshot(page, "timeline-jump")

    # The editor link opens the frame there (whatever the editor shows, the address is right).
    page.keyboard.press("Home")
    with page.expect_navigation():
        page.click("#tl-editor")
    assert page.url.endswith(f"/p/demo/frames/{clip[0].pk}/edit/")


def test_a_pi_uploads_a_video_in_chunks_through_a_dropped_connection(project, users, tmp_path, eager_jobs, new_page,
                                                                     monkeypatch):
    from annotations.video import uploads as video_uploads

    monkeypatch.setattr(video_uploads, "CHUNK_BYTES", 64 * 1024)
    path = write_video(tmp_path / "bench press.mp4", barbell_frames(20))
    assert path.stat().st_size > 3 * 64 * 1024
    page = new_page()
    login(page, "pi", "pw-pi")
    dropped = []

    def drop_second_chunk(route):
        if route.request.method == "PATCH" and len(dropped) == 0 and route.request.headers.get("upload-offset") != "0":
            dropped.append(route.request.headers["upload-offset"])
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/video-uploads/*/", drop_second_chunk)
    page.goto("/p/demo/")
    page.click("header nav >> text=Videos")
    assert page.url.endswith("/p/demo/videos/")
    page.set_input_files("#upload-file", str(path))
    page.check("input[name=mode][value=every]")
    page.fill("#upload-form input[name=every]", "4")
    page.fill("#upload-form input[name=clip]", "53600_1")
    page.click("#upload-start")
    page.wait_for_function("() => document.getElementById('upload-status').textContent.includes('retrying')")
    assert page.locator("#upload-status").inner_text().endswith("connection lost; retrying in 2 s")
    assert 0 < page.evaluate("document.getElementById('upload-progress').value") < 1
    screenshot(page, "video-upload-resuming")
    page.wait_for_url("**/jobs/*/", timeout=30_000)
    assert dropped == [str(64 * 1024)]
    assert page.locator("#job-status").inner_text() == "succeeded"
    screenshot(page, "video-upload-job")
    assert sorted(Frame.objects.filter(clip__key="53600_1").values_list("frame_index", flat=True)) == [0, 4, 8, 12, 16]

    page.goto("/p/demo/videos/")
    assert page.locator("#video-table tbody tr").count() == 1
    assert "53600_1 (5 frames)" in page.locator("#video-table").inner_text()
    screenshot(page, "video-list")
    page.click("text=53600_1")
    page.wait_for_selector("#timeline[data-loaded='1']")
    assert page.locator("#tl-position").inner_text() == "1 / 5"
