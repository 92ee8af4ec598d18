"""Who starts what, one retrain at a time, cancelling, automatic retraining and the learning settings."""

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection

from annotations.core import progress
from annotations.core.errors import InputError
from annotations.core.jobs import run_job
from annotations.core.progress import request_cancel
from annotations.learning import retrain as retrain_module
from annotations.learning.retrain import LOCK_NAMESPACE, start_retrain
from annotations.learning.triggers import check_all_projects, newly_verified_frames
from annotations.models import Annotation, Job, LearningSettings, ModelVersion
from annotations.review import editing
from tests.annotations.learning.test_learning_jobs import TINY_FORM, TINY_KEYPOINTS
from tests.conftest import api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def test_learning_jobs_start_by_role_and_a_second_retrain_is_refused(imported, users):
    client = api_client(users["reviewer"])
    assert client.post("/api/projects/demo/learning/retrain/", {}, format="json").status_code == 403
    response = client.post("/api/projects/demo/learning/score/", {}, format="json")
    assert response.status_code == 202 and response.json()["kind"] == "score"
    assert api_client(users["annotator"]).post("/api/projects/demo/learning/predict/").status_code == 403
    first = api_client(users["pi"]).post("/api/projects/demo/learning/retrain/", {"params": {"force": True}},
                                         format="json")
    assert first.status_code == 202 and first.json()["params"] == {"force": True}
    second = api_client(users["pi"]).post("/api/projects/demo/learning/retrain/", {}, format="json")
    assert second.status_code == 400 and f"job {first.json()['id']}" in second.json()["detail"]
    assert Job.objects.filter(kind="retrain").count() == 1


def test_a_retrain_does_nothing_while_another_session_holds_the_projects_lock(imported, users):
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"], dbname=db["NAME"],
                         password=db["PASSWORD"] or None, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, imported.pk])
        job = Job.objects.create(project=imported, kind="retrain", created_by=users["pi"],
                                 params={"keypoint_config": TINY_KEYPOINTS})
        run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "another retrain of demo is running" in job.message
    assert ModelVersion.objects.count() == 0


def test_a_queued_job_can_be_cancelled_and_is_then_never_run(imported, users):
    job = start_retrain(imported, {"keypoint_config": TINY_KEYPOINTS}, users["pi"])
    assert api_client(users["annotator"]).post(f"/api/jobs/{job.pk}/cancel/").status_code == 403
    response = api_client(users["pi"]).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["message"] == "cancelled by pi"
    run_job(job.pk)  # a worker picking it up later leaves it alone
    job.refresh_from_db()
    assert job.status == "cancelled" and ModelVersion.objects.count() == 0
    again = api_client(users["pi"]).post(f"/api/jobs/{job.pk}/cancel/")
    assert again.status_code == 400 and "already finished" in again.json()["detail"]
    start_retrain(imported, {}, users["pi"])  # a cancelled retrain no longer blocks a new one


def test_the_models_page_cancels_by_the_same_rules(imported, users, client):
    job = start_retrain(imported, {"keypoint_config": TINY_KEYPOINTS}, users["pi"])
    url = f"/p/demo/models/jobs/{job.pk}/cancel/"
    client.force_login(users["reviewer"])  # may see the job, did not start it, is not the PI
    response = client.post(url, follow=True)
    assert "only the PI or whoever started the job may cancel it" in response.content.decode()
    job.refresh_from_db()
    assert job.status == "queued"
    client.force_login(users["pi"])
    assert f"job {job.pk} cancelled" in client.post(url, follow=True).content.decode()
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert "has already finished (cancelled)" in client.post(url, follow=True).content.decode()


