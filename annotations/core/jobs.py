"""Background jobs: one registry of job kinds, starting a job, and running it to its end.

Each feature package registers its kinds in its `jobs.py` with `@job_handler(kind, queue=..., role=...)`;
that table is the only place a kind's handler, Celery queue and minimum role are written. Celery
tasks call `run_job`; everything else calls `start_job`, which sends the one task by name, so this
module never imports `annotations.tasks` (nor any feature package).

A job runs its work in one transaction where the work is a database change, reports progress on
its Job row through a separate connection, and is safe to run twice: a job that is no longer queued
is left alone.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotations.core.errors import InputError
from annotations.models import Job, Project, Role

log = logging.getLogger(__name__)

TASK_NAME = "annotations.tasks.run_job"
Handler = Callable[[Job], dict]


@dataclass(frozen=True)
class JobKind:
    """A registered job kind.

    queue: "default" or "ml" (training and inference, where GPU workers listen); role: the minimum
    project role that may start it through its feature's endpoints; stops_while_running: a running
    instance notices a cancel at its next progress report (others can only be cancelled while queued);
    feature: the package that registered it (`datasets`, `learning`, ...).
    """

    kind: str
    handler: Handler
    queue: str
    role: str
    stops_while_running: bool
    feature: str


REGISTRY: dict[str, JobKind] = {}


def job_handler(kind: str, *, queue: str = "default", role: str = Role.PI,
                stops_while_running: bool = False) -> Callable[[Handler], Handler]:
    """Register `handler(job) -> result dict` as the one handler of `kind`."""
    if kind not in Job.Kind.values:
        raise ValueError(f"{kind!r} is not a Job.Kind")
    if queue not in ("default", "ml"):
        raise ValueError(f"unknown queue {queue!r}")

    def register(handler: Handler) -> Handler:
        if kind in REGISTRY and REGISTRY[kind].handler.__qualname__ != handler.__qualname__:
            raise ValueError(f"job kind {kind!r} is already registered by {REGISTRY[kind].handler.__module__}")
        feature = handler.__module__.split(".")[1] if handler.__module__.startswith("annotations.") else ""
        REGISTRY[kind] = JobKind(kind, handler, queue, role, stops_while_running, feature)
        return handler

    return register


def kind_of(kind: str) -> JobKind:
    """The registered kind; InputError for an unknown one."""
    try:
        return REGISTRY[kind]
    except KeyError:
        raise InputError(f"unknown job kind {kind!r}; choose one of {sorted(REGISTRY)}") from None


def kinds_of(feature: str) -> list[str]:
    """Kinds registered by one feature package, in Job.Kind order."""
    return [k for k in Job.Kind.values if k in REGISTRY and REGISTRY[k].feature == feature]


def broker_queue(queue: str) -> str:
    """The broker queue of a registry queue name (settings may rename `ml`, e.g. per test run)."""
    if queue == "ml":
        return settings.POSEREVIEW_ML_QUEUE
    return current_app.conf.task_default_queue


def start_job(project: Project | None, kind: str, params: dict, user=None, *, run_now: bool = False) -> Job:
    """Create a Job and queue it on Celery once the surrounding transaction commits."""
    spec = kind_of(kind)
    job = Job.objects.create(project=project, kind=kind, params=params, created_by=user)
    if run_now:
        run_job(job.pk)
        job.refresh_from_db()
        return job
    transaction.on_commit(lambda: _enqueue(spec, job))
    return job


def _enqueue(spec: JobKind, job: Job) -> None:
    if current_app.conf.task_always_eager:  # unit tests: run inline, as apply_async would
        run_job(job.pk)
        return
    result = current_app.send_task(TASK_NAME, args=[job.pk], queue=broker_queue(spec.queue))
    Job.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")


def run_job(job_id: int) -> None:
    """Run a queued job to its end: succeeded with a result, or failed with a message and traceback."""
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now(), progress=0.0)
    if not claimed:
        log.info("job %s is not queued any more; nothing to do", job_id)
        return
    job = Job.objects.select_related("project", "created_by").get(pk=job_id)
    try:
        result = kind_of(job.kind).handler(job)
    except InputError as exc:
        job.fail(str(exc), result={"problems": exc.problems})
    except Exception as exc:  # a job must end as failed with its traceback, never stay running
        log.exception("job %s failed", job_id)
        job.fail(f"{type(exc).__name__}: {exc}", traceback.format_exc())
    else:
        job.succeed(result, message=job.message)
