"""Thin Celery entry points: take ids, call the job service."""

from celery import shared_task

from annotations.core.jobs import reap_stale_jobs as reap_stale_jobs_service
from annotations.core.jobs import run_job as run_job_service
from annotations.learning.triggers import check_all_projects


@shared_task(name="annotations.tasks.run_job", acks_late=True)
def run_job(job_id: int) -> None:
    """Every job kind; annotations.core.jobs sends it to the queue its kind is registered for."""
    run_job_service(job_id)


@shared_task(name="annotations.tasks.run_ml_job", acks_late=True)
def run_ml_job(job_id: int) -> None:
    """The former name of ML jobs' task: messages already queued under it still run."""
    run_job_service(job_id)


@shared_task(name="annotations.tasks.check_auto_retrain")
def check_auto_retrain() -> list:
    """Beat: start a retrain of every project with enough newly verified frames (none while one runs)."""
    return check_all_projects()


@shared_task(name="annotations.tasks.reap_stale_jobs")
def reap_stale_jobs() -> list:
    """Beat: fail running jobs whose worker stopped beating (killed, out of memory), so none stays running."""
    return reap_stale_jobs_service()
