"""Pages that lead somewhere, in a real browser: a video upload lands on a job page that links to the clip
timeline; export job pages show their table and download; the frame gallery filters; a restore on the
history page asks first and sends an accepted frame back to review, with before/after overlays."""

import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from annotations.models import Annotation, Frame, Job, KeypointState
from tests.annotations.video.video_builders import barbell_frames, write_video
from tests.conftest import needs_dataset
from tests.e2e.conftest import login, needs_browser, screenshot

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

K = 24


@pytest.fixture
def eager_jobs():
    """The live server runs jobs inline (the test has no worker)."""
    from webapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_a_video_upload_lands_on_a_job_page_that_links_to_the_clip_timeline(project, users, tmp_path, eager_jobs,
                                                                          new_page):
    path = write_video(tmp_path / "row.mp4", barbell_frames(12))
    page = new_page()
    login(page, "pi", "pw-pi")
    page.goto("/p/demo/videos/")
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-form input[name=clip]", "53700_1")
    page.click("#upload-start")
    page.wait_for_url("**/jobs/*/", timeout=30_000)
    assert page.locator("#job-status").inner_text() == "succeeded"
    summary = page.locator("#job-summary")
    assert "12 frames" in summary.inner_text() or "12 (12 new" in summary.inner_text()
    assert not page.locator("#job-raw").get_attribute("open") and not page.locator("#job-result").is_visible()
    screenshot(page, "job-video-extraction")
    page.click("#job-link-timeline")
    page.wait_for_selector("#timeline[data-loaded='1']")
    assert "/p/demo/clips/53700_1/timeline/" in page.url


@needs_dataset
def test_export_job_pages_show_the_subset_table_and_the_download(imported, users, eager_jobs, new_page):
    from annotations.core.jobs import start_job

    start_job(imported, "split", {}, users["pi"], run_now=True)
    page = new_page()
    login(page, "reviewer", "pw-reviewer")
    for fmt in ("coco", "yolo_pose"):
        job = start_job(imported, "export", {"format": fmt, "subsets": ["train", "val", "test"]}, users["reviewer"],
                        run_now=True)
        page.goto(f"/jobs/{job.pk}/")
        rows = page.locator("#job-export-counts tbody tr")
        assert rows.count() == 3 and rows.first.locator("td").first.inner_text() == "train"
        link = page.locator("#job-link-download")
        assert link.get_attribute("href") == f"/api/jobs/{job.pk}/download/"
        # The format by its name, and one download link (the summary's), not two.
        name = {"coco": "COCO JSON", "yolo_pose": "Ultralytics YOLO-pose"}[fmt]
        assert page.locator("#job-summary h2").inner_text().startswith(f"Exported {name}")
        assert link.inner_text() == f"Download the {name} file" and page.locator("#job-download").is_hidden()
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename.startswith("demo-")
        screenshot(page, f"job-export-{fmt}")
    import_job = Job.objects.create(project=imported, kind="import", status="succeeded", created_by=users["pi"],
                                    progress=1.0, result=imported.import_results[1])
    page.goto(f"/jobs/{import_job.pk}/")
    screenshot(page, "job-import")
    page.click("#job-link-frames")
    assert page.url.endswith("/p/demo/frames/")


@pytest.fixture
def clip_frames(project, users, tmp_path):
    """A 12-frame clip extracted from a video (so every frame has a thumbnail); frames 0-2 annotated with
    verified points, 3-4 with predicted ones, frame 1 accepted."""
    from annotations.video.extraction import start_extraction

    path = write_video(tmp_path / "row.mp4", barbell_frames(12))
    with open(path, "rb") as fh:
        upload = default_storage.save("uploads/e2e/row.mp4", File(fh))
    job = start_extraction(project, upload, "row.mp4", {"selection": {"mode": "all"}, "clip": "53800_1"},
                           users["pi"], run_now=True)
    assert job.status == Job.Status.SUCCEEDED, job.message
    frames = list(Frame.objects.filter(clip__key="53800_1").order_by("frame_index"))
    correct = project.form_labels.get(name="correct")
    for n, frame in enumerate(frames[:5]):
        state = KeypointState.VERIFIED if n < 3 else KeypointState.PREDICTED
        Annotation.objects.create(project=project, frame=frame, keypoints=[100, 100, 2] + [0, 0, 0] * (K - 1),
                                  keypoint_states=[state] * K, bbox=[90, 90, 20, 20], area=400,
                                  form_label=correct if n == 0 else None)
    Frame.objects.filter(pk__in=[f.pk for f in frames[:5]]).update(status="annotated")
    Frame.objects.filter(pk=frames[1].pk).update(status="accepted")
    return frames


