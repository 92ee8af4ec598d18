"""Thin Celery entry points: take ids, call the job service."""

from celery import shared_task

from .services.jobs import run_job as run_job_service


@shared_task(name="annotations.tasks.run_job", acks_late=True)
def run_job(job_id: int) -> None:
    run_job_service(job_id)


@shared_task(name="annotations.tasks.run_ml_job", acks_late=True)
def run_ml_job(job_id: int) -> None:
    """Training and inference jobs: routed to the `ml` queue so GPU workers take them."""
    run_job_service(job_id)


@shared_task(name="annotations.tasks.check_auto_retrain")
def check_auto_retrain() -> list:
    """Beat: start a retrain of every project with enough newly verified frames (none while one runs)."""
    from .services.learning.triggers import check_all_projects

    return check_all_projects()
