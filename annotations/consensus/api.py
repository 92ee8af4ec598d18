"""REST of consensus: the project's settings and agreement (reviewer; PI changes them), frames that need
independent annotations (PI asks for them, chosen or a whole clip), and each frame's consensus with
everyone's annotation."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.consensus import figures, voting
from annotations.consensus.serializers import (
    ConsensusDetailSerializer,
    ConsensusFrameSerializer,
    ConsensusSettingsSerializer,
    ConsensusSummarySerializer,
    RequireClipResultSerializer,
    RequireClipSerializer,
    RequireResultSerializer,
    RequireSerializer,
)
from annotations.core.pagination import BoundedPagination
from annotations.core.permissions import project_for
from annotations.core.schema import PAGE_PARAMETERS, page_of, responses
from annotations.core.serializers import validated
from annotations.models import ConsensusFrame, Role


@extend_schema(methods=["GET"], summary="Consensus settings and agreement across frames (reviewer)",
               responses=responses({200: ConsensusSummarySerializer}))
@extend_schema(methods=["PATCH"], summary="Set the consensus settings (PI)", request=ConsensusSettingsSerializer,
               responses=responses({200: ConsensusSummarySerializer}))
@api_view(["GET", "PATCH"])
def consensus_settings(request, slug):
    project = project_for(request.user, slug, Role.PI if request.method == "PATCH" else Role.REVIEWER)
    if request.method == "PATCH":
        body = validated(ConsensusSettingsSerializer, request.data)
        voting.set_settings(project, body.get("people"), body.get("threshold"))
    return Response(figures.summary(project))


@extend_schema(methods=["GET"], summary="Frames that need independent annotations, paged (reviewer)",
               operation_id="projects_consensus_frames_list", parameters=PAGE_PARAMETERS,
               responses=responses({200: page_of(ConsensusFrameSerializer, "ConsensusFramePage")}))
@extend_schema(methods=["POST"], summary="Chosen frames need N independent annotations (PI)",
               request=RequireSerializer, responses=responses({200: RequireResultSerializer}))
@api_view(["GET", "POST"])
def consensus_frames(request, slug):
    if request.method == "POST":
        project = project_for(request.user, slug, Role.PI)
        body = validated(RequireSerializer, request.data)
        return Response(voting.require(project, body["frames"], body["people"], request.user, body["queue"]))
    project = project_for(request.user, slug, Role.REVIEWER)
    paginator = BoundedPagination()
    page = paginator.paginate_queryset(ConsensusFrame.objects.filter(project=project).select_related("frame")
                                       .order_by("frame_id"), request)
    state = voting.state([cf.frame_id for cf in page])
    return paginator.get_paginated_response([{"frame": cf.frame_id, "file_name": cf.frame.file_name,
                                              **state[cf.frame_id]} for cf in page])


@extend_schema(summary="Every frame of a clip needs N independent annotations (PI)",
               description="The clip's frames go first in the queue, its first frame first in line. A frame "
               "whose consensus is finished is refused (listed with the reason); an unknown clip is a 400.",
               request=RequireClipSerializer, responses=responses({200: RequireClipResultSerializer}))
@api_view(["POST"])
def consensus_clip(request, slug):
    project = project_for(request.user, slug, Role.PI)
    body = validated(RequireClipSerializer, request.data)
    frames = voting.clip_frames(project, body["clip"])
    return Response({"clip": body["clip"],
                     **voting.require(project, frames, body["people"], request.user, body["queue"])})


@extend_schema(summary="A frame's consensus with each person's annotation (reviewer)",
               responses=responses({200: ConsensusDetailSerializer}))
@api_view(["GET"])
def consensus_frame(request, slug, frame_id):
    project = project_for(request.user, slug, Role.REVIEWER)
    cf = get_object_or_404(ConsensusFrame.objects.select_related("frame"), project=project, frame_id=frame_id)
    names = project.skeleton["keypoints"]
    return Response({"frame": cf.frame_id, "file_name": cf.frame.file_name, **voting.state([cf.frame_id])[cf.frame_id],
                     "keypoints": cf.keypoints, "form_label": cf.form_label or None,
                     "oks_per_keypoint": dict(zip(names, cf.oks_per_keypoint, strict=False)),
                     # Nobody reads the votes while they are being collected: each stays independent.
                     "votes": figures.votes_of(cf) if cf.status != ConsensusFrame.Status.COLLECTING else []})
