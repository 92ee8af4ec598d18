"""Pages of the review area: the keypoint editor shell, starting a queue, a frame's history."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotations.core.errors import InputError, StaleEdit
from annotations.core.params import queue_filters
from annotations.core.permissions import project_for
from annotations.gold import attempts, blinding, serving
from annotations.models import ConsensusFrame, Frame, FrameStatus, Queue, Revision, Role
from annotations.models.review import DECISION_QUEUES, QUEUE_ROLES
from annotations.review import claims, history, queues


def editor_config(project, frame, user, queue: str, filters: dict) -> dict:
    """What the editor script needs before its first request (skeleton, labels, role, where the API is)."""
    skeleton = project.skeleton
    return {
        "slug": project.slug, "frameId": frame.pk, "queue": queue, "filters": filters,
        "api": reverse("api-project", args=[project.slug]), "projectUrl": reverse("project", args=[project.slug]),
        "skeleton": {"keypoints": skeleton["keypoints"], "links": skeleton["links"], "colours": skeleton["colours"]},
        "formLabels": [{"name": f.name, "display_name": f.display_name, "colour": f.colour, "key": i + 1}
                       for i, f in enumerate(project.form_labels.all())],
        "role": project.role_of(user), "canDecide": project.has_role(user, Role.REVIEWER),
        "decisionQueue": queue in DECISION_QUEUES, "user": user.get_username(),
        "leaseSeconds": int(claims.LEASE.total_seconds()),
    }


def frame_edit(request, slug, frame_id):
    """The keypoint editor for one frame; ?queue= makes submit/skip move on through that queue."""
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame.objects.select_related("clip"), project=project, pk=frame_id)
    if (attempt := attempts.open_attempt(frame, request.user)) is not None:
        frame.status = attempts.shown_status(attempt)  # a honeypot shows as a pool frame (never saved here)
    elif blinding.hides(project, request.user, frame.pk):
        frame.status = FrameStatus.UNLABELLED  # so does a gold frame an annotator opens by its address
    queue = request.GET.get("queue", "")
    if queue and queue not in Queue.values:
        queue = ""
    # The editor's URL carries only the filters in use.
    filters = {k: v for k, v in queue_filters(request.GET).items() if v}
    config = editor_config(project, frame, request.user, queue, filters)
    return render(request, "annotations/review/editor.html", {
        "project": project, "frame": frame, "queue": queue, "queue_label": Queue(queue).label if queue else "",
        "config": config})


@require_POST
def queue_start(request, slug, queue):
    """Claim the next frame of a queue (with optional clip/split/form-label filters) and open the editor."""
    if queue not in Queue.values:
        raise Http404("No such queue.")
    project = project_for(request.user, slug, QUEUE_ROLES[queue])
    filters = {k: v for k, v in queue_filters(request.POST).items() if v}
    try:
        item = serving.claim_next(project, queue, request.user, **filters)
    except InputError as exc:
        messages.error(request, str(exc))
        return redirect("project", slug=slug)
    if item is None:
        messages.info(request, f"Nothing left for you in “{Queue(queue).label}”"
                               f"{' with these filters' if filters else ''}.")
        return redirect("project", slug=slug)
    url = reverse("frame-edit", args=[slug, item.frame_id])
    return redirect(f"{url}?{urlencode({'queue': queue, **filters})}")


@require_POST
def queue_refresh(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER)
    sizes = queues.refresh_builtin_queues(project)
    messages.info(request, "Queues refreshed: " + ", ".join(f"{Queue(q).label.lower()} {n}" for q, n in sizes.items()))
    return redirect("project", slug=slug)


def frame_history(request, slug, frame_id):
    """Every revision and review transition of a frame, newest first, each revision restorable."""
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame.objects.select_related("clip"), project=project, pk=frame_id)
    # A honeypot, and to annotators any gold frame, reads as a frame nobody worked on.
    attempt = attempts.open_attempt(frame, request.user)
    honeypot = attempt is not None or (not blinding.sees_gold(project, request.user)
                                       and bool(blinding.gold_ids([frame.pk])))
    if honeypot:
        frame.status = attempts.shown_status(attempt) if attempt is not None else FrameStatus.UNLABELLED
    annotation = None if honeypot else frame.annotations.order_by("instance").first()
    entries = [] if honeypot else history.frame_history(frame)
    for e in entries:
        if e["type"] == "revision":
            e["overlay_pair"] = [("before", e["overlay_before"]), ("after", e["overlay_after"])]
    finished = (not honeypot and project.has_role(request.user, Role.REVIEWER)
                and ConsensusFrame.objects.filter(frame=frame).exclude(status="collecting").exists())
    return render(request, "annotations/review/history.html", {
        "project": project, "frame": frame, "entries": entries, "annotation": annotation,
        "consensus_url": reverse("consensus-compare", args=[slug, frame.pk]) if finished else "",
        "radius": max(frame.width, frame.height) / 110, "stroke": max(frame.width, frame.height) / 300})


@require_POST
def revision_restore(request, slug, revision_id):
    project = project_for(request.user, slug)
    revision = get_object_or_404(Revision, project=project, pk=revision_id)
    version = request.POST.get("version", "")
    if request.POST.get("confirmed") != "1":
        messages.error(request, "Confirm the restore first: it replaces the current keypoints and sends the frame "
                                "back to review.")
        return redirect("frame-history", slug=slug, frame_id=revision.frame_id)
    try:
        ann = history.restore(revision, request.user, int(version) if version.isdigit() else None,
                              request.POST.get("which", "after"))
    except StaleEdit:
        messages.error(request, "Someone saved this frame while you were reading its history; "
                                "look at the newest entry and try again.")
    except InputError as exc:
        messages.error(request, str(exc))
    else:
        ann.frame.refresh_from_db(fields=["status"])
        messages.success(request, f"Restored revision {revision.pk}: the annotation is now version {ann.version}; "
                                  f"the frame is {ann.frame.get_status_display().lower()}.")
    return redirect("frame-history", slug=slug, frame_id=revision.frame_id)
