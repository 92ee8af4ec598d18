"""Jobs always end: a job whose worker died is failed on its own (heartbeat + reaper), its task coming
back fails it cleanly, a dead retrain no longer blocks the next one, a broker outage answers 503 and
leaves no queued Job behind, and every kind can be cancelled while it runs (an import rolls back)."""

import threading
import time
from datetime import timedelta

import pytest
from celery import Celery
from django.core.files.base import ContentFile
from django.db import connections
from django.utils import timezone

from annotations.core import jobs
from annotations.models import Annotation, Frame, Job, ModelKind, ModelStatus, ModelVersion
from tests.conftest import CORRECT_IMAGES, CORRECT_JSON, DATASET, api_client, needs_dataset

LONG_AGO = timedelta(minutes=30)


def running_job(project, user, kind, *, beat_ago=LONG_AGO, **params) -> Job:
    now = timezone.now()
    return Job.objects.create(project=project, kind=kind, params=params, created_by=user, status=Job.Status.RUNNING,
                              started_at=now - beat_ago, heartbeat_at=now - beat_ago)


def test_a_running_import_whose_worker_died_ends_failed_when_the_reaper_runs(project, users):
    from annotations.tasks import reap_stale_jobs

    job = running_job(project, users["pi"], Job.Kind.IMPORT)
    assert reap_stale_jobs.run() == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.finished_at
    assert "worker stopped while running this job" in job.message


def test_a_job_that_still_beats_or_started_before_heartbeats_existed_is_judged_by_its_last_sign_of_life(
        project, users):
    alive = running_job(project, users["pi"], Job.Kind.EXPORT, beat_ago=timedelta(seconds=5))
    legacy = Job.objects.create(project=project, kind=Job.Kind.SPLIT, created_by=users["pi"],
                                status=Job.Status.RUNNING, started_at=timezone.now() - LONG_AGO)
    assert jobs.reap_stale_jobs() == [legacy.pk]
    alive.refresh_from_db()
    assert alive.status == Job.Status.RUNNING


def test_a_retrain_whose_worker_died_fails_with_its_model_versions_and_the_next_retrain_starts(project, users):
    from annotations.learning.retrain import start_retrain

    dead = running_job(project, users["pi"], Job.Kind.RETRAIN)
    version = ModelVersion.objects.create(project=project, kind=ModelKind.KEYPOINTS, number=1, job=dead,
                                          status=ModelStatus.TRAINING)
    version.checkpoint.save("model.pt", ContentFile(b"half a model"), save=True)
    path = version.checkpoint.path
    # Before: "a retrain of demo is already running" until someone found and cancelled it by hand.
    nxt = start_retrain(project, {}, users["pi"])
    assert nxt.status == Job.Status.QUEUED and nxt.pk != dead.pk
    dead.refresh_from_db()
    version.refresh_from_db()
    assert dead.status == Job.Status.FAILED and "worker stopped" in dead.message
    assert version.status == ModelStatus.FAILED and not version.checkpoint
    assert "worker stopped" in version.promotion["reason"]
    import os

    assert not os.path.exists(path)


def test_a_task_delivered_again_for_a_job_whose_worker_died_fails_it_instead_of_doing_nothing(project, users):
    from annotations.tasks import run_job

    dead = running_job(project, users["pi"], Job.Kind.IMPORT)
    run_job.run(dead.pk)
    dead.refresh_from_db()
    assert dead.status == Job.Status.FAILED and "task came back" in dead.message

    alive = running_job(project, users["pi"], Job.Kind.IMPORT, beat_ago=timedelta(seconds=1))
    run_job.run(alive.pk)  # another worker runs it right now: left alone
    alive.refresh_from_db()
    assert alive.status == Job.Status.RUNNING


