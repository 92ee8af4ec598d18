"""URLs of consensus: the settings and agreement page, a frame's annotations side by side; their REST."""

from django.urls import path

from annotations.consensus import api, views

urlpatterns = [
    path("p/<slug:slug>/consensus/", views.consensus_page, name="consensus"),
    path("p/<slug:slug>/frames/<int:frame_id>/consensus/", views.consensus_compare, name="consensus-compare"),
]

api_urlpatterns = [
    path("projects/<slug:slug>/consensus/settings/", api.consensus_settings, name="api-consensus-settings"),
    path("projects/<slug:slug>/consensus/frames/", api.consensus_frames, name="api-consensus-frames"),
    path("projects/<slug:slug>/consensus/frames/<int:frame_id>/", api.consensus_frame, name="api-consensus-frame"),
    path("projects/<slug:slug>/consensus/clips/", api.consensus_clip, name="api-consensus-clip"),
]
