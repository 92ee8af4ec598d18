from django.http import HttpResponse
from django.urls import include, path

from . import views, views_review

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("healthz", lambda request: HttpResponse("ok", content_type="text/plain"), name="healthz"),
    path("p/<slug:slug>/", views.project_detail, name="project"),
    path("p/<slug:slug>/jobs/<str:kind>/", views.start_project_job, name="start-job"),
    path("p/<slug:slug>/clips/", views.clip_list, name="clips"),
    path("p/<slug:slug>/clips/<str:key>/", views.clip_detail, name="clip"),
    path("p/<slug:slug>/frames/<int:frame_id>/edit/", views_review.frame_edit, name="frame-edit"),
    path("p/<slug:slug>/frames/<int:frame_id>/history/", views_review.frame_history, name="frame-history"),
    path("p/<slug:slug>/revisions/<int:revision_id>/restore/", views_review.revision_restore, name="revision-restore"),
    path("p/<slug:slug>/queues/refresh/", views_review.queue_refresh, name="queue-refresh"),
    path("p/<slug:slug>/queues/<str:queue>/start/", views_review.queue_start, name="queue-start"),
    path("p/<slug:slug>/settings/", views_review.project_settings_page, name="project-settings"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("", include("annotations.video_urls")),
    path("", include("annotations.views_dashboards")),
]
