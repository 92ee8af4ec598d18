"""The REST API of every feature package (see annotations/features.py)."""

from importlib import import_module

from django.urls import include, path

from annotations.features import FEATURES

urlpatterns = [path("", include(import_module(f"annotations.{feature}.urls").api_urlpatterns))
               for feature in FEATURES]
