"""Pre-annotating new frames: the active keypoint model's predict job (which queues scoring)."""

from __future__ import annotations

from annotations.core.errors import InputError
from annotations.core.jobs import QueueUnavailable, start_job
from annotations.learning import runtime
from annotations.models import Job, Project


def preannotate(project: Project, frame_ids: list[int], user=None) -> dict:
    """Start the model's predict job on the new frames (it queues the score job when it is done).

    Without a model to predict with, the result says so instead of pretending.
    """
    if not frame_ids:
        return {"requested": True, "available": True, "jobs": [], "reason": "no new frames"}
    try:
        version = runtime.keypoint_version_for(project)
    except InputError as exc:
        return {"requested": True, "available": False, "reason": str(exc)}
    try:
        job = start_job(project, Job.Kind.PREDICT, {"frames": frame_ids, "then_score": True}, user)
    except QueueUnavailable as exc:  # the frames are stored; the predict job's row says failed and why
        return {"requested": True, "available": False, "reason": str(exc.detail), "jobs": [exc.job.pk]}
    return {"requested": True, "available": True, "jobs": [job.pk], "model": str(version)}
