"""Background jobs: one registry of job kinds, starting a job, and running it to its end.

Each feature package registers its kinds in its `jobs.py` with `@job_handler(kind, queue=..., role=...)`;
that table is the only place a kind's handler, Celery queue and minimum role are written. Celery
tasks call `run_job`; everything else calls `start_job`, which sends the one task by name, so this
module never imports `annotations.tasks` (nor any feature package).

A job runs its work in one transaction where the work is a database change, reports progress on
its Job row through a separate connection, and is safe to run twice: a job that is no longer queued
is left alone.

Every job ends, whatever happens to its worker:
- while it runs, a small thread writes `heartbeat_at` on its row every few seconds (progress reports
  write it too); a running job whose heartbeat is older than POSEREVIEW_JOB_STALE_SECONDS lost its
  worker (killed, out of memory, machine gone). `reap_stale_jobs` (a Celery beat task, and every
  start of a retrain) marks such jobs failed with the reason and calls its kind's `on_abandon`
  (a retrain's model versions are marked failed and their files removed). A task that the broker
  delivers again (acks_late) for such a job ends it the same way instead of doing nothing.
- every kind can be cancelled, running ones too: each progress report is a safe point where a
  cancelled job stops (JobCancelled); an import rolls back, the others remove what they wrote.
- each kind has a time limit (`time_limit`, seconds), sent to Celery as the task's soft limit (the
  job then fails with a message saying so) with a hard limit a minute later.
- the Celery message is sent after the transaction that created the Job commits; when the broker
  cannot be reached the Job is marked failed with the reason and QueueUnavailable (503) is raised.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from annotations.core.errors import InputError, JobCancelled
from annotations.models import Job, Project, Role

log = logging.getLogger(__name__)

TASK_NAME = "annotations.tasks.run_job"
Handler = Callable[[Job], dict]


@dataclass(frozen=True)
class JobKind:
    """A registered job kind.

    queue: "default" or "ml" (training and inference, where GPU workers listen); role: the minimum
    project role that may start it through its feature's endpoints; stops_while_running: a running
    instance notices a cancel at its next progress report (every kind does); feature: the package
    that registered it (`datasets`, `learning`, ...); time_limit: seconds a run may take before
    Celery stops it (soft limit; the hard one is a minute later); on_abandon(job, reason): cleans up
    after a run whose worker died (see reap_stale_jobs).
    """

    kind: str
    handler: Handler
    queue: str
    role: str
    stops_while_running: bool
    feature: str
    time_limit: int = 3600
    on_abandon: Callable[[Job, str], None] | None = None


REGISTRY: dict[str, JobKind] = {}


def job_handler(kind: str, *, queue: str = "default", role: str = Role.PI, stops_while_running: bool = True,
                time_limit: int = 3600, on_abandon: Callable[[Job, str], None] | None = None,
                ) -> Callable[[Handler], Handler]:
    """Register `handler(job) -> result dict` as the one handler of `kind`."""
    if kind not in Job.Kind.values:
        raise ValueError(f"{kind!r} is not a Job.Kind")
    if queue not in ("default", "ml"):
        raise ValueError(f"unknown queue {queue!r}")
    if not isinstance(time_limit, int) or time_limit <= 0:
        raise ValueError(f"time_limit must be a positive number of seconds, not {time_limit!r}")

    def register(handler: Handler) -> Handler:
        if kind in REGISTRY and REGISTRY[kind].handler.__qualname__ != handler.__qualname__:
            raise ValueError(f"job kind {kind!r} is already registered by {REGISTRY[kind].handler.__module__}")
        feature = handler.__module__.split(".")[1] if handler.__module__.startswith("annotations.") else ""
        REGISTRY[kind] = JobKind(kind, handler, queue, role, stops_while_running, feature, time_limit, on_abandon)
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


def time_limit_of(spec: JobKind) -> int:
    """The kind's time limit in seconds; POSEREVIEW_JOB_TIME_LIMITS ({kind: seconds}) may override it."""
    return int((getattr(settings, "POSEREVIEW_JOB_TIME_LIMITS", None) or {}).get(spec.kind, spec.time_limit))


