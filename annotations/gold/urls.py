"""URLs of gold frames and honeypots: the gold page and the gallery's mark button; their REST."""

from django.urls import path

from annotations.gold import api, views

urlpatterns = [
    path("p/<slug:slug>/gold/", views.gold_page, name="gold"),
    path("p/<slug:slug>/gold/mark/", views.gold_mark, name="gold-mark"),
]

api_urlpatterns = [
    path("projects/<slug:slug>/gold/settings/", api.gold_settings, name="api-gold-settings"),
    path("projects/<slug:slug>/gold/frames/", api.gold_frames, name="api-gold-frames"),
    path("projects/<slug:slug>/gold/frames/unmark/", api.gold_unmark, name="api-gold-unmark"),
    path("projects/<slug:slug>/gold/import/", api.gold_import, name="api-gold-import"),
    path("projects/<slug:slug>/gold/accuracy/", api.gold_accuracy, name="api-gold-accuracy"),
    path("projects/<slug:slug>/gold/attempts/", api.AttemptList.as_view(), name="api-gold-attempts"),
]
