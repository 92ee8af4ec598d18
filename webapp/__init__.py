"""Django project wiring for PoseReview: settings, urls, Celery app, wsgi/asgi."""

from webapp.celery import app as celery_app

__all__ = ["celery_app"]