def test_the_frame_gallery_filters_by_status_label_and_verified_state(clip_frames, users, new_page):
    page = new_page()
    login(page, "annotator", "pw-annotator")
    page.goto("/p/demo/clips/")
    page.click("#frames-link")
    cards = page.locator("#gallery li[data-frame]")
    assert cards.count() == 12
    page.wait_for_function("() => [...document.querySelectorAll('#gallery img.thumb')].every(i => i.complete "
                           "&& i.naturalWidth > 0)")
    screenshot(page, "frame-gallery")
    page.select_option("select[name=verified]", "unverified")
    page.click("#gallery-apply")
    assert page.locator("#gallery li[data-frame]").count() == 2
    assert "verified=unverified" in page.url
    page.select_option("select[name=verified]", "verified")
    page.select_option("select[name=status]", "accepted")
    page.click("#gallery-apply")
    assert [int(x) for x in page.locator("#gallery li[data-frame]").evaluate_all(
        "els => els.map(e => e.dataset.frame)")] == [clip_frames[1].pk]
    page.goto("/p/demo/frames/?label=correct")
    assert page.locator("#gallery li[data-frame]").count() == 1
    assert page.locator("#gallery .label").inner_text() == "Correct form"
    page.goto("/p/demo/frames/?clip=53800_1&verified=none")
    assert page.locator("#gallery li[data-frame]").count() == 7
    screenshot(page, "frame-gallery-filtered")
    page.click("#gallery-timeline")
    page.wait_for_selector("#timeline[data-loaded='1']")
    page.goto("/p/demo/frames/?status=done")
    assert "'status' must be one of" in page.locator("#gallery-error").inner_text()


@needs_dataset
def test_restoring_a_revision_asks_first_and_sends_the_frame_back_to_review(imported, users, new_page):
    from annotations.review import decisions
    from annotations.review.editing import save_edit

    ann = Annotation.objects.filter(project=imported, num_keypoints__gt=10).order_by("frame_id").first()
    kpts = list(ann.keypoints)
    for i in (0, 5, 6):  # nose and shoulders moved
        kpts[3 * i] += 25
        kpts[3 * i + 1] += 15
    save_edit(ann.pk, users["annotator"], {"keypoints": kpts}, ann.version)
    decisions.submit(ann.frame, users["annotator"])
    decisions.decide(ann.frame, users["reviewer"], "accept")
    page = new_page((1280, 1000))
    login(page, "reviewer", "pw-reviewer")
    page.goto(f"/p/demo/frames/{ann.frame_id}/history/")
    assert page.locator("#frame-status").inner_text() == "Accepted"
    row = page.locator("tr.history-revision").first
    assert row.locator("svg.overlay").count() == 2
    assert row.locator(".overlay-after circle.changed").count() == 3
    page.wait_for_function("() => document.querySelector('svg.overlay image') !== null")
    confirm = row.locator(".restore-confirm").first
    assert not confirm.is_visible()
    row.locator("button.restore").first.click()
    assert confirm.is_visible() and "goes back to review" in confirm.inner_text()
    screenshot(page, "history-restore-confirm")
    confirm.locator(".cancel-restore").click()
    assert not confirm.is_visible()
    assert Annotation.objects.get(pk=ann.pk).version == ann.version + 1  # nothing happened
    page.locator("button.restore-original").click()
    with page.expect_navigation():
        page.locator(".restore-confirm >> visible=true >> .confirm-restore").click()
    assert "the frame is submitted for review" in page.locator(".msg").inner_text()
    assert page.locator("#frame-status").inner_text() == "Submitted for review"
    restored = Annotation.objects.get(pk=ann.pk)
    assert restored.keypoints == ann.keypoints and restored.version == ann.version + 2
    screenshot(page, "history-diff")


def test_a_job_page_open_while_the_job_runs_shows_its_result_and_links_when_it_ends(project, users, new_page):
    from django.utils import timezone

    from annotations.models import Clip

    Clip.objects.create(project=project, key="53900_1")
    job = Job.objects.create(project=project, kind="extract", status=Job.Status.RUNNING, progress=0.5,
                             heartbeat_at=timezone.now(), started_at=timezone.now(), created_by=users["pi"])
    page = new_page()
    login(page, "pi", "pw-pi")
    page.goto(f"/jobs/{job.pk}/")
    assert page.locator("#job-status").inner_text() == "running" and page.locator("#job-summary").count() == 0
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress=1.0, finished_at=timezone.now(),
                                         result={"video": "v.mp4", "clip": "53900_1", "frames": 3, "new_frames": 3,
                                                 "kept_frames": 0, "removed_frames": 0, "new_frame_ids": [1, 2, 3]})
    page.wait_for_selector("#job-link-timeline", timeout=15_000)
    assert page.locator("#job-status").inner_text() == "succeeded"
    assert page.locator("#job-link-timeline").get_attribute("href") == "/p/demo/clips/53900_1/timeline/"