def test_a_dead_job_looked_at_through_the_api_or_its_page_ends_failed_without_waiting_for_the_beat(
        project, users, client):
    dead = running_job(project, users["pi"], Job.Kind.EXPORT)
    body = api_client(users["pi"]).get(f"/api/jobs/{dead.pk}/").json()
    assert body["status"] == "failed" and "worker stopped" in body["message"]
    other = running_job(project, users["pi"], Job.Kind.SPLIT)
    client.force_login(users["pi"])
    assert "worker stopped" in client.get(f"/jobs/{other.pk}/").content.decode()


def test_the_reaper_runs_on_the_beat_schedule(settings):
    import annotations.tasks  # noqa: F401  (registers the tasks)
    from webapp.celery import app

    entries = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "annotations.tasks.reap_stale_jobs" in entries and "annotations.tasks.reap_stale_jobs" in app.tasks
    assert settings.POSEREVIEW_JOB_STALE_SECONDS <= 300


@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_a_running_job_beats_while_it_works_and_at_each_progress_report(project, users):
    job = running_job(project, users["pi"], Job.Kind.EXPORT)
    with jobs.Heartbeat(job.pk, every=0.05) as hb:  # its own connection: it beats while the job's is busy
        time.sleep(0.3)
        assert hb._thread.is_alive()
    assert not hb._thread.is_alive()
    job.refresh_from_db()
    assert job.heartbeat_at > timezone.now() - timedelta(seconds=5)
    job.heartbeat_at = timezone.now() - LONG_AGO
    job.save(update_fields=["heartbeat_at"])
    job.report(0.5, "half way")
    job.refresh_from_db()
    assert job.heartbeat_at > timezone.now() - timedelta(seconds=5)



@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_progress_reports_are_throttled_within_a_tenth_but_a_new_phase_is_always_written(project, users):
    job = running_job(project, users["pi"], Job.Kind.IMPORT)

    def stored():
        return tuple(Job.objects.filter(pk=job.pk).values_list("progress", "message").get())

    job.report(0.10, "reading")
    job.report(0.15, "still reading")  # same tenth, within 0.5 s: not written
    assert stored() == (0.10, "reading")
    job.report(0.20, "writing frames")  # a new tenth: written at once
    job.report(0.50, "writing annotations")
    assert stored() == (0.50, "writing annotations")


# -- the broker ------------------------------------------------------------------------------

@pytest.fixture
def broker_down(monkeypatch):
    """The Celery app, configured from the settings, pointing at a closed port."""
    app = Celery("posereview-broker-down", set_as_current=False)  # the project app stays the current one
    app.config_from_object("django.conf:settings", namespace="CELERY")
    # Celery prefers the CELERY_BROKER_URL environment variable to broker_url; sending uses the write URL.
    app.conf.broker_write_url = "redis://127.0.0.1:9/0"
    app.conf.task_always_eager = False
    monkeypatch.setattr(jobs, "current_app", app)
    return app


@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_a_broker_outage_answers_503_fast_and_leaves_no_queued_job(project, users, broker_down, client):
    client = api_client(users["pi"])
    t0 = time.monotonic()
    response = client.post(f"/api/projects/{project.slug}/jobs/", {"kind": "split", "params": {"seed": 1}},
                           format="json")
    elapsed = time.monotonic() - t0
    assert response.status_code == 503, response.content
    assert "job queue cannot be reached" in response.json()["detail"]
    assert elapsed < 5
    assert not Job.objects.filter(status=Job.Status.QUEUED).exists()
    job = Job.objects.get(kind=Job.Kind.SPLIT)
    assert job.status == Job.Status.FAILED and "could not be reached" in job.message

    # A retrain is queued inside a transaction (on commit): same answer, and no queued row blocks the next one.
    for _ in range(2):
        response = client.post(f"/api/projects/{project.slug}/learning/retrain/", {"params": {}}, format="json")
        assert response.status_code == 503, response.content
    assert list(Job.objects.filter(kind=Job.Kind.RETRAIN).values_list("status", flat=True)) == ["failed"] * 2

    # The pages say so too (no 500): the message names the queue.
    client.force_login(users["pi"])
    response = client.post(f"/p/{project.slug}/jobs/split/", {"seed": 2, "train": 0.7, "val": 0.15, "test": 0.15},
                           follow=True)
    assert response.status_code == 200 and "job queue cannot be reached" in response.content.decode()


