"""REST endpoints of the video area (chunked upload, extraction, timeline data, interpolation)."""

from django.urls import path

from . import api_video

urlpatterns = [
    path("projects/<slug:slug>/videos/", api_video.project_videos, name="api-videos"),
    path("projects/<slug:slug>/videos/<int:video_id>/", api_video.video_detail, name="api-video"),
    path("projects/<slug:slug>/videos/<int:video_id>/extract/", api_video.video_extract, name="api-video-extract"),
    path("projects/<slug:slug>/video-uploads/", api_video.upload_begin, name="api-video-uploads"),
    path("projects/<slug:slug>/video-uploads/<str:upload_id>/", api_video.upload_detail, name="api-video-upload"),
    path("projects/<slug:slug>/video-uploads/<str:upload_id>/complete/", api_video.upload_complete,
         name="api-video-upload-complete"),
    path("projects/<slug:slug>/clips/<str:key>/timeline/", api_video.clip_timeline, name="api-clip-timeline"),
    path("projects/<slug:slug>/clips/<str:key>/interpolate/", api_video.clip_interpolate, name="api-clip-interpolate"),
    path("projects/<slug:slug>/clips/<str:key>/temporal/", api_video.clip_temporal, name="api-clip-temporal"),
    path("projects/<slug:slug>/frames/<int:frame_id>/thumbnail/", api_video.frame_thumbnail,
         name="api-frame-thumbnail"),
]
