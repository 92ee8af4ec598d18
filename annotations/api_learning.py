"""REST for the active-learning loop: model versions (list, files, upload, activate), learning jobs
(predict, score, retrain; cancel), learning settings, a frame's predictions, and the dashboard data
(every chart as JSON or CSV). Rules live in services/learning."""

from __future__ import annotations

import os

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from .models import Frame, Job, LearningSettings, ModelVersion, Prediction, Role
from .permissions import job_visible, project_for
from .serializers import JobSerializer
from .services.errors import InputError
from .services.jobs import start_job
from .services.learning import start_retrain
from .services.learning.dashboards import BOARD_TITLES, boards, to_csv
from .services.learning.progress import cancel_for
from .services.learning.promotion import activate
from .services.learning.uploads import register_onnx

TRUE = ("1", "true", "yes", "on")
FILE_FIELDS = ("checkpoint", "onnx", "onnx_int8")
# Minimum role per learning job: running the model is a reviewer's call, retraining (and forcing a
# promotion) the PI's.
LEARNING_JOB_ROLES = {"predict": Role.REVIEWER, "score": Role.REVIEWER, "retrain": Role.PI}


def model_payload(v: ModelVersion) -> dict:
    return {
        "id": v.pk, "kind": v.kind, "number": v.number, "label": v.label, "source": v.source, "name": v.name,
        "status": v.status, "is_active": v.is_active, "metrics": v.metrics, "heldout_clips": v.heldout_clips,
        "split_version": v.split_version.number if v.split_version_id else None,
        "training_config": v.training_config, "training_frames": v.training_frames,
        "keypoint_names": v.keypoint_names, "validation": v.validation, "promotion": v.promotion,
        "job": v.job_id, "created_by": v.created_by.get_username() if v.created_by_id else None,
        "created_at": v.created_at, "activated_at": v.activated_at,
        "files": {f: f"/api/projects/{v.project.slug}/models/{v.pk}/files/{f}/" for f in FILE_FIELDS
                  if getattr(v, f)},
    }


def _truthy(value) -> bool:
    return value is True or str(value).lower() in TRUE


@api_view(["GET"])
def models(request, slug):
    project = project_for(request.user, slug)
    qs = ModelVersion.objects.filter(project=project).select_related("project", "split_version", "created_by")
    if request.query_params.get("kind"):
        qs = qs.filter(kind=request.query_params["kind"])
    return Response([model_payload(v) for v in qs.order_by("kind", "-number")])


@api_view(["GET"])
def model_detail(request, slug, model_id):
    project = project_for(request.user, slug)
    return Response(model_payload(get_object_or_404(ModelVersion, project=project, pk=model_id)))


@api_view(["GET"])
def model_file(request, slug, model_id, field):
    project = project_for(request.user, slug, Role.REVIEWER)
    version = get_object_or_404(ModelVersion, project=project, pk=model_id)
    if field not in FILE_FIELDS or not getattr(version, field):
        raise Http404("this model has no such file")
    f = getattr(version, field)
    return FileResponse(f.open("rb"), as_attachment=True,
                        filename=f"{project.slug}-{version.kind}-v{version.number}-{os.path.basename(f.name)}")


