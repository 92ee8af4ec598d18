"""The job page: progress, outcome and what the job found.

The readable result of a kind lives with its feature as a template, templates/annotations/jobs/<kind>.html
(links to what the job made: the clip timeline, the download, the models page, the queues); kinds
without one get a table of the result's plain values. The raw JSON stays behind a <details>."""

from __future__ import annotations

import json

from django.shortcuts import get_object_or_404, render
from django.template.loader import select_template

from annotations.core.jobs import notice_if_dead
from annotations.core.permissions import job_visible
from annotations.models import Job


def job_detail(request, job_id):
    job = get_object_or_404(Job.objects.select_related("project", "created_by"), pk=job_id)
    if not job_visible(request.user, job):
        return render(request, "404.html", status=404)
    notice_if_dead(job)
    result = job.result or {}
    counts = [(k.replace("_", " "), v) for k, v in result.items() if isinstance(v, (int, float, str)) and v is not True]
    name_lists = [
        ("Listed images that are missing", result.get("missing_images", []), result.get("missing_images_count", 0)),
        ("Image files no annotation file lists", result.get("unlisted_images", []),
         result.get("unlisted_images_count", 0)),
        ("Conflicts with corrections made here (kept)", [c.get("file_name") for c in result.get("conflicts", [])],
         len(result.get("conflicts", []))),
    ]
    summary = select_template([f"annotations/jobs/{job.kind}.html", "annotations/jobs/generic.html"])
    return render(request, "annotations/job_detail.html", {
        "job": job, "result": result, "summary_template": summary.template.name, "counts": counts,
        "name_lists": name_lists, "problems": result.get("problems", [])[:500],
        "result_json": json.dumps(result, indent=2)[:50000],
    })
