"""REST endpoints of the video area (chunked upload, extraction, timeline data, interpolation)."""

urlpatterns: list = []
