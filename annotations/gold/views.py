"""Pages of gold frames: the gold page (the honeypot rate, gold frames, per-annotator accuracy, marking
and importing) and the gallery's mark / unmark buttons. Reviewers read; PIs change."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from annotations.core.errors import InputError
from annotations.core.permissions import project_for
from annotations.gold import accuracy, marking
from annotations.gold.api import summary
from annotations.models import GoldFrame, Role

SHOWN = 200  # gold frames listed on the page (the REST list pages through all)


def _frame_ids(text: str) -> list[int]:
    words = text.replace(",", " ").split()
    if not words or not all(w.isascii() and w.isdigit() and len(w) < 19 for w in words):
        raise InputError("'frames': give frame ids (whole numbers) separated by spaces or commas")
    return [int(w) for w in words]


def _done(request, result: dict) -> None:
    if "unmarked" in result:
        messages.success(request, f"{result['unmarked']} frame(s) are no longer gold.")
        return
    text = f"{len(result['marked'])} frame(s) marked gold."
    if result.get("unmatched"):
        text += f" No frame here for {len(result['unmatched'])} image(s): {', '.join(result['unmatched'][:5])}."
    messages.success(request, text)
    for refusal in (result.get("refused") or [])[:10]:
        messages.error(request, f"Frame {refusal['frame']}: {refusal['reason']}.")


ACTIONS = {
    "set_rate": lambda p, r: marking.set_rate(p, _rate(r.POST.get("honeypot_rate", ""))),
    "mark": lambda p, r: marking.mark(p, _frame_ids(r.POST.get("frames", "")), r.user),
    "unmark": lambda p, r: marking.unmark(p, _frame_ids(r.POST.get("frames", ""))),
    "import": lambda p, r: marking.import_gold(p, r.FILES.get("file"), r.user),
}


def _rate(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError("'honeypot_rate' must be a number from 0 to 1") from None


def gold_page(request, slug):
    """Reviewers and PIs: the rate, per-annotator accuracy, gold frames; PIs change them (POST)."""
    project = project_for(request.user, slug, Role.REVIEWER)
    if request.method == "POST":
        project = project_for(request.user, slug, Role.PI)
        action = request.POST.get("action", "")
        try:
            if action not in ACTIONS:
                raise InputError("unknown action")
            result = ACTIONS[action](project, request)
        except InputError as exc:
            messages.error(request, str(exc))
        else:
            if isinstance(result, dict):
                _done(request, result)
            else:
                messages.success(request, f"Honeypot rate set to {result:g}.")
        return redirect("gold", slug=slug)
    golds = list(GoldFrame.objects.filter(project=project, active=True).select_related("frame")
                 .order_by("-marked_at")[:SHOWN])
    state = marking.gold_state([g.frame_id for g in golds])
    return render(request, "annotations/gold/gold.html", {
        "project": project, "is_pi": project.has_role(request.user, Role.PI), "summary": summary(project),
        "annotators": accuracy.per_annotator(project), "shown": SHOWN,
        "golds": [{"frame": g.frame, **state[g.frame_id]} for g in golds if g.frame_id in state]})


@require_POST
def gold_mark(request, slug):
    """The gallery's button: mark (gold=1) or unmark (gold=0) one frame, then back to where it was pressed."""
    project = project_for(request.user, slug, Role.PI)
    try:
        ids = _frame_ids(request.POST.get("frame", ""))
        result = (marking.mark(project, ids, request.user) if request.POST.get("gold") == "1"
                  else marking.unmark(project, ids))
    except InputError as exc:
        messages.error(request, str(exc))
    else:
        _done(request, result)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("frames", slug=slug)