# -- cancelling running jobs -------------------------------------------------------------------

@needs_dataset
@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_a_running_import_cancelled_rolls_back(project, users, monkeypatch, settings):
    from annotations.datasets import import_frames

    monkeypatch.setattr(jobs, "CHECK_EVERY", 0.0)
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    job = Job.objects.create(project=project, kind=Job.Kind.IMPORT, created_by=users["pi"],
                             params={"annotation_path": str(CORRECT_JSON), "images_dir": str(CORRECT_IMAGES),
                                     "copy_images": True})
    plain_write = import_frames.FrameImport.write

    def write_then_cancel(self, *args, **kwargs):
        out = plain_write(self, *args, **kwargs)  # frames (and copied images) are written by now
        assert Frame.objects.filter(project=project).exists()
        # The PI presses cancel: another request, on another connection, while the import's transaction is open.
        cancel = threading.Thread(target=cancel_request)
        cancel.start()
        cancel.join()
        return out

    answers = []

    def cancel_request():
        try:
            answers.append(api_client(users["pi"]).post(f"/api/jobs/{job.pk}/cancel/").status_code)
        finally:
            connections.close_all()

    monkeypatch.setattr(import_frames.FrameImport, "write", write_then_cancel)
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert answers == [200]
    assert job.status == Job.Status.CANCELLED, (job.message, job.traceback)
    assert not Frame.objects.filter(project=project).exists()
    assert not Annotation.objects.filter(project=project).exists()
    media = settings.MEDIA_ROOT
    assert not [p for p in media.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png")]


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_every_kind_can_be_cancelled_while_it_runs(project, users):
    from annotations.core.progress import cancel_for

    for kind in jobs.REGISTRY:
        job = running_job(project, users["pi"], kind, beat_ago=timedelta(seconds=1))
        cancel_for(job, users["pi"])
        job.refresh_from_db()
        assert job.status == Job.Status.CANCELLED, kind


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_a_job_past_its_soft_time_limit_ends_failed_saying_so(project, users, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def too_slow(job):
        raise SoftTimeLimitExceeded()

    monkeypatch.setitem(jobs.REGISTRY, "export",
                        jobs.JobKind("export", too_slow, "default", "reviewer", True, "datasets", time_limit=7))
    job = Job.objects.create(project=project, kind=Job.Kind.EXPORT, created_by=users["pi"])
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "time limit of 7 s" in job.message


@needs_dataset
@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_a_running_export_cancelled_stops_and_leaves_no_file(imported, users, monkeypatch, settings):
    from annotations.datasets import exporting, splitting

    monkeypatch.setattr(jobs, "CHECK_EVERY", 0.0)
    splitting.create_split(imported, seed=1)
    job = Job.objects.create(project=imported, kind=Job.Kind.EXPORT, created_by=users["pi"],
                             params={"format": "coco", "subsets": ["train", "val", "test"]})
    plain_stream = exporting.stream_coco

    def stream_then_cancel(*args, **kwargs):
        out = plain_stream(*args, **kwargs)
        cancel = threading.Thread(target=lambda: (Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED),
                                                  connections.close_all()))
        cancel.start()
        cancel.join()
        return out

    monkeypatch.setattr(exporting, "stream_coco", stream_then_cancel)
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and not job.result_file
    assert not [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]


@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_a_job_that_chains_another_while_the_broker_is_down_keeps_its_own_outcome(project, users, broker_down):
    from annotations.learning.retrain import chain_after

    assert chain_after(project, {}, users["pi"], promoted=True) is None  # the retrain's models stay stored
    predict = Job.objects.get(kind=Job.Kind.PREDICT)
    assert predict.status == Job.Status.FAILED and "could not be reached" in predict.message
