"""URLs of the review area: the editor, queues, submit and decisions, a frame's history and restoring."""

from django.urls import path

from annotations.review import api, views

urlpatterns = [
    path("p/<slug:slug>/frames/<int:frame_id>/edit/", views.frame_edit, name="frame-edit"),
    path("p/<slug:slug>/frames/<int:frame_id>/history/", views.frame_history, name="frame-history"),
    path("p/<slug:slug>/revisions/<int:revision_id>/restore/", views.revision_restore, name="revision-restore"),
    path("p/<slug:slug>/queues/refresh/", views.queue_refresh, name="queue-refresh"),
    path("p/<slug:slug>/queues/<str:queue>/start/", views.queue_start, name="queue-start"),
]

api_urlpatterns = [
    path("projects/<slug:slug>/queues/", api.queue_list, name="api-queues"),
    path("projects/<slug:slug>/queues/refresh/", api.queue_refresh, name="api-queue-refresh"),
    path("projects/<slug:slug>/queues/<str:queue>/claim/", api.queue_claim, name="api-queue-claim"),
    path("projects/<slug:slug>/frames/<int:frame_id>/editor/", api.frame_editor, name="api-frame-editor"),
    path("projects/<slug:slug>/frames/<int:frame_id>/annotations/", api.annotation_create,
         name="api-annotation-create"),
    path("projects/<slug:slug>/frames/<int:frame_id>/lease/<str:action>/", api.frame_lease, name="api-frame-lease"),
    path("projects/<slug:slug>/frames/<int:frame_id>/submit/", api.frame_submit, name="api-frame-submit"),
    path("projects/<slug:slug>/frames/<int:frame_id>/decision/", api.frame_decision, name="api-frame-decision"),
    path("projects/<slug:slug>/frames/<int:frame_id>/history/", api.frame_history, name="api-frame-history"),
    path("projects/<slug:slug>/revisions/<int:revision_id>/restore/", api.revision_restore,
         name="api-revision-restore"),
]
