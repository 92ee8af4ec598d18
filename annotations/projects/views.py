"""Server-rendered pages: project list, project page with jobs, job progress, clips."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render

from annotations.core.errors import InputError
from annotations.core.permissions import project_for
from annotations.datasets.forms import ExportForm, ImportForm, MergeForm, SplitForm
from annotations.models import Frame, FrameStatus, Project, Role, Subset
from annotations.projects import gallery, stats
from annotations.projects import settings as project_settings


def project_list(request):
    projects = Project.visible_to(request.user).annotate(n_frames=Count("frames", distinct=True))
    return render(request, "annotations/project_list.html", {"projects": projects})


def project_detail(request, slug):
    project = project_for(request.user, slug)
    role = project.role_of(request.user)
    context = {
        "project": project, "role": role, "role_label": Role(role).label if role else "administrator",
        "stats": stats.project_stats(project),
        "jobs": project.jobs.select_related("created_by")[:20],
        "split_versions": project.split_versions.all()[:5],
        "is_pi": role == Role.PI, "can_export": project.has_role(request.user, Role.REVIEWER),
        "import_form": ImportForm(project=project), "split_form": SplitForm(),
        "export_form": ExportForm(), "merge_form": MergeForm(user=request.user, project=project),
    }
    return render(request, "annotations/project_detail.html", context)


def clip_list(request, slug):
    """The project's clips, 100 a page; frame counts are taken for the clips of the page only."""
    project = project_for(request.user, slug)
    # project_id too: filtering frames by these clips reads it, a query per clip when deferred.
    clips_qs = project.clips.order_by("key").only("pk", "key", "video_id", "project_id")
    page = Paginator(clips_qs, 100).get_page(request.GET.get("page"))
    clips = list(page.object_list)
    frames = dict(Frame.objects.filter(clip__in=clips).values("clip").annotate(n=Count("pk")).values_list("clip", "n"))
    annotated = dict(Frame.objects.filter(clip__in=clips, annotations__isnull=False).values("clip")
                     .annotate(n=Count("pk", distinct=True)).values_list("clip", "n"))
    for clip in clips:
        clip.n_frames, clip.n_annotated = frames.get(clip.pk, 0), annotated.get(clip.pk, 0)
    return render(request, "annotations/clip_list.html", {"project": project, "clips": clips, "page": page})


def frame_gallery(request, slug):
    """Thumbnails of a project's frames with filters; a bad filter gets a 400 page naming it."""
    project = project_for(request.user, slug)
    context = {"project": project, "statuses": FrameStatus.choices, "splits": Subset.values,
               "verified_choices": gallery.VERIFIED_CHOICES, "is_pi": project.has_role(request.user, Role.PI),
               "can_see_gold": project.has_role(request.user, Role.REVIEWER)}
    try:
        page = gallery.gallery_page(project, request.GET, blind=not context["can_see_gold"])
    except InputError as exc:
        context.update(error=str(exc), page=None, filters={k: request.GET.get(k, "")[:200] for k in gallery.FILTERS},
                       labels=project.form_labels.all())
        return render(request, "annotations/frame_gallery.html", context, status=400)
    query = urlencode(page.filters)
    context.update(page=page, filters=page.filters, labels=page.labels, query=query)
    return render(request, "annotations/frame_gallery.html", context)


def clip_detail(request, slug, key):
    project = project_for(request.user, slug)
    clip = get_object_or_404(project.clips, key=key)
    frames = Paginator(clip.frames.prefetch_related("annotations__form_label").order_by("frame_index", "file_name"),
                       200)
    return render(request, "annotations/clip_detail.html",
                  {"project": project, "clip": clip, "page": frames.get_page(request.GET.get("page"))})


SETTINGS_ACTIONS = {
    "set_member": lambda p, d, u: project_settings.set_member(p, d.get("username", ""), d.get("role", "")),
    "remove_member": lambda p, d, u: project_settings.remove_member(p, d.get("username", "")),
    "save_label": lambda p, d, u: project_settings.save_form_label(
        p, d.get("name", ""), d.get("display_name", ""), d.get("colour", "#888888"),
        int(d["order"]) if d.get("order", "").isdigit() else None),
    "delete_label": lambda p, d, u: project_settings.delete_form_label(p, d.get("name", "")),
    "add_keypoints": lambda p, d, u: project_settings.extend_skeleton(
        p, d.get("names", "").replace(",", " ").split(), d.get("init", "unlabelled"), u),
}


def project_settings_page(request, slug):
    """PI only: members and roles, the form-label set, growing the skeleton."""
    project = project_for(request.user, slug, Role.PI)
    created = None
    if request.method == "POST" and request.POST.get("action") in ("create_account", "reset_password"):
        # Rendered, not redirected: the temporary password is shown this once and stored nowhere readable.
        reset = request.POST["action"] == "reset_password"
        try:
            membership, password = (
                project_settings.reset_password(project, request.POST.get("username", ""), request.user) if reset
                else project_settings.create_account(project, request.POST.get("username", ""),
                                                     request.POST.get("role", "")))
        except InputError as exc:
            messages.error(request, str(exc))
            return redirect("project-settings", slug=slug)
        created = {"username": membership.user.username, "role": membership.get_role_display(),
                   "password": password, "reset": reset}
    elif request.method == "POST":
        action = request.POST.get("action")
        if action not in SETTINGS_ACTIONS:
            messages.error(request, "unknown settings action")
        else:
            try:
                result = SETTINGS_ACTIONS[action](project, request.POST, request.user)
            except InputError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _done_message(action, result))
        return redirect("project-settings", slug=slug)
    skeleton = project.skeleton
    keypoints = [{"index": i, "name": n, "colour": skeleton["colours"][i]} for i, n in enumerate(skeleton["keypoints"])]
    response = render(request, "annotations/review/settings.html", {
        "project": project, "members": project.memberships.select_related("user").order_by("user__username"),
        "roles": Role.choices, "labels": project.form_labels.all(), "keypoints": keypoints,
        "init_modes": project_settings.INIT_MODES, "created": created})
    if created:
        response["Cache-Control"] = "no-store"  # the temporary password stays out of every cache
    return response


def _done_message(action: str, result) -> str:
    if action == "add_keypoints":
        return (f"Added {', '.join(result['added'])}; {result['heuristic_annotations']} annotations got heuristic "
                "points to confirm.")
    if action == "set_member":
        return f"{result.user.username} is now {result.get_role_display()}."
    return "Saved."
