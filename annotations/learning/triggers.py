"""Automatic retraining: after N newly verified frames (a periodic check run by Celery beat).

A frame counts as newly verified when, since the last retrain of its project was started, a
person (or an import) saved its annotation, or a reviewer accepted or fixed it. Rejected frames
do not count. N is the project's LearningSettings.retrain_after (0 = never automatically).
"""

from __future__ import annotations

import logging

from django.db.models import Q

from annotations.core.errors import InputError
from annotations.learning.retrain import start_retrain
from annotations.models import Annotation, FrameStatus, FrameTransition, Job, LearningSettings, Project

log = logging.getLogger(__name__)


def last_retrain_started(project):
    job = Job.objects.filter(project=project, kind=Job.Kind.RETRAIN).exclude(status=Job.Status.CANCELLED).order_by(
        "-created_at").first()
    return job.created_at if job else None


def newly_verified_frames(project, since=None) -> int:
    """Distinct frames verified (saved, imported, accepted or fixed) after `since` (default: the last retrain)."""
    since = since if since is not None else last_retrain_started(project)
    saved = Annotation.objects.filter(project=project, num_keypoints__gt=0).exclude(
        frame__status=FrameStatus.REJECTED)
    decided = FrameTransition.objects.filter(project=project, action__in=[FrameTransition.Action.ACCEPT,
                                                                          FrameTransition.Action.FIX])
    if since is not None:
        saved = saved.filter(updated_at__gt=since)
        decided = decided.filter(created_at__gt=since)
    # UNION (not UNION ALL) counts a frame saved and accepted once, in the database.
    return saved.values("frame_id").union(decided.values("frame_id")).count()


def maybe_retrain(project) -> Job | None:
    """Start a retrain of `project` when enough frames were verified since the last one."""
    threshold = LearningSettings.of(project).retrain_after
    if threshold <= 0:
        return None
    count = newly_verified_frames(project)
    if count < threshold:
        return None
    try:
        job = start_retrain(project, {"trigger": "auto", "newly_verified": count})
    except InputError:  # one is queued or running already; the next check looks again
        return None
    log.info("auto retrain of %s after %s newly verified frames: job %s", project.slug, count, job.pk)
    return job


def check_all_projects() -> list[dict]:
    """The beat task's body: every project with automatic retraining on (or default settings)."""
    started = []
    projects = Project.objects.filter(Q(learning_settings__isnull=True) | Q(learning_settings__retrain_after__gt=0))
    for project in projects:
        job = maybe_retrain(project)
        if job is not None:
            started.append({"project": project.slug, "job": job.pk})
    return started
