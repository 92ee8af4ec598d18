"""Workflows shared by the REST API, the HTML views, the Celery tasks and the commands."""
