"""URLs of the quality area: REST of the label checks."""

from django.urls import URLPattern, URLResolver, path

from annotations.quality import api

urlpatterns: list[URLPattern | URLResolver] = []

api_urlpatterns = [
    path("projects/<slug:slug>/label-checks/", api.label_checks, name="api-label-checks"),
    path("projects/<slug:slug>/label-checks/dismiss/", api.dismiss_flag, name="api-label-checks-dismiss"),
]
