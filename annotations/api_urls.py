from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

from . import api, api_review

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("projects/", api.projects, name="api-projects"),
    path("projects/<slug:slug>/", api.project_detail, name="api-project"),
    path("projects/<slug:slug>/clips/", api.clips, name="api-clips"),
    path("projects/<slug:slug>/frames/", api.frames, name="api-frames"),
    path("projects/<slug:slug>/frames/<int:frame_id>/", api.frame_detail, name="api-frame"),
    path("projects/<slug:slug>/frames/<int:frame_id>/image/", api.frame_image, name="api-frame-image"),
    path("projects/<slug:slug>/annotations/<int:annotation_id>/", api.annotation_detail, name="api-annotation"),
    path("projects/<slug:slug>/revisions/", api.revisions, name="api-revisions"),
    path("projects/<slug:slug>/jobs/", api.project_jobs, name="api-project-jobs"),
    path("projects/<slug:slug>/splits/", api.splits, name="api-splits"),
    path("projects/<slug:slug>/splits/<str:subset>/coco.json", api.split_coco, name="api-split-coco"),
    path("projects/<slug:slug>/queues/", api_review.queue_list, name="api-queues"),
    path("projects/<slug:slug>/queues/refresh/", api_review.queue_refresh, name="api-queue-refresh"),
    path("projects/<slug:slug>/queues/<str:queue>/claim/", api_review.queue_claim, name="api-queue-claim"),
    path("projects/<slug:slug>/frames/<int:frame_id>/editor/", api_review.frame_editor, name="api-frame-editor"),
    path("projects/<slug:slug>/frames/<int:frame_id>/annotations/", api_review.annotation_create,
         name="api-annotation-create"),
    path("projects/<slug:slug>/frames/<int:frame_id>/lease/<str:action>/", api_review.frame_lease,
         name="api-frame-lease"),
    path("projects/<slug:slug>/frames/<int:frame_id>/submit/", api_review.frame_submit, name="api-frame-submit"),
    path("projects/<slug:slug>/frames/<int:frame_id>/decision/", api_review.frame_decision, name="api-frame-decision"),
    path("projects/<slug:slug>/frames/<int:frame_id>/history/", api_review.frame_history, name="api-frame-history"),
    path("projects/<slug:slug>/revisions/<int:revision_id>/restore/", api_review.revision_restore,
         name="api-revision-restore"),
    path("jobs/<int:job_id>/", api.job_detail, name="api-job"),
    path("jobs/<int:job_id>/download/", api.job_download, name="api-job-download"),
    path("", include("annotations.api_video_urls")),
    path("", include("annotations.api_learning")),
]
