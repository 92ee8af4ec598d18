"""URLs of the job pages and the job REST endpoints, the token endpoint and the health check."""

from django.http import HttpResponse
from django.urls import path

from annotations.core import api, auth, views

urlpatterns = [
    path("healthz", lambda request: HttpResponse("ok", content_type="text/plain"), name="healthz"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
]

api_urlpatterns = [
    path("auth/token/", auth.token_view, name="api-token"),
    path("jobs/<int:job_id>/", api.job_detail, name="api-job"),
    path("jobs/<int:job_id>/download/", api.job_download, name="api-job-download"),
    path("jobs/<int:job_id>/cancel/", api.job_cancel, name="api-job-cancel"),
]
