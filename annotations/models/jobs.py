"""Background jobs (import, merge, split, export, ...): state, progress and outcome."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import models
from django.utils import timezone


class Job(models.Model):
    """A unit of background work, run by a Celery worker and watched from the UI and REST.

    progress: 0..1. result: JSON summary (counts, problems). result_file: the produced file.
    heartbeat_at: written every few seconds by the worker running the job (and at each progress report);
    a running job whose heartbeat is stale lost its worker (see annotations/core/reaper.py).
    """

    class Kind(models.TextChoices):
        IMPORT = "import", "Import"
        MERGE = "merge", "Merge"
        SPLIT = "split", "Split"
        EXPORT = "export", "Export"
        EXTRACT = "extract", "Video frame extraction"
        INTERPOLATE = "interpolate", "Interpolation"
        PREDICT = "predict", "Predict"
        SCORE = "score", "Score"
        RETRAIN = "retrain", "Retrain"
        CHECK_LABELS = "check_labels", "Label checks"
        STORE_FRAMES = "store_frames", "Frames into media storage"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    project = models.ForeignKey("Project", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    result_file = models.FileField(upload_to="jobs/", blank=True, max_length=500)
    traceback = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="jobs")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "kind", "status"])]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def mark_running(self) -> None:
        self.status, self.started_at, self.progress = self.Status.RUNNING, timezone.now(), 0.0
        self.save(update_fields=["status", "started_at", "progress"])

    def report(self, progress: float, message: str = "") -> None:
        """Record progress; written straight to the row (outside any job transaction), throttled to one write
        per 0.5 s, except that a report entering a new tenth of the progress is always written: a job's
        phases ("writing annotations") show even when they follow each other within half a second."""
        now = time.monotonic()
        tenth = int(max(0.0, min(1.0, progress)) * 10)
        if progress < 1.0 and now - getattr(self, "_last_report", 0.0) < 0.5 \
                and tenth == getattr(self, "_last_tenth", -1):
            return
        self._last_report, self._last_tenth = now, tenth
        self.progress = max(0.0, min(1.0, progress))
        if message:
            self.message = message
        type(self).objects.using("jobstate").filter(pk=self.pk).update(progress=self.progress, message=self.message,
                                                                      heartbeat_at=timezone.now())

    def succeed(self, result: dict, message: str = "") -> None:
        self.status, self.progress, self.result = self.Status.SUCCEEDED, 1.0, result
        self.message = message or self.message
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "progress", "result", "message", "finished_at", "result_file"])

    def fail(self, message: str, traceback_text: str = "", result: dict | None = None) -> None:
        self.status, self.message, self.traceback = self.Status.FAILED, message, traceback_text
        self.result = result or {}
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "message", "traceback", "result", "finished_at"])
