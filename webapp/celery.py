"""The Celery app; tasks live in annotations/tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("posereview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
