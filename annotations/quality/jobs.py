"""Quality job kinds: the model-free label checks."""

from __future__ import annotations

from annotations.core.errors import InputError
from annotations.core.jobs import job_handler
from annotations.models import Job, Role
from annotations.quality.checks import check_and_feed, parse_kinds

# Flags kept in the job's result (the queue holds them all).
RESULT_FLAGS = 2000


@job_handler(Job.Kind.CHECK_LABELS, role=Role.REVIEWER, time_limit=3600)
def run_check_labels(job: Job) -> dict:
    """params: kinds (optional list of checks). Feeds the label-error queue; returns the summary and flags."""
    project = job.project
    if project is None:
        raise InputError(f"job {job.pk} belongs to no project")
    report = check_and_feed(project, kinds=parse_kinds(job.params.get("kinds")))
    summary = report["summary"]
    job.message = f"{summary['flags']} flags on {summary['frames']} frames"
    return {"summary": summary, "flags": report["flags"][:RESULT_FLAGS]}
