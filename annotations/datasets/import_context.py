"""What the parts of one import share: the project, its source record, labels, who runs it, and when."""

from __future__ import annotations

from django.utils import timezone

from annotations.models import ImportSource


class ImportContext:
    """One import run, inside the caller's transaction."""

    def __init__(self, project, source_name: str, labels: dict, form_label: str | None, user, job):
        self.project, self.labels, self.user, self.job = project, labels, user, job
        self.default_label = labels.get(form_label) if form_label else None
        self.source, _ = ImportSource.objects.get_or_create(project=project, name=source_name)
        if self.default_label and self.source.form_label_id != self.default_label.pk:
            self.source.form_label = self.default_label
            self.source.save(update_fields=["form_label", "updated_at"])
        self.now = timezone.now()

    def report(self, progress: float, message: str) -> None:
        if self.job:
            self.job.report(progress, message)
