"""URLs of projects: the project list and page, clips, settings; REST of frames, annotations and revisions."""

from django.urls import path

from annotations.projects import api, views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("p/<slug:slug>/", views.project_detail, name="project"),
    path("p/<slug:slug>/clips/", views.clip_list, name="clips"),
    path("p/<slug:slug>/clips/<str:key>/", views.clip_detail, name="clip"),
    path("p/<slug:slug>/frames/", views.frame_gallery, name="frames"),
    path("p/<slug:slug>/settings/", views.project_settings_page, name="project-settings"),
]

api_urlpatterns = [
    path("projects/", api.projects, name="api-projects"),
    path("projects/<slug:slug>/", api.project_detail, name="api-project"),
    path("projects/<slug:slug>/clips/", api.ClipList.as_view(), name="api-clips"),
    path("projects/<slug:slug>/frames/", api.FrameList.as_view(), name="api-frames"),
    path("projects/<slug:slug>/frames/<int:frame_id>/", api.FrameDetail.as_view(), name="api-frame"),
    path("projects/<slug:slug>/frames/<int:frame_id>/image/", api.frame_image, name="api-frame-image"),
    path("projects/<slug:slug>/annotations/<int:annotation_id>/", api.annotation_detail, name="api-annotation"),
    path("projects/<slug:slug>/revisions/", api.RevisionList.as_view(), name="api-revisions"),
]
