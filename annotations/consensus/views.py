"""Pages of consensus: the project's settings and agreement, and one frame's annotations side by side
with their consensus (the points people disagree on marked). Reviewers read; PIs change."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from annotations.consensus import figures, voting
from annotations.core.errors import InputError
from annotations.core.permissions import project_for
from annotations.models import ConsensusFrame, Frame, Role
from annotations.review.history import overlay

LISTED = 100  # disputed frames listed on the page


def _number(text: str, kind=int):
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number") from None


def _frames(text: str) -> list[int]:
    words = text.replace(",", " ").split()
    if not words or not all(w.isascii() and w.isdigit() and len(w) < 19 for w in words):
        raise InputError("'frames': give frame ids (whole numbers) separated by spaces or commas")
    return [int(w) for w in words]


def _chosen(project, post) -> list[int]:
    """The frames a PI asks about: every frame of a clip (by key), or frame ids."""
    clip = (post.get("clip") or "").strip()
    if not clip:
        return _frames(post.get("frames", ""))
    return voting.clip_frames(project, clip)


def consensus_page(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER)
    if request.method == "POST":
        project = project_for(request.user, slug, Role.PI)
        try:
            if request.POST.get("action") == "require":
                result = voting.require(project, _chosen(project, request.POST),
                                        _number(request.POST.get("people", "")), request.user)
                messages.success(request, f"{len(result['required'])} frame(s) need independent annotations.")
                for refusal in result["refused"][:10]:
                    messages.error(request, f"Frame {refusal['frame']}: {refusal['reason']}.")
            else:
                voting.set_settings(project, _number(request.POST.get("people", "")),
                                    _number(request.POST.get("threshold", ""), float))
                messages.success(request, "Consensus settings saved.")
        except InputError as exc:
            messages.error(request, str(exc))
        return redirect("consensus", slug=slug)
    disputed = (ConsensusFrame.objects.filter(project=project, status=ConsensusFrame.Status.DISPUTED)
                .select_related("frame").order_by("-completed_at")[:LISTED])
    names = project.skeleton["keypoints"]
    return render(request, "annotations/consensus/consensus.html", {
        "project": project, "is_pi": project.has_role(request.user, Role.PI), "summary": figures.summary(project),
        "disputed": [{"frame": cf.frame, "mean_oks": cf.mean_oks, "form_agreement": cf.form_agreement,
                      "disagreeing": [names[k] for k in cf.disagreeing if k < len(names)]} for cf in disputed]})


def consensus_compare(request, slug, frame_id):
    """Each person's points beside the consensus, the keypoints they disagree on marked (finished frames)."""
    project = project_for(request.user, slug, Role.REVIEWER)
    frame = get_object_or_404(Frame.objects.select_related("clip"), project=project, pk=frame_id)
    cf = ConsensusFrame.objects.filter(frame=frame).first()
    if cf is None or cf.status == ConsensusFrame.Status.COLLECTING:
        raise Http404("this frame has no finished consensus")
    skeleton = project.skeleton
    names = skeleton["keypoints"]
    marked = {names[k] for k in cf.disagreeing if k < len(names)}

    def drawn(keypoints):
        shown = overlay({"keypoints": keypoints}, None, skeleton) or {"points": [], "bones": []}
        for p in shown["points"]:
            p["changed"] = p["name"] in marked
        return shown

    panels = [{"caption": "consensus", "label": cf.form_label or "no label", "overlay": drawn(cf.keypoints)}]
    panels += [{"caption": v["user"], "label": v["form_label"] or "no label", "overlay": drawn(v["keypoints"])}
               for v in figures.votes_of(cf)]
    rows = [{"name": n, "oks": cf.oks_per_keypoint[k] if k < len(cf.oks_per_keypoint) else None,
             "disagree": n in marked} for k, n in enumerate(names)]
    return render(request, "annotations/consensus/compare.html", {
        "project": project, "frame": frame, "consensus": cf, "panels": panels, "rows": rows,
        "radius": max(frame.width, frame.height) / 110, "stroke": max(frame.width, frame.height) / 300})
