"""Progress reports and cancellation of jobs.

A person cancels a job by setting its row to `cancelled` (see `request_cancel`). A queued job is
then never claimed by a worker; a running one notices at its next progress report (every epoch
of training, every ten frames of prediction, every batch of an import: each report is a safe
point, see annotations/core/jobs.py) and stops by raising JobCancelled, which the job runner
turns into a job that ends `cancelled`, not `failed`. Work inside a transaction (an import, a
split, an interpolation) rolls back; files a job wrote are removed by the code that wrote them.
"""

from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from annotations.core.errors import InputError, JobCancelled
from annotations.core.jobs import CHECK_EVERY, kind_of, stopped_elsewhere
from annotations.models import Job, Role

__all__ = ["CHECK_EVERY", "JobCancelled", "Progress", "cancel_for", "cancellable", "is_cancelled", "request_cancel"]


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
    """Cancelled, or declared dead while this instance still runs: either way it should stop."""
    return stopped_elsewhere(job)


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
    """Kept for handlers that still name it: the job runner now stops every kind cleanly on JobCancelled."""
    return handler
