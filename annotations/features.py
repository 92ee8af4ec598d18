"""The feature packages of the app, in URL order. Each has `urls.py` (`urlpatterns`, `api_urlpatterns`);
those with job kinds have `jobs.py`, imported at start-up so the job registry is complete."""

FEATURES = ("core", "projects", "datasets", "review", "video", "learning", "quality", "gold", "consensus", "dashboards")
JOB_FEATURES = ("datasets", "video", "learning", "quality")
