"""Pages of the video area (upload, clip timeline)."""

urlpatterns: list = []
