"""Pages of the dataset area: the import, split, export and merge forms of the project page start jobs."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from annotations.core.errors import InputError
from annotations.core.jobs import QueueUnavailable, kind_of, start_job
from annotations.core.permissions import project_for
from annotations.datasets.forms import ExportForm, ImportForm, MergeForm, SplitForm

FORMS = {"import": ImportForm, "split": SplitForm, "export": ExportForm, "merge": MergeForm}


@require_POST
def start_project_job(request, slug, kind):
    if kind not in FORMS:
        return redirect("project", slug=slug)
    project = project_for(request.user, slug, kind_of(kind).role)
    kwargs = ({"project": project} if kind == "import"
              else {"user": request.user, "project": project} if kind == "merge" else {})
    form = FORMS[kind](request.POST, request.FILES, **kwargs)
    if not form.is_valid():
        messages.error(request, f"{kind}: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("project", slug=slug)
    try:
        params = form.job_params()
        job = start_job(project, kind, params, request.user)
    except (InputError, QueueUnavailable) as exc:  # the broker is down: the job row says failed, and why
        messages.error(request, str(exc.detail if isinstance(exc, QueueUnavailable) else exc))
        return redirect("project", slug=slug)
    return redirect("job", job_id=job.pk)


