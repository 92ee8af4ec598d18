"""The pages of every feature package (see annotations/features.py)."""

from django.urls import include, path

from annotations.features import FEATURES

urlpatterns = [path("", include(f"annotations.{feature}.urls")) for feature in FEATURES]
