"""REST of the dashboards: the index of boards and charts, and every chart as JSON or CSV."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.core.permissions import project_for
from annotations.core.schema import OBJECT, responses
from annotations.dashboards.charts import to_csv
from annotations.dashboards.registry import BOARD_TITLES, boards
from annotations.models import Role


@extend_schema(summary="The dashboards and their charts (PI)", responses=responses({200: OBJECT}))
@api_view(["GET"])
def dashboard_index(request, slug):
    project_for(request.user, slug, Role.PI)
    return Response({board: {"title": BOARD_TITLES[board], "charts": {
        name: {"json": f"/api/projects/{slug}/dashboards/{board}/{name}.json",
               "csv": f"/api/projects/{slug}/dashboards/{board}/{name}.csv"} for name in charts}}
        for board, charts in boards().items()})


@extend_schema(summary="A dashboard chart as JSON or CSV (PI)", parameters=[
    OpenApiParameter("board", OpenApiTypes.STR, OpenApiParameter.PATH, description="A board (see the index)."),
    OpenApiParameter("chart", OpenApiTypes.STR, OpenApiParameter.PATH, description="A chart of that board."),
    OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["json", "csv"])],
    responses=responses({(200, "application/json"): OpenApiResponse(OBJECT, description="The chart's table."),
                         (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The same as CSV.")}))
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
