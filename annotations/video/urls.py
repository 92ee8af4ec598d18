"""URLs of the video area: the upload page and clip timeline; REST of uploads, extraction, timeline data,
interpolation and temporal checks."""

from django.urls import path

from annotations.video import api, views

urlpatterns = [
    path("p/<slug:slug>/videos/", views.video_list, name="videos"),
    path("p/<slug:slug>/clips/<str:key>/timeline/", views.clip_timeline, name="clip-timeline"),
]

api_urlpatterns = [
    path("projects/<slug:slug>/videos/", api.project_videos, name="api-videos"),
    path("projects/<slug:slug>/videos/<int:video_id>/", api.video_detail, name="api-video"),
    path("projects/<slug:slug>/videos/<int:video_id>/extract/", api.video_extract, name="api-video-extract"),
    path("projects/<slug:slug>/video-uploads/", api.upload_begin, name="api-video-uploads"),
    path("projects/<slug:slug>/video-uploads/<str:upload_id>/", api.upload_detail, name="api-video-upload"),
    path("projects/<slug:slug>/video-uploads/<str:upload_id>/complete/", api.upload_complete,
         name="api-video-upload-complete"),
    path("projects/<slug:slug>/clips/<str:key>/timeline/", api.clip_timeline, name="api-clip-timeline"),
    path("projects/<slug:slug>/clips/<str:key>/interpolate/", api.clip_interpolate, name="api-clip-interpolate"),
    path("projects/<slug:slug>/clips/<str:key>/temporal/", api.clip_temporal, name="api-clip-temporal"),
    path("projects/<slug:slug>/frames/<int:frame_id>/thumbnail/", api.frame_thumbnail, name="api-frame-thumbnail"),
]
