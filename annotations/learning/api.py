"""REST of the active-learning loop: model versions (list, files, upload, activate), learning jobs
(predict, score, retrain), learning settings and a frame's predictions."""

from __future__ import annotations

import os

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.response import Response

from annotations.core.errors import InputError
from annotations.core.jobs import kind_of, kinds_of, start_job
from annotations.core.lists import ProjectListView
from annotations.core.params import truthy
from annotations.core.permissions import project_for
from annotations.core.schema import OBJECT_LIST, file_response, responses
from annotations.core.serializers import JobSerializer
from annotations.core.throttling import UploadRateThrottle
from annotations.learning import payloads
from annotations.learning.bounds import MC_SAMPLES, PRETRAIN_EPOCHS, RETRAIN_AFTER, check_job_params
from annotations.learning.families import inference_text, retrain_family, version_family
from annotations.learning.filters import ModelVersionFilter
from annotations.learning.pretraining import teacher_for
from annotations.learning.promotion import activate
from annotations.learning.retrain import start_retrain
from annotations.learning.serializers import (
    ActivateSerializer,
    LearningJobSerializer,
    LearningSettingsSerializer,
    ModelUploadSerializer,
    ModelVersionSerializer,
    ModelWithJobSerializer,
)
from annotations.learning.training import form_config, keypoint_config
from annotations.learning.uploads import register_onnx
from annotations.models import Frame, Job, LearningSettings, ModelVersion, Role

FILE_FIELDS = ("checkpoint", "onnx", "onnx_int8")


def model_payload(v: ModelVersion) -> dict:
    return {
        "id": v.pk, "kind": v.kind, "number": v.number, "label": v.label, "source": v.source, "name": v.name,
        "family": version_family(v), "inference": inference_text(v),
        "status": v.status, "is_active": v.is_active, "metrics": v.metrics, "heldout_clips": v.heldout_clips,
        "split_version": split.number if (split := v.split_version) is not None else None,
        "training_config": v.training_config, "training_frames": v.training_frames,
        "keypoint_names": v.keypoint_names, "validation": v.validation, "promotion": v.promotion,
        "job": v.job_id, "created_by": by.get_username() if (by := v.created_by) is not None else None,
        "created_at": v.created_at, "activated_at": v.activated_at,
        "files": {f: f"/api/projects/{v.project.slug}/models/{v.pk}/files/{f}/" for f in FILE_FIELDS
                  if getattr(v, f)},
    }


@extend_schema(summary="A project's model versions", responses=responses({200: ModelVersionSerializer(many=True)}))
class ModelVersionList(ProjectListView):
    queryset = ModelVersion.objects.none()
    filterset_class = ModelVersionFilter
    serializer_class = ModelVersionSerializer
    pagination_class = None  # a project keeps a handful of model versions: one list

    def project_queryset(self, project):
        return (ModelVersion.objects.filter(project=project)
                .select_related("project", "split_version", "created_by").order_by("kind", "-number"))

    def list(self, request, *args, **kwargs):
        return Response([model_payload(v) for v in self.filter_queryset(self.get_queryset())])


@extend_schema(summary="A model version", responses=responses({200: ModelVersionSerializer}))
@api_view(["GET"])
def model_detail(request, slug, model_id):
    project = project_for(request.user, slug)
    return Response(model_payload(get_object_or_404(ModelVersion, project=project, pk=model_id)))


@extend_schema(summary="A model version's file", parameters=[
    OpenApiParameter("field", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(FILE_FIELDS))],
    responses=responses(file_response("application/octet-stream", "The checkpoint or ONNX file.")))
@api_view(["GET"])
def model_file(request, slug, model_id, field):
    project = project_for(request.user, slug, Role.REVIEWER)
    version = get_object_or_404(ModelVersion, project=project, pk=model_id)
    if field not in FILE_FIELDS or not getattr(version, field):
        raise Http404("this model has no such file")
    f = getattr(version, field)
    return FileResponse(f.open("rb"), as_attachment=True,
                        filename=f"{project.slug}-{version.kind}-v{version.number}-{os.path.basename(f.name)}")