def test_a_running_retrain_stops_at_its_next_progress_report_when_cancelled(imported, users, monkeypatch):
    monkeypatch.setattr(progress, "CHECK_EVERY", 0.0)
    job = Job.objects.create(project=imported, kind="retrain", created_by=users["pi"],
                             params={"keypoint_config": TINY_KEYPOINTS, "form_config": TINY_FORM})

    def training_that_gets_cancelled(train, val, images, out, skeleton, config, progress=None, **kw):
        progress(0.1, "epoch 1")
        assert request_cancel(Job.objects.get(pk=job.pk), users["pi"])
        progress(0.2, "epoch 2")  # raises: the job was cancelled
        raise AssertionError("training went on after the cancel")

    monkeypatch.setattr(retrain_module, "train_keypoint_model", training_that_gets_cancelled)
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.message == "cancelled by pi" and job.finished_at
    versions = ModelVersion.objects.filter(project=imported)
    assert versions.count() == 2 and {v.status for v in versions} == {"failed"}
    assert {v.promotion["reason"] for v in versions} == {"cancelled"} and not versions.filter(is_active=True)


def test_enough_newly_verified_frames_start_a_retrain_and_only_one(imported, users):
    LearningSettings.objects.create(project=imported, retrain_after=5)
    assert newly_verified_frames(imported) == 210  # the import verified them; nothing was trained yet
    started = check_all_projects()
    assert started == [{"project": "demo", "job": started[0]["job"]}]
    job = Job.objects.get(pk=started[0]["job"])
    assert job.kind == "retrain" and job.params["trigger"] == "auto" and job.params["newly_verified"] == 210
    assert check_all_projects() == []  # one is queued already
    Job.objects.filter(pk=job.pk).update(status="succeeded")
    assert newly_verified_frames(imported) == 0
    anns = list(Annotation.objects.filter(project=imported).order_by("id")[:5])
    for ann in anns[:4]:
        kp = list(ann.keypoints)
        kp[0] += 2
        editing.save_edit(ann.pk, users["annotator"], {"keypoints": kp}, ann.version)
    assert newly_verified_frames(imported) == 4 and check_all_projects() == []
    kp = list(anns[4].keypoints)
    kp[0] += 2
    editing.save_edit(anns[4].pk, users["annotator"], {"keypoints": kp}, anns[4].version)
    assert [s["project"] for s in check_all_projects()] == ["demo"]
    LearningSettings.objects.filter(project=imported).update(retrain_after=0)
    Job.objects.filter(kind="retrain").update(status="succeeded")
    editing.save_edit(anns[0].pk, users["annotator"], {"keypoints": list(anns[0].keypoints)},
                      Annotation.objects.get(pk=anns[0].pk).version)
    assert check_all_projects() == []  # switched off


def test_beat_runs_the_retrain_check_on_a_schedule():
    from webapp.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["auto-retrain-check"]
    app.loader.import_default_modules()
    assert entry["task"] == "annotations.tasks.check_auto_retrain" and entry["task"] in app.tasks
    assert entry["schedule"] > 0


def test_learning_settings_are_read_by_reviewers_and_changed_by_pis(imported, users):
    assert api_client(users["reviewer"]).get("/api/projects/demo/learning/settings/").json()["retrain_after"] == 50
    assert api_client(users["reviewer"]).patch("/api/projects/demo/learning/settings/", {"retrain_after": 3},
                                               format="json").status_code == 403
    client = api_client(users["pi"])
    response = client.patch("/api/projects/demo/learning/settings/",
                            {"retrain_after": 20, "keypoint_config": {"epochs": 30, "input_size": [48, 64]}},
                            format="json")
    assert response.status_code == 200 and response.json()["keypoint_config"]["epochs"] == 30
    assert LearningSettings.of(imported).retrain_after == 20
    bad = client.patch("/api/projects/demo/learning/settings/", {"keypoint_config": {"epoch": 3}}, format="json")
    assert bad.status_code == 400 and "epoch" in bad.json()["detail"]
    with pytest.raises(InputError):
        start_retrain(imported, {}, users["pi"]) and start_retrain(imported, {}, users["pi"])
