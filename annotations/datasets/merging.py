"""Merge several projects and/or COCO files into one dataset (the lab's merge semantics).

Image and annotation ids are renumbered without collisions and frames without
annotations are left out (mlcore.coco.merge_coco). The merged COCO JSON is the job's
result file; with `into`, it is also imported into a target project (images in place).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from annotations.core.errors import InputError
from annotations.core.storage import is_local, local_image
from annotations.datasets import exporting, importing
from annotations.datasets.exporting import save_job_file
from annotations.datasets.formats.coco import to_coco_dict, write_json_atomic
from annotations.datasets.imports import server_path
from annotations.models import Project, Role
from mlcore.coco import merge_coco


def merge_params(params: dict) -> dict:
    """Merge params checked by type, with every file path resolved inside POSEREVIEW_IMPORT_ROOTS.

    projects: list of slugs; files: list of paths, or of {"path": ..., "form_label": ...}; into: a slug or null.
    Called before the job is queued and again when it runs (a stored job's params are never trusted)."""
    projects = params.get("projects", [])
    if not isinstance(projects, list) or not all(isinstance(s, str) and s for s in projects):
        raise InputError("'projects' must be a list of project slugs")
    into = params.get("into")
    if into is not None and not isinstance(into, str):
        raise InputError("'into' must be a project slug or null")
    files = params.get("files", [])
    if not isinstance(files, list):
        raise InputError("'files' must be a list of paths on the server")
    checked: list[str | dict] = []
    for n, entry in enumerate(files):
        if isinstance(entry, dict):
            label = entry.get("form_label")
            if label is not None and not isinstance(label, str):
                raise InputError(f"'files'[{n}]: 'form_label' must be a string or null")
            checked.append({**entry, "path": server_path(entry.get("path"), f"'files'[{n}]['path']")})
        elif isinstance(entry, str):
            checked.append(server_path(entry, f"'files'[{n}]"))
        else:
            raise InputError(f"'files'[{n}] must be a path (a string) or {{\"path\": ..., \"form_label\": ...}}")
    return {**params, "projects": projects, "files": checked, "into": into or None}


def collect_sources(job, p: dict) -> tuple[list[dict], list[str | None], dict[str, str], list[str]]:
    """(COCO dicts, form label per dict, {file name: image path}, names) for the job's sources (p: checked params)."""
    datasets: list[dict] = []
    labels: list[str | None] = []
    image_files: dict[str, str] = {}
    names: list[str] = []
    for slug in p["projects"]:
        project = Project.objects.filter(slug=slug).first()
        if project is None or not project.has_role(job.created_by, Role.REVIEWER):
            raise InputError(f"project {slug!r} does not exist or you may not read it")
        ds = exporting.build_dataset(project, "all")
        image_files.update({im.file_name: local_image(im.path) for im in ds.images if im.path})
        datasets.append(to_coco_dict(ds))
        labels.append(None)
        names.append(f"project {slug}")
    for entry in p["files"]:
        path = entry["path"] if isinstance(entry, dict) else entry
        datasets.append(importing.load_json_file(path))
        labels.append(entry.get("form_label") if isinstance(entry, dict) else None)
        names.append(os.path.basename(path))
    if len(datasets) < 2:
        raise InputError("a merge needs at least two sources (projects or files)")
    return datasets, labels, image_files, names


def run_merge_job(job) -> dict:
    params = merge_params(job.params)
    datasets, labels, image_files, names = collect_sources(job, params)
    job.report(0.3, f"merging {len(datasets)} sources")
    try:
        merged = merge_coco(datasets, form_labels=labels, drop_unannotated=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"cannot merge: {exc}") from exc
    merged.setdefault("info", {})["merged_from"] = names
    fd, tmp = tempfile.mkstemp(prefix="merge-", suffix=".json")
    os.close(fd)
    result = {"sources": names, "images": len(merged["images"]), "annotations": len(merged["annotations"])}
    target_slug = params["into"]
    try:  # a failed or cancelled merge (the import rolls back) leaves no file behind
        write_json_atomic(merged, tmp)
        if target_slug:
            target = Project.objects.filter(slug=target_slug).first()
            if target is None or not target.has_role(job.created_by, Role.PI):
                raise InputError(f"target project {target_slug!r} does not exist or you are not its PI")
            result["import"] = importing.import_coco_data(
                target, merged, source_name=f"merge-job-{job.pk}.json", image_files=image_files,
                copy_images=not is_local(), user=job.created_by, job=job)
        save_job_file(job, Path(tmp), f"merged-{job.pk}.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    job.message = f"merged {result['images']} annotated images from {len(names)} sources"
    return result
