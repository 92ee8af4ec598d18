"""Pages of the video area (upload, clip timeline)."""

from django.urls import path

from . import views_video

urlpatterns = [
    path("p/<slug:slug>/videos/", views_video.video_list, name="videos"),
    path("p/<slug:slug>/clips/<str:key>/timeline/", views_video.clip_timeline, name="clip-timeline"),
]
