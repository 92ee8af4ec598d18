"""PI pages of the active-learning loop: the models page (versions, retrain, predict, score, upload,
activate, settings, running jobs with progress and cancel)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotations.core.errors import InputError
from annotations.core.jobs import QueueUnavailable, kinds_of, start_job
from annotations.core.permissions import project_for
from annotations.core.progress import cancel_for
from annotations.dashboards.registry import BOARD_TITLES
from annotations.learning.bounds import MC_SAMPLES, PRETRAIN_EPOCHS, RETRAIN_AFTER, check_job_params
from annotations.learning.families import inference_text, retrain_family, version_family
from annotations.learning.pretraining import teacher_for
from annotations.learning.promotion import activate
from annotations.learning.retrain import start_retrain
from annotations.learning.runtime import mediapipe_available, mediapipe_version
from annotations.learning.triggers import newly_verified_frames
from annotations.learning.uploads import register_onnx
from annotations.models import Job, LearningSettings, ModelKind, ModelSource, ModelStatus, ModelVersion, Role

BACKBONE_OPTIONS = (("auto", "BlazePose heads when its model files are here, else from scratch"),
                    ("blazepose", "BlazePose heads (fail without the MediaPipe extra)"),
                    ("scratch", "built-in network from scratch"))


def models_page(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER)
    versions = (ModelVersion.objects.filter(project=project).select_related("split_version", "created_by")
                .order_by("-number", "kind"))
    jobs = Job.objects.filter(project=project, kind__in=kinds_of("learning")).select_related("created_by")[:15]
    settings = LearningSettings.of(project)
    versions = list(versions)
    for v in versions:
        v.quality = quality_text(v)
        v.pretraining = pretraining_text(v)
        v.family = version_family(v)
        v.inference = inference_text(v)
        v.baseline = baseline_text(v)
    return render(request, "annotations/models/models.html", {
        "project": project, "versions": versions, "boards": BOARD_TITLES.items(), "jobs": jobs, "settings": settings,
        "is_pi": project.has_role(request.user, Role.PI),
        "active": {k: ModelVersion.active(project, k) for k in ModelKind.values},
        "newly_verified": newly_verified_frames(project),
        "next_family": retrain_family(project, settings),
        "backbone_choice": (settings.keypoint_config or {}).get("backbone", "auto"),
        "backbone_options": BACKBONE_OPTIONS,
        "unfinished": [j for j in jobs if not j.is_finished],
        "teachers": [v for v in versions if v.kind == ModelKind.KEYPOINTS and v.status == ModelStatus.READY],
        "offer_mediapipe": mediapipe_available() and not any(v.source == ModelSource.MEDIAPIPE for v in versions),
    })


def _f(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def quality_text(v: ModelVersion) -> str:
    """One line of what a version achieved on its held-out clips (or its upload validation)."""
    kp, form = v.metrics.get("keypoints"), v.metrics.get("form")
    if kp:
        return (f"OKS-AP {_f((kp.get('oks_ap') or {}).get('AP'))} · mean OKS {_f(kp.get('mean_oks'))} · "
                f"PCK@0.1 {_f(kp.get('pck@0.1'))}")
    if form:
        return f"macro F1 {_f(form.get('f1_macro'))} · accuracy {_f(form.get('accuracy'))} on {form.get('n')} frames"
    if v.validation:
        if v.validation.get("ok"):
            return (f"validation passed on {v.validation.get('frames')} frames,"
                    f" mean OKS {_f(v.validation.get('mean_oks'))}")
        return "validation failed: " + "; ".join(v.validation.get("problems", []))
    return ""


def baseline_text(v: ModelVersion) -> str:
    """The version against untuned BlazePose on the same held-out clips (17 body points), if measured."""
    cmp = v.metrics.get("untuned_blazepose") or {}
    if cmp.get("skipped"):
        return f"not compared with untuned BlazePose: {cmp['skipped']}"
    if not cmp.get("trained"):
        return ""
    ours, base = cmp["trained"], cmp["untuned_blazepose"]
    return (f"body points, mean OKS {_f(ours.get('mean_oks'))} vs untuned BlazePose {_f(base.get('mean_oks'))}; "
            f"points to fix {_f(ours.get('points_to_fix'), 1)} vs {_f(base.get('points_to_fix'), 1)} per frame")


def pretraining_text(v: ModelVersion) -> str:
    """How a keypoint version was pretrained on pseudo-labels, if it was."""
    pre = v.metrics.get("pretraining")
    if not pre:
        return ""
    if pre.get("skipped"):
        return f"pretraining on {pre['teacher']} skipped: {pre['skipped']}"
    return f"pretrained on {pre['pseudo_frames']} frames pseudo-labelled by {pre['teacher']} ({pre['epochs']} epochs)"


def _back(slug):
    return redirect("models-page", slug=slug)


@require_POST
def start_learning(request, slug, kind):
    if kind not in ("predict", "score", "retrain"):
        return _back(slug)
    project = project_for(request.user, slug, Role.PI if kind == "retrain" else Role.REVIEWER)
    try:
        if kind == "retrain":
            params = {"force": request.POST.get("force") == "on"}
            if request.POST.get("epochs"):  # the heads' epochs when the retrain trains BlazePose heads
                epochs = int(request.POST["epochs"])
                params["keypoint_config"] = ({"head": {"epochs": epochs}}
                                             if retrain_family(project)["backbone"] == "blazepose"
                                             else {"epochs": epochs})
            job = start_retrain(project, check_job_params(kind, params), request.user)
        else:
            params = {"scope": request.POST.get("scope", "all")} if kind == "predict" else {}
            chosen = request.POST.get("model_version") if kind == "predict" else None
            if chosen == "mediapipe":   # MediaPipe gets its model version on first use
                params["model_version"] = mediapipe_version(project).pk
            elif chosen:
                params["model_version"] = int(chosen)
            job = start_job(project, kind, check_job_params(kind, params), request.user)
    except (InputError, ValueError, QueueUnavailable) as exc:  # the broker is down: the job row says failed
        messages.error(request, str(exc.detail if isinstance(exc, QueueUnavailable) else exc))
        return _back(slug)
    messages.info(request, f"{kind} job {job.pk} queued")
    return _back(slug)


@require_POST
def upload_model(request, slug):
    project = project_for(request.user, slug, Role.PI)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise InputError("choose an .onnx file")
        version, job = register_onnx(project, upload, request.POST.get("keypoint_names", ""), request.user,
                                     request.POST.get("name", ""))
    except InputError as exc:
        messages.error(request, str(exc))
        return _back(slug)
    messages.info(request, f"{version.label} uploaded; validation job {job.pk} queued")
    return _back(slug)


@require_POST
def activate_model(request, slug, model_id):
    project = project_for(request.user, slug, Role.PI)
    version = get_object_or_404(ModelVersion, project=project, pk=model_id)
    try:
        activate(version, request.user)
        if request.POST.get("predict") == "on":
            start_job(project, Job.Kind.PREDICT, {"then_score": True}, request.user)
    except InputError as exc:
        messages.error(request, str(exc))
        return _back(slug)
    messages.info(request, f"{version.label} is now the active {version.get_kind_display().lower()}")
    return _back(slug)


@require_POST
def save_settings(request, slug):
    project = project_for(request.user, slug, Role.PI)
    s = LearningSettings.of(project)
    try:
        for name, check in (("retrain_after", RETRAIN_AFTER), ("mc_samples", MC_SAMPLES),
                            ("pretrain_epochs", PRETRAIN_EPOCHS)):
            if request.POST.get(name, "") != "":
                try:
                    value = int(request.POST[name])
                except ValueError:
                    raise InputError(f"'{name}' must be a whole number") from None
                check(value, name)
                setattr(s, name, value)
        if request.POST.get("backbone"):
            backbone = request.POST["backbone"]
            if backbone not in ("auto", "blazepose", "scratch"):
                raise InputError("'backbone' must be auto, blazepose or scratch")
            s.keypoint_config = {**(s.keypoint_config or {}), "backbone": backbone}
        if "pretrain_model" in request.POST:
            s.pretrain_model = teacher_for(project, s, {"pretrain_model": request.POST["pretrain_model"] or None})
    except InputError as exc:
        messages.error(request, str(exc))
        return _back(slug)
    s.save()
    messages.info(request, "learning settings saved")
    return _back(slug)


@require_POST
def cancel_job(request, slug, job_id):
    project = project_for(request.user, slug, Role.REVIEWER)
    job = get_object_or_404(Job, project=project, pk=job_id)
    try:
        cancel_for(job, request.user)
    except (InputError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"job {job.pk} cancelled")
    return _back(slug)


