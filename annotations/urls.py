from django.http import HttpResponse
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("healthz", lambda request: HttpResponse("ok", content_type="text/plain"), name="healthz"),
    path("p/<slug:slug>/", views.project_detail, name="project"),
    path("p/<slug:slug>/jobs/<str:kind>/", views.start_project_job, name="start-job"),
    path("p/<slug:slug>/clips/", views.clip_list, name="clips"),
    path("p/<slug:slug>/clips/<str:key>/", views.clip_detail, name="clip"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("", include("annotations.video_urls")),
]