@extend_schema(summary="Upload an ONNX model", request={"multipart/form-data": ModelUploadSerializer},
               responses=responses({202: ModelWithJobSerializer}, errors=(400, 401, 403, 404, 413, 429)))
@api_view(["POST"])
@throttle_classes([UploadRateThrottle])
def model_upload(request, slug):
    """Multipart: file (.onnx), keypoint_names (in output order), optional name. Queues its validation."""
    project = project_for(request.user, slug, Role.PI)
    upload = request.FILES.get("file")
    if upload is None:
        raise InputError("send the model as 'file' (an .onnx file)")
    version, job = register_onnx(project, upload, request.data.get("keypoint_names"), request.user,
                                 request.data.get("name", ""))
    return Response({"model": model_payload(version), "job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


@extend_schema(summary="Make a model version active", request=ActivateSerializer,
               responses=responses({200: ModelWithJobSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def model_activate(request, slug, model_id):
    """Make a ready model active; with predict=true, predict (and score) with it right away."""
    project = project_for(request.user, slug, Role.PI)
    version = get_object_or_404(ModelVersion, project=project, pk=model_id)
    activate(version, request.user)
    payload = {"model": model_payload(version)}
    if truthy(request.data.get("predict", False)):
        payload["job"] = JobSerializer(start_job(project, Job.Kind.PREDICT, {"then_score": True}, request.user)).data
    return Response(payload)


@extend_schema(summary="Start a predict, score or retrain job", request=LearningJobSerializer, parameters=[
    OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["predict", "score", "retrain"])],
    responses=responses({202: JobSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def learning_job(request, slug, kind):
    """Start predict, score or retrain: {"params": {...}}; retrain refuses while another one is unfinished."""
    if kind not in kinds_of("learning"):
        raise Http404("no such learning job")
    project = project_for(request.user, slug, kind_of(kind).role)
    params = check_job_params(kind, request.data.get("params") or {})
    if kind == "retrain":
        job = start_retrain(project, params, request.user)
    else:
        job = start_job(project, kind, params, request.user)
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


SETTINGS_FIELDS = ("retrain_after", "keypoint_config", "form_config", "mc_samples", "pretrain_model", "pretrain_epochs")


@extend_schema(methods=["GET"], summary="The learning settings",
               responses=responses({200: LearningSettingsSerializer}))
@extend_schema(methods=["PATCH"], summary="Change the learning settings (PI)", request=LearningSettingsSerializer,
               responses=responses({200: LearningSettingsSerializer}))
@api_view(["GET", "PATCH"])
def learning_settings(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER if request.method == "GET" else Role.PI)
    s = LearningSettings.of(project)
    if request.method == "PATCH":
        data = request.data
        unknown = set(data) - set(SETTINGS_FIELDS)
        if unknown:
            raise InputError(f"unknown settings {sorted(unknown)}")
        for name, check in (("retrain_after", RETRAIN_AFTER), ("mc_samples", MC_SAMPLES),
                            ("pretrain_epochs", PRETRAIN_EPOCHS)):
            if name in data:
                value = data[name]
                if isinstance(value, str) and value.strip().isdigit():
                    value = int(value)  # from a form
                check(value, name)
                setattr(s, name, value)
        if "pretrain_model" in data:
            s.pretrain_model = teacher_for(project, s, {"pretrain_model": data["pretrain_model"]})
        for name in ("keypoint_config", "form_config"):
            if name in data:
                if not isinstance(data[name], dict):
                    raise InputError(f"'{name}' must be an object")
                try:
                    (keypoint_config if name == "keypoint_config" else form_config)(data[name])
                except (TypeError, ValueError) as exc:
                    raise InputError(str(exc)) from exc
                setattr(s, name, data[name])
        s.save()
    payload = {f: getattr(s, "pretrain_model_id" if f == "pretrain_model" else f) for f in SETTINGS_FIELDS}
    return Response({**payload, "next_retrain": retrain_family(project, s)})


@extend_schema(summary="A frame's model predictions", responses=responses({200: OBJECT_LIST}))
@api_view(["GET"])
def frame_predictions(request, slug, frame_id):
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame, project=project, pk=frame_id)
    return Response(payloads.frame_predictions(frame, project.num_keypoints))