class QueueUnavailable(APIException):
    """The broker could not be reached: the job was not queued (its row says failed, with the reason)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "queue_unavailable"

    def __init__(self, job: Job, reason: str):
        super().__init__(f"the job queue cannot be reached ({reason}); job {job.pk} was not started, "
                         "try again in a minute")
        self.job = job


def start_job(project: Project | None, kind: str, params: dict, user=None, *, run_now: bool = False) -> Job:
    """Create a Job and queue it on Celery once the surrounding transaction commits.

    Outside a transaction the message is sent at once. When the broker cannot be reached the Job ends
    failed and QueueUnavailable is raised (from the commit of the caller's transaction when inside one).
    """
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
    limit = time_limit_of(spec)
    try:
        result = current_app.send_task(
            TASK_NAME, args=[job.pk], queue=broker_queue(spec.queue), soft_time_limit=limit, time_limit=limit + 60,
            retry=True, retry_policy=getattr(settings, "POSEREVIEW_BROKER_RETRY_POLICY", None))
    except Exception as exc:  # kombu's OperationalError, a refused or timed-out connection, a full broker
        reason = f"{type(exc).__name__}: {exc}"
        log.error("job %s could not be queued: %s", job.pk, reason)
        Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            status=Job.Status.FAILED, message=f"the job queue could not be reached; nothing was run ({reason})",
            finished_at=timezone.now())
        job.refresh_from_db()
        raise QueueUnavailable(job, reason) from exc
    Job.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")


# -- running a job, and noticing one whose worker died ------------------------------------------

def heartbeat_seconds() -> float:
    return float(getattr(settings, "POSEREVIEW_JOB_HEARTBEAT_SECONDS", 10))


def stale_after() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "POSEREVIEW_JOB_STALE_SECONDS", 180)))


class Heartbeat:
    """A daemon thread that writes the running job's `heartbeat_at` every `every` seconds.

    It uses its own database connection (Django's are per thread), so it beats while the job's own
    connection is busy inside a long transaction, and closes it when the job ends.
    """

    def __init__(self, job_id: int, every: float | None = None):
        self.job_id, self.every = job_id, every or heartbeat_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
                except Exception:  # a database hiccup: the next beat tries again
                    log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)
                    connections["default"].close()
        finally:
            connections.close_all()  # this thread's connections only


def stopped_elsewhere(job: Job, using: str = "default") -> bool:
    """Someone cancelled the job, or it was declared dead (failed) while this instance still ran.

    Read committed: even inside a job's transaction this sees a cancel committed by the web request.
    using="jobstate" (the autocommit connection of progress reports) for checks made while the job's own
    connection may be busy: an import's COPY holds it, and a query there would wait for ever.
    """
    return Job.objects.using(using).filter(pk=job.pk, status__in=[Job.Status.CANCELLED, Job.Status.FAILED]).exists()


CHECK_EVERY = 1.0  # seconds between reads of the job row for a cancel request


def _with_safe_points(job: Job) -> None:
    """Make each progress report of `job` a safe point: a cancelled job raises JobCancelled there.

    A report of 1.0 (the work is done) is not a safe point: the job then ends as it is.
    """
    plain, last = job.report, [time.monotonic()]

    def report(progress: float, message: str = "") -> None:
        now = time.monotonic()
        if progress < 1.0 and now - last[0] >= CHECK_EVERY:
            last[0] = now
            if stopped_elsewhere(job, using="jobstate"):
                raise JobCancelled(f"job {job.pk} was cancelled")
        plain(progress, message)

    job.report = report  # type: ignore[method-assign]


def run_job(job_id: int) -> None:
    """Run a queued job to its end: succeeded with a result, failed with a message and traceback, or
    cancelled at a safe point."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, progress=0.0)
    if not claimed:
        _delivered_again(job_id)
        return
    job = Job.objects.select_related("project", "created_by").get(pk=job_id)
    spec = kind_of(job.kind)
    _with_safe_points(job)
    with Heartbeat(job.pk):
        try:
            result = spec.handler(job)
        except JobCancelled:
            _end_unless_ended(job, Job.Status.CANCELLED, "cancelled")
        except SoftTimeLimitExceeded:
            _end_unless_ended(job, Job.Status.FAILED, f"the job ran past its time limit of {time_limit_of(spec)} s "
                              "and was stopped; nothing it was doing was kept", traceback.format_exc())
        except InputError as exc:
            _end_unless_ended(job, Job.Status.FAILED, str(exc), result={"problems": exc.problems})
        except Exception as exc:  # a job must end as failed with its traceback, never stay running
            log.exception("job %s failed", job_id)
            _end_unless_ended(job, Job.Status.FAILED, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            job.refresh_from_db(fields=["status"])
            if job.status == Job.Status.CANCELLED:  # the work was done before the cancel could take effect
                job.message = (job.message + "; " if job.message else "") + "finished before the cancel took effect"
            job.succeed(result, message=job.message)


def _end_unless_ended(job: Job, status: str, message: str, traceback_text: str = "",
                      result: dict | None = None) -> None:
    """End a running job, unless a cancel or the reaper ended it already (its row then says why)."""
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=status, message=message, traceback=traceback_text, result=result or {}, finished_at=timezone.now())
    if status == Job.Status.CANCELLED:  # a cancel request set the status; record when the job stopped
        Job.objects.filter(pk=job.pk, status=Job.Status.CANCELLED).update(finished_at=timezone.now())
    job.refresh_from_db()


def _delivered_again(job_id: int) -> None:
    """The task came again (acks_late redelivery after a worker died, or a duplicate message)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None and job.status == Job.Status.RUNNING and abandon(
            job, "the worker stopped while running this job, and its task came back; it was not run again, "
                 "start it again"):
        return
    log.info("job %s is not queued any more; nothing to do", job_id)


def _stale() -> Q:
    cutoff = timezone.now() - stale_after()
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


def abandon(job: Job, reason: str) -> bool:
    """Mark a running job whose heartbeat is stale failed with `reason`, and let its kind clean up.

    False (and nothing changed) when the job is not running or still beats.
    """
    ended = Job.objects.filter(_stale(), pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED, message=reason, finished_at=timezone.now())
    if not ended:
        return False
    job.refresh_from_db()
    log.warning("job %s (%s) failed: %s", job.pk, job.kind, reason)
    spec = REGISTRY.get(job.kind)
    if spec is not None and spec.on_abandon is not None:
        try:
            spec.on_abandon(job, reason)
        except Exception:
            log.exception("cleaning up after job %s failed", job.pk)
    return True


def reap_stale_jobs(project: Project | None = None) -> list[int]:
    """Fail every running job (of `project`, or all) whose worker stopped beating; returns their ids."""
    qs = Job.objects.filter(_stale(), status=Job.Status.RUNNING)
    if project is not None:
        qs = qs.filter(project=project)
    return [job.pk for job in qs.select_related("project") if abandon(job, _dead_reason(job))]


def _dead_reason(job: Job) -> str:
    since = job.heartbeat_at or job.started_at
    return (f"the worker stopped while running this job (no sign of life since {since:%Y-%m-%d %H:%M:%S} UTC); "
            "what it had not finished was discarded, start it again")


def notice_if_dead(job: Job) -> Job:
    """A job being looked at: if it runs without a heartbeat, fail it now (no need to wait for the beat,
    which needs a live worker to run)."""
    if job.status == Job.Status.RUNNING and abandon(job, _dead_reason(job)):
        job.refresh_from_db()
    return job
