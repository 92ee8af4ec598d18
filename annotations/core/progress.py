"""Progress reports and cancellation of jobs.

A person cancels a job by setting its row to `cancelled` (see `request_cancel`). A queued job is
then never claimed by a worker; a running one notices at its next progress report (every epoch
of training, every ten frames of prediction) and stops by raising JobCancelled, which
`cancellable` turns into a job that ends `cancelled`, not `failed`.
"""

from __future__ import annotations

import functools
import time

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from annotations.core.errors import InputError
from annotations.core.jobs import kind_of
from annotations.models import Job, Role

CHECK_EVERY = 1.0  # seconds between reads of the job row for a cancel request


class JobCancelled(Exception):
    """Someone cancelled the job while it ran."""


def request_cancel(job: Job, user=None) -> bool:
    """Mark a queued or running job cancelled; True if it was still unfinished."""
    who = user.get_username() if user is not None else "someone"
    changed = Job.objects.filter(
        pk=job.pk, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        status=Job.Status.CANCELLED, message=f"cancelled by {who}", finished_at=timezone.now())
    return bool(changed)


def cancel_for(job: Job, user) -> None:
    """Cancel `job` on `user`'s behalf, or raise why not (the rules the page and the API share).

    Only the person who started it or the project's PI may cancel; a running job stops only if
    its kind stops while running (reports progress); a finished job stays as it is.
    """
    if job.created_by_id != user.pk and not (job.project and job.project.has_role(user, Role.PI)):
        raise PermissionDenied("only the PI or whoever started the job may cancel it")
    if job.status == Job.Status.RUNNING and not kind_of(job.kind).stops_while_running:
        raise InputError(f"a running {job.kind} job cannot be stopped; only queued ones can be cancelled")
    if not request_cancel(job, user):
        job.refresh_from_db(fields=["status"])
        raise InputError(f"job {job.pk} has already finished ({job.status})")


def is_cancelled(job: Job) -> bool:
    # Read committed: even inside a job's transaction this sees a cancel committed by the web request.
    return Job.objects.filter(pk=job.pk, status=Job.Status.CANCELLED).exists()


class Progress:
    """A progress callback (fraction 0..1, message) mapped onto [start, end] of the job's bar.

    Every call may raise JobCancelled; `sub(a, b)` gives a callback for a part of this range.
    """

    def __init__(self, job: Job | None, start: float = 0.0, end: float = 1.0, _clock: list | None = None):
        self.job, self.start, self.end = job, start, end
        self._clock = _clock if _clock is not None else [0.0]

    def __call__(self, fraction: float, message: str = "") -> None:
        if self.job is None:
            return
        now = time.monotonic()
        if now - self._clock[0] >= CHECK_EVERY:
            self._clock[0] = now
            if is_cancelled(self.job):
                raise JobCancelled(f"job {self.job.pk} was cancelled")
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.job.report(self.start + (self.end - self.start) * fraction, message)

    def sub(self, a: float, b: float) -> Progress:
        span = self.end - self.start
        return Progress(self.job, self.start + span * a, self.start + span * b, self._clock)


def cancellable(handler):
    """Wrap a job handler so that a cancel request ends the job `cancelled` with what was done so far.

    run_job (annotations/core/jobs.py) marks a job succeeded after its handler returns; a cancelled job's
    row already says `cancelled`, so this instance's closing write is made a no-op.
    """

    @functools.wraps(handler)
    def run(job: Job) -> dict:
        try:
            return handler(job)
        except JobCancelled:
            Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED, finished_at=timezone.now())
            job.refresh_from_db()
            job.succeed = lambda result, message="": None  # keep the cancelled state run_job would overwrite
            return {"cancelled": True}

    return run
