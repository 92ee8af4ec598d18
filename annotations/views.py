"""Server-rendered pages: project list, project page with jobs, job progress, clips."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import stats
from .api import check_import_folder
from .forms import ExportForm, ImportForm, MergeForm, SplitForm
from .models import Job, Project, Role
from .permissions import JOB_ROLES, job_visible, project_for
from .services.errors import InputError
from .services.jobs import start_job


def project_list(request):
    projects = Project.visible_to(request.user).annotate(n_frames=Count("frames", distinct=True))
    return render(request, "annotations/project_list.html", {"projects": projects})


def project_detail(request, slug):
    project = project_for(request.user, slug)
    role = project.role_of(request.user)
    context = {
        "project": project, "role": role, "stats": stats.project_stats(project),
        "jobs": project.jobs.select_related("created_by")[:20],
        "split_versions": project.split_versions.all()[:5],
        "is_pi": role == Role.PI, "can_export": project.has_role(request.user, Role.REVIEWER),
        "import_form": ImportForm(project=project), "split_form": SplitForm(),
        "export_form": ExportForm(), "merge_form": MergeForm(user=request.user, project=project),
    }
    return render(request, "annotations/project_detail.html", context)


FORMS = {"import": ImportForm, "split": SplitForm, "export": ExportForm, "merge": MergeForm}


@require_POST
def start_project_job(request, slug, kind):
    if kind not in FORMS:
        return redirect("project", slug=slug)
    project = project_for(request.user, slug, JOB_ROLES[kind])
    kwargs = {"project": project} if kind == "import" else {"user": request.user, "project": project} if kind == "merge" else {}
    form = FORMS[kind](request.POST, request.FILES, **kwargs)
    if not form.is_valid():
        messages.error(request, f"{kind}: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("project", slug=slug)
    try:
        params = form.job_params()
        if params.get("images_dir"):
            params["images_dir"] = check_import_folder(params["images_dir"])
        job = start_job(project, kind, params, request.user)
    except InputError as exc:
        messages.error(request, str(exc))
        return redirect("project", slug=slug)
    return redirect("job", job_id=job.pk)


def job_detail(request, job_id):
    job = get_object_or_404(Job.objects.select_related("project", "created_by"), pk=job_id)
    if not job_visible(request.user, job):
        return render(request, "404.html", status=404)
    result = job.result or {}
    counts = [(k.replace("_", " "), v) for k, v in result.items() if isinstance(v, (int, float, str)) and v is not True]
    name_lists = [
        ("Listed images that are missing", result.get("missing_images", []), result.get("missing_images_count", 0)),
        ("Image files no annotation file lists", result.get("unlisted_images", []),
         result.get("unlisted_images_count", 0)),
        ("Conflicts with corrections made here (kept)", [c.get("file_name") for c in result.get("conflicts", [])],
         len(result.get("conflicts", []))),
    ]
    return render(request, "annotations/job_detail.html", {
        "job": job, "counts": counts, "name_lists": name_lists, "problems": result.get("problems", [])[:500],
        "result_json": json.dumps(result, indent=2)[:50000],
    })


def clip_list(request, slug):
    project = project_for(request.user, slug)
    clips = (project.clips.annotate(n_frames=Count("frames", distinct=True),
                                    n_annotated=Count("frames__annotations__frame", distinct=True))
             .order_by("key"))
    return render(request, "annotations/clip_list.html", {"project": project, "clips": clips})


def clip_detail(request, slug, key):
    project = project_for(request.user, slug)
    clip = get_object_or_404(project.clips, key=key)
    frames = Paginator(clip.frames.prefetch_related("annotations__form_label").order_by("frame_index", "file_name"), 200)
    return render(request, "annotations/clip_detail.html",
                  {"project": project, "clip": clip, "page": frames.get_page(request.GET.get("page"))})