@api_view(["POST"])
def model_upload(request, slug):
    """Multipart: file (.onnx), keypoint_names (in output order), optional name. Queues its validation."""
    project = project_for(request.user, slug, Role.PI)
    upload = request.FILES.get("file")
    if upload is None:
        raise InputError("send the model as 'file' (an .onnx file)")
    version, job = register_onnx(project, upload, request.data.get("keypoint_names"), request.user,
                                 request.data.get("name", ""))
    return Response({"model": model_payload(version), "job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


@api_view(["POST"])
def model_activate(request, slug, model_id):
    """Make a ready model active; with predict=true, predict (and score) with it right away."""
    project = project_for(request.user, slug, Role.PI)
    version = get_object_or_404(ModelVersion, project=project, pk=model_id)
    activate(version, request.user)
    payload = {"model": model_payload(version)}
    if _truthy(request.data.get("predict", False)):
        payload["job"] = JobSerializer(start_job(project, Job.Kind.PREDICT, {"then_score": True}, request.user)).data
    return Response(payload)


@api_view(["POST"])
def learning_job(request, slug, kind):
    """Start predict, score or retrain: {"params": {...}}; retrain refuses while another one is unfinished."""
    if kind not in LEARNING_JOB_ROLES:
        raise Http404("no such learning job")
    project = project_for(request.user, slug, LEARNING_JOB_ROLES[kind])
    params = request.data.get("params") or {}
    if not isinstance(params, dict):
        raise InputError("'params' must be an object")
    if kind == "retrain":
        job = start_retrain(project, params, request.user)
    else:
        job = start_job(project, kind, params, request.user)
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@api_view(["POST"])
def job_cancel(request, job_id):
    """Cancel a queued job, or a running predict/score/retrain job (it stops at its next progress report)."""
    job = get_object_or_404(Job.objects.select_related("project", "created_by"), pk=job_id)
    if not job_visible(request.user, job):
        raise Http404("No such job.")
    cancel_for(job, request.user)
    job.refresh_from_db()
    return Response(JobSerializer(job).data)


SETTINGS_FIELDS = ("retrain_after", "keypoint_config", "form_config", "mc_samples", "pretrain_model", "pretrain_epochs")


@api_view(["GET", "PATCH"])
def learning_settings(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER if request.method == "GET" else Role.PI)
    s = LearningSettings.of(project)
    if request.method == "PATCH":
        data = request.data
        unknown = set(data) - set(SETTINGS_FIELDS)
        if unknown:
            raise InputError(f"unknown settings {sorted(unknown)}")
        for name, top in (("retrain_after", None), ("mc_samples", 64), ("pretrain_epochs", 1000)):
            if name in data:
                try:
                    value = int(data[name])
                except (TypeError, ValueError):
                    raise InputError(f"'{name}' must be a whole number") from None
                if value < 0 or (top is not None and value > top):
                    raise InputError(f"'{name}' is out of range")
                setattr(s, name, value)
        if "pretrain_model" in data:
            from .services.learning.pretraining import teacher_for

            s.pretrain_model = teacher_for(project, s, {"pretrain_model": data["pretrain_model"]})
        for name in ("keypoint_config", "form_config"):
            if name in data:
                if not isinstance(data[name], dict):
                    raise InputError(f"'{name}' must be an object")
                from .services.learning.training import form_config, keypoint_config

                try:
                    (keypoint_config if name == "keypoint_config" else form_config)(data[name])
                except (TypeError, ValueError) as exc:
                    raise InputError(str(exc)) from exc
                setattr(s, name, data[name])
        s.save()
    return Response({f: getattr(s, "pretrain_model_id" if f == "pretrain_model" else f) for f in SETTINGS_FIELDS})


def prediction_payload(p: Prediction) -> dict:
    """Editor shape: keypoints as flat 3K (v = 2 where the score is >= 0.5, else 1; 0 for heuristic points),
    scores (K), and why (signals)."""
    flat, scores = [], []
    heuristic = set(p.heuristic_keypoints or [])
    for i, (x, y, s) in enumerate(p.keypoints):
        flat += [x, y, 0 if i in heuristic else (2 if s >= 0.5 else 1)]
        scores.append(s)
    return {"id": p.pk, "model_version": p.model_version.label, "model_version_id": p.model_version_id,
            "active": p.model_version.is_active, "keypoints": flat, "scores": scores, "bbox": p.bbox,
            "heuristic_keypoints": sorted(heuristic), "form_probs": p.form_probs, "form_label": p.form_label,
            "signals": {k: v for k, v in p.signals.items() if k != "keypoints"}, "created_at": p.created_at}


def predictions_for_frame(frame: Frame) -> list[dict]:
    """Newest first, one per model version: what the editor's ghost layer shows."""
    seen, out = set(), []
    for p in (Prediction.objects.filter(frame=frame, instance=0).select_related("model_version")
              .order_by("-model_version__is_active", "-created_at")):
        if p.model_version_id not in seen:
            seen.add(p.model_version_id)
            out.append(prediction_payload(p))
    return out


@api_view(["GET"])
def frame_predictions(request, slug, frame_id):
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame, project=project, pk=frame_id)
    return Response(predictions_for_frame(frame))


@api_view(["GET"])
def dashboard_index(request, slug):
    project_for(request.user, slug, Role.PI)
    return Response({board: {"title": BOARD_TITLES[board], "charts": {
        name: {"json": f"/api/projects/{slug}/dashboards/{board}/{name}.json",
               "csv": f"/api/projects/{slug}/dashboards/{board}/{name}.csv"} for name in charts}}
        for board, charts in boards().items()})


@api_view(["GET"])
def dashboard_chart(request, slug, board, chart, fmt):
    project = project_for(request.user, slug, Role.PI)
    charts = boards().get(board, {})
    if chart not in charts or fmt not in ("json", "csv"):
        raise Http404("no such chart")
    data = charts[chart](project)
    if fmt == "csv":
        response = HttpResponse(to_csv(data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{project.slug}-{board}-{chart}.csv"'
        return response
    return Response(data)


urlpatterns = [
    path("projects/<slug:slug>/models/", models, name="api-models"),
    path("projects/<slug:slug>/models/upload/", model_upload, name="api-model-upload"),
    path("projects/<slug:slug>/models/<int:model_id>/", model_detail, name="api-model"),
    path("projects/<slug:slug>/models/<int:model_id>/activate/", model_activate, name="api-model-activate"),
    path("projects/<slug:slug>/models/<int:model_id>/files/<str:field>/", model_file, name="api-model-file"),
    path("projects/<slug:slug>/learning/settings/", learning_settings, name="api-learning-settings"),
    path("projects/<slug:slug>/learning/<str:kind>/", learning_job, name="api-learning-job"),
    path("projects/<slug:slug>/frames/<int:frame_id>/predictions/", frame_predictions, name="api-frame-predictions"),
    path("projects/<slug:slug>/dashboards/", dashboard_index, name="api-dashboards"),
    path("projects/<slug:slug>/dashboards/<str:board>/<str:chart>.<str:fmt>", dashboard_chart,
         name="api-dashboard-chart"),
    path("jobs/<int:job_id>/cancel/", job_cancel, name="api-job-cancel"),
]
