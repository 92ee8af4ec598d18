"""Job pages show a readable result that leads somewhere (the clip timeline, the download, the models page,
the queues, the project and its problems), with the raw JSON kept behind a <details>."""

from __future__ import annotations

import re

import pytest

# Jobs run here report progress through the second ("jobstate") connection.
pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def finished(project, kind, result, user, params=None):
    from annotations.models import Job

    return Job.objects.create(project=project, kind=kind, status=Job.Status.SUCCEEDED, progress=1.0,
                              result=result, params=params or {}, created_by=user)


def page(client, user, job):
    client.force_login(user)
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_video_extraction_job_links_to_the_clip_timeline_and_hides_the_frame_ids(project, users, client):
    from annotations.models import Clip

    Clip.objects.create(project=project, key="squat_1")
    job = finished(project, "extract", {"video": "squat.mp4", "clip": "squat_1", "frames": 51, "new_frames": 51,
                                        "kept_frames": 0, "removed_frames": 0, "new_frame_ids": list(range(1000, 1051)),
                                        "preannotation": {"requested": False}}, users["pi"])
    html = page(client, users["pi"], job)
    assert 'id="job-link-timeline" class="button" href="/p/demo/clips/squat_1/timeline/"' in html
    assert 'id="job-link-clip" href="/p/demo/clips/squat_1/"' in html
    # The frame ids are only in the raw JSON, which is folded away.
    assert '<details id="job-raw"><summary>' in html
    summary = html.split('id="job-summary"')[1].split("</section>")[0]
    assert "1050" not in summary and "51 new" in summary


def test_an_import_job_links_to_the_project_its_frames_and_its_problems(project, users, client):
    job = finished(project, "import", {"frames": 10, "annotated": 8, "clips": 2, "new_frames": 10,
                                       "new_annotations": 8, "problems": [
                                           {"file": "a.json", "id": 3, "action": "skipped", "reason": "bad box"}]},
                   users["pi"])
    html = page(client, users["pi"], job)
    assert 'id="job-link-project" class="button" href="/p/demo/"' in html
    assert 'id="job-link-frames" href="/p/demo/frames/"' in html
    assert 'id="job-link-problems" href="#problems">1 problem found' in html
    assert 'id="problems"' in html and "bad box" in html


@pytest.mark.parametrize("fmt", ["coco", "yolo_pose"])
def test_coco_and_yolo_exports_show_the_same_table_and_a_download_link(imported, users, client, fmt):
    from annotations.core.jobs import start_job

    start_job(imported, "split", {}, users["pi"], run_now=True)
    job = start_job(imported, "export", {"format": fmt, "subsets": ["train", "val"]}, users["reviewer"],
                    run_now=True)
    job.refresh_from_db()
    assert job.status == "succeeded", job.traceback
    html = page(client, users["reviewer"], job)
    table = html.split('id="job-export-counts"')[1].split("</table>")[0]
    # In the order asked for (the stored result's keys come back sorted).
    assert re.findall(r"<tr><td>(\w+)</td><td>\d+</td><td>\d+</td></tr>", table) == ["train", "val"]
    assert f'id="job-link-download" class="button" href="/api/jobs/{job.pk}/download/"' in html


def test_retrain_predict_and_score_jobs_link_to_the_models_page_and_the_queues(project, users, client):
    retrain = finished(project, "retrain", {"split_version": 1, "training_frames": 120, "models": {
        "keypoints": {"id": 1, "label": "keypoints v2", "promoted": True, "reason": "better OKS", "quality": {}}},
        "next_job": None}, users["pi"])
    html = page(client, users["pi"], retrain)
    assert 'id="job-link-models" class="button" href="/p/demo/models/"' in html and "better OKS" in html
    predict = finished(project, "predict", {"frames": 5, "predictions": 5, "model_version": "kp v1"}, users["pi"])
    assert 'id="job-link-queues" class="button" href="/p/demo/#queues"' in page(client, users["pi"], predict)
    score = finished(project, "score", {"model_version": "kp v1", "scored_frames": 5, "uncertain": {"frames": 5},
                                        "label_error": {"checked": 5, "flagged": 1}, "queue_sizes": {"review": 0}},
                     users["pi"])
    html = page(client, users["pi"], score)
    assert 'id="job-link-queues"' in html and "1 of 5 checked" in html


def test_merge_and_split_jobs_link_to_the_project(project, users, client):
    merge = finished(project, "merge", {"sources": ["demo"], "images": 3, "annotations": 3}, users["pi"])
    assert 'id="job-link-project" class="button" href="/p/demo/"' in page(client, users["pi"], merge)
    split = finished(project, "split", {"split_version": 1, "kept": 0, "assigned": 2, "subsets": {
        "train": {"clips": 1, "frames": 4, "annotations": 4}}}, users["pi"])
    html = page(client, users["pi"], split)
    assert "<tr><td>train</td><td>1</td><td>4</td><td>4</td></tr>" in html and 'id="job-link-project"' in html


def test_a_kind_without_its_own_page_shows_its_plain_values_and_a_running_job_no_summary(project, users, client):
    from annotations.models import Job

    job = finished(project, "interpolate", {"created": 3, "updated": 1, "kept": 0, "temporal": {"flagged": []}},
                   users["pi"], params={"clip": "c1"})
    assert "Frames filled</td><td>3" in page(client, users["pi"], job)
    running = Job.objects.create(project=project, kind="export", status=Job.Status.QUEUED, created_by=users["pi"])
    html = page(client, users["pi"], running)
    assert 'id="job-summary"' not in html and 'id="job-raw"' in html
