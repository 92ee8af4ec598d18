"""URLs of the job pages and the job REST endpoints, the token endpoint, the health check and the API's
OpenAPI schema with its Swagger UI and Redoc pages."""

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotations.core import api, auth, docs, views

urlpatterns = [
    path("healthz", lambda request: HttpResponse("ok", content_type="text/plain"), name="healthz"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
]

api_urlpatterns = [
    path("auth/token/", auth.token_view, name="api-token"),
    path("jobs/<int:job_id>/", api.job_detail, name="api-job"),
    path("jobs/<int:job_id>/download/", api.job_download, name="api-job-download"),
    path("jobs/<int:job_id>/cancel/", api.job_cancel, name="api-job-cancel"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script as a file (?script), so no inline script is needed.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("redoc/", docs.RedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
