"""Dataset job kinds: import, split, export, merge and store_frames. Each handler takes its Job and returns the result
dict stored on it; the rules live in the modules named."""

from __future__ import annotations

from annotations.core.errors import InputError
from annotations.core.files import remove_upload
from annotations.core.jobs import job_handler
from annotations.datasets import exporting, importing, merging, splitting, storing
from annotations.datasets.imports import checked_import_paths
from annotations.models import Job, Role


@job_handler(Job.Kind.IMPORT, role=Role.PI, time_limit=4 * 3600)
def run_import(job: Job) -> dict:
    p = job.params
    project = job.project
    if project is None:
        raise InputError(f"job {job.pk} belongs to no project")
    common = dict(form_label=p.get("form_label") or None, user=job.created_by, job=job,
                  source_name=p.get("source_name") or None)
    try:
        paths = checked_import_paths(p)
        if "zip" in paths:
            return importing.import_cvat_zip(project, paths["zip"], **common)
        return importing.import_coco_file(project, paths["annotation_path"], images_dir=paths["images_dir"],
                                          copy_images=bool(p.get("copy_images")), **common)
    finally:
        remove_upload(p.get("upload"))


@job_handler(Job.Kind.SPLIT, role=Role.PI, time_limit=1800)
def run_split(job: Job) -> dict:
    p = job.params
    version = splitting.create_split(job.project, ratios=p.get("ratios"), seed=int(p.get("seed", 42)),
                                     fresh=bool(p.get("fresh")), user=job.created_by, job=job)
    return {"split_version": version.number, **version.summary}


@job_handler(Job.Kind.EXPORT, role=Role.REVIEWER, time_limit=2 * 3600)
def run_export(job: Job) -> dict:
    p = job.params
    project = job.project
    if project is None:
        raise InputError(f"job {job.pk} belongs to no project")
    subsets = p.get("subsets") or ["train", "val", "test"]
    path, summary = exporting.export(project, p.get("format", "coco"), subsets,
                                     version_number=p.get("split_version"),
                                     include_images=bool(p.get("include_images")),
                                     include_unconfirmed=bool(p.get("include_unconfirmed")),
                                     verified_only=bool(p.get("verified_only")), job=job)
    name = f"{project.slug}-{p.get('format', 'coco')}-{'-'.join(subsets)}{summary['extension']}"
    exporting.save_job_file(job, path, name)
    job.message = f"exported {sum(c['annotations'] for c in summary['counts'].values())} annotations"
    return summary


@job_handler(Job.Kind.MERGE, role=Role.PI, time_limit=2 * 3600)
def run_merge(job: Job) -> dict:
    return merging.run_merge_job(job)


@job_handler(Job.Kind.STORE_FRAMES, role=Role.PI, time_limit=8 * 3600)
def run_store_frames(job: Job) -> dict:
    """Frames imported in place into media storage, batch by batch (datasets/storing.py)."""
    if job.project is None:
        raise InputError(f"job {job.pk} belongs to no project")
    return storing.store_in_place_frames(job.project, batch_size=int(job.params.get("batch_size")
                                                                     or storing.BATCH_SIZE), job=job)
