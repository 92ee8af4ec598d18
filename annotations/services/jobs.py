"""Starting and running background jobs. Celery tasks call `run_job`; everything else calls `start_job`.

A job runs its work in one transaction where the work is a database change, reports
progress on its Job row through a separate connection, and is safe to run twice: a job
that is no longer queued is left alone.
"""

from __future__ import annotations

import logging
import os
import traceback

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils import timezone

from ..models import Job, Project
from . import exporting, importing, merging, splitting
from .errors import InputError

log = logging.getLogger(__name__)


def start_job(project: Project | None, kind: str, params: dict, user=None, *, run_now: bool = False) -> Job:
    """Create a Job and queue it on Celery once the surrounding transaction commits."""
    if kind not in Job.Kind.values:
        raise InputError(f"unknown job kind {kind!r}; choose one of {Job.Kind.values}")
    job = Job.objects.create(project=project, kind=kind, params=params, created_by=user)
    if run_now:
        run_job(job.pk)
        job.refresh_from_db()
        return job
    from ..tasks import run_job as run_job_task, run_ml_job

    task = run_ml_job if kind in ML_KINDS else run_job_task
    transaction.on_commit(lambda: _enqueue(task, job))
    return job


def _enqueue(task, job: Job) -> None:
    result = task.apply_async(args=[job.pk])
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
        result = handler_for(job.kind)(job)
    except InputError as exc:
        job.fail(str(exc), result={"problems": exc.problems})
    except Exception as exc:  # a job must end as failed with its traceback, never stay running
        log.exception("job %s failed", job_id)
        job.fail(f"{type(exc).__name__}: {exc}", traceback.format_exc())
    else:
        job.succeed(result, message=job.message)


def _run_import(job: Job) -> dict:
    p = job.params
    common = dict(form_label=p.get("form_label") or None, user=job.created_by, job=job,
                  source_name=p.get("source_name") or None)
    try:
        if p.get("zip"):
            return importing.import_cvat_zip(job.project, p["zip"], **common)
        return importing.import_coco_file(job.project, p["annotation_path"], images_dir=p.get("images_dir") or None,
                                          copy_images=bool(p.get("copy_images")), **common)
    finally:
        _remove_upload(p.get("upload"))


def _remove_upload(name: str | None) -> None:
    """An uploaded file has served its purpose once its import ran (whatever the outcome)."""
    if name and name.startswith("uploads/"):
        default_storage.delete(name)
        folder = name.rsplit("/", 1)[0]
        try:
            os.rmdir(default_storage.path(folder))
        except (OSError, NotImplementedError):
            pass


def _run_split(job: Job) -> dict:
    p = job.params
    version = splitting.create_split(job.project, ratios=p.get("ratios"), seed=int(p.get("seed", 42)),
                                     fresh=bool(p.get("fresh")), user=job.created_by, job=job)
    return {"split_version": version.number, **version.summary}


def _run_export(job: Job) -> dict:
    p = job.params
    subsets = p.get("subsets") or ["train", "val", "test"]
    path, summary = exporting.export(job.project, p.get("format", "coco"), subsets,
                                     version_number=p.get("split_version"),
                                     include_images=bool(p.get("include_images")),
                                     verified_only=bool(p.get("verified_only")), job=job)
    name = f"{job.project.slug}-{p.get('format', 'coco')}-{'-'.join(subsets)}{summary['extension']}"
    exporting.save_job_file(job, path, name)
    job.message = f"exported {sum(c['annotations'] for c in summary['counts'].values())} annotations"
    return summary


def _run_merge(job: Job) -> dict:
    return merging.run_merge_job(job)


# kind -> handler(job) -> result dict. Handlers of other areas are named by dotted path and
# live in their own modules, so adding a job kind does not touch this file's imports.
HANDLERS = {
    Job.Kind.IMPORT: _run_import,
    Job.Kind.SPLIT: _run_split,
    Job.Kind.EXPORT: _run_export,
    Job.Kind.MERGE: _run_merge,
    Job.Kind.EXTRACT: "annotations.services.videos.run_extract_job",
    Job.Kind.INTERPOLATE: "annotations.services.interpolation.run_interpolate_job",
    Job.Kind.PREDICT: "annotations.services.learning.run_predict_job",
    Job.Kind.SCORE: "annotations.services.learning.run_score_job",
    Job.Kind.RETRAIN: "annotations.services.learning.run_retrain_job",
}
# Training and inference go to the `ml` queue, where GPU workers listen.
ML_KINDS = {Job.Kind.PREDICT, Job.Kind.SCORE, Job.Kind.RETRAIN}


def handler_for(kind: str):
    handler = HANDLERS[kind]
    return import_string(handler) if isinstance(handler, str) else handler
