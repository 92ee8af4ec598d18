"""The job registry: every kind registered once, by its feature, with its queue and role; jobs are sent
to the queue of their kind; a message under the former ML task name still runs."""

import pytest

from annotations.core import jobs
from annotations.core.errors import InputError
from annotations.models import Job, Role


def test_every_job_kind_is_registered_by_its_feature_with_its_queue_and_role():
    assert set(jobs.REGISTRY) == set(Job.Kind.values)
    assert jobs.kinds_of("datasets") == ["import", "merge", "split", "export", "store_frames"]
    assert jobs.kinds_of("video") == ["extract", "interpolate"]
    assert jobs.kinds_of("learning") == ["predict", "score", "retrain"]
    assert {k for k, spec in jobs.REGISTRY.items() if spec.queue == "ml"} == {"predict", "score", "retrain"}
    assert all(spec.stops_while_running for spec in jobs.REGISTRY.values())
    assert all(spec.time_limit > 0 for spec in jobs.REGISTRY.values())
    assert jobs.kind_of("retrain").on_abandon is not None
    assert jobs.kind_of("export").role == Role.REVIEWER and jobs.kind_of("retrain").role == Role.PI
    assert jobs.kind_of("predict").role == Role.REVIEWER and jobs.kind_of("import").role == Role.PI


def test_it_refuses_an_unknown_kind_and_a_second_handler_for_a_kind():
    with pytest.raises(InputError, match="unknown job kind"):
        jobs.kind_of("bake")
    with pytest.raises(ValueError, match="already registered"):
        jobs.job_handler(Job.Kind.EXPORT)(lambda job: {})
    with pytest.raises(ValueError, match="not a Job.Kind"):
        jobs.job_handler("bake")


class FakeApp:
    """Stands in for the Celery app to see where start_job sends a job."""

    def __init__(self):
        self.sent = []
        self.conf = type("Conf", (), {"task_always_eager": False, "task_default_queue": "default"})()

    def send_task(self, name, args, queue, **options):
        self.sent.append((name, args, queue))
        self.options = options
        return type("Result", (), {"id": "task-1"})()


@pytest.mark.django_db(transaction=True)
def test_jobs_are_sent_by_task_name_to_the_queue_of_their_kind(project, users, settings, monkeypatch):
    fake = FakeApp()
    monkeypatch.setattr(jobs, "current_app", fake)
    settings.POSEREVIEW_ML_QUEUE = "ml-gpu"
    export = jobs.start_job(project, "export", {}, users["pi"])
    retrain = jobs.start_job(project, "retrain", {}, users["pi"])
    assert fake.sent == [(jobs.TASK_NAME, [export.pk], "default"), (jobs.TASK_NAME, [retrain.pk], "ml-gpu")]
    assert Job.objects.get(pk=export.pk).celery_task_id == "task-1"
    # The kind's time limit goes with the message: the soft one ends the job failed, the hard one a minute later.
    assert fake.options["soft_time_limit"] == jobs.kind_of("retrain").time_limit
    assert fake.options["time_limit"] == fake.options["soft_time_limit"] + 60


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_a_message_queued_under_the_former_ml_task_name_still_runs(project, users):
    from annotations.tasks import run_ml_job

    job = Job.objects.create(project=project, kind=Job.Kind.SPLIT, params={"seed": 1}, created_by=users["pi"])
    run_ml_job.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.result["split_version"] == 1
    assert run_ml_job.name == "annotations.tasks.run_ml_job"
