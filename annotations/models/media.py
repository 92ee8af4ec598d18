"""Videos, clips and frames, and the import sources frames came from."""

from __future__ import annotations

from django.db import models

from annotations.models.projects import FormLabel, Project


class Video(models.Model):
    """A recording; its clips are continuous stretches of it (the `52723` of `52723_8_10.jpg`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="videos")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="videos/", blank=True)
    fps = models.FloatField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="seconds")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    codec = models.CharField(max_length=50, blank=True)
    rotation = models.SmallIntegerField(default=0, help_text="degrees from the container's display matrix")
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    variable_frame_rate = models.BooleanField(default=False)
    source_name = models.CharField(max_length=255, blank=True, help_text="file name as uploaded")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_video_name")]

    def __str__(self) -> str:
        return self.name


class Clip(models.Model):
    """A clip: the unit that splits keep whole (no frame of a test clip is ever trained on)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="clips")
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.SET_NULL, related_name="clips")
    key = models.CharField(max_length=200, help_text="clip id, e.g. 52723_8")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="unique_clip_key")]

    def __str__(self) -> str:
        return self.key


class ImportSource(models.Model):
    """An annotation file imported into a project (re-imports of it update in place)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_sources")
    name = models.CharField(max_length=255, help_text="file name of the annotation JSON")
    form_label = models.ForeignKey(FormLabel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_import_source")]

    def __str__(self) -> str:
        return self.name


class FrameStatus(models.TextChoices):
    UNLABELLED = "unlabelled", "Unlabelled"
    PREANNOTATED = "preannotated", "Pre-annotated"
    ANNOTATED = "annotated", "Annotated"
    SUBMITTED = "submitted", "Submitted for review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Frame(models.Model):
    """One image of a clip. Its pixels live in media storage (`image`) or in place (`source_path`)."""

    # No single-column indexes on these: the unique (project, file_name) and (clip, frame_index)
    # indexes lead with them, and every extra index slows bulk imports.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="frames", db_index=False)
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="frames", db_index=False)
    file_name = models.CharField(max_length=255)
    image = models.FileField(upload_to="frames/", blank=True, max_length=500)
    thumbnail = models.FileField(upload_to="thumbnails/", blank=True, max_length=500)
    timestamp = models.FloatField(null=True, blank=True, help_text="seconds into the video, for extracted frames")
    source_path = models.CharField(max_length=1024, blank=True,
                                   help_text="absolute path of an image referenced in place")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    frame_index = models.IntegerField(null=True, blank=True)
    split = models.CharField(max_length=5, blank=True, default="", help_text="subset in the current split version")
    status = models.CharField(max_length=20, choices=FrameStatus.choices, default=FrameStatus.UNLABELLED)
    priority = models.FloatField(default=0.0)
    source = models.ForeignKey(ImportSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="frames")
    source_image_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clip_id", "frame_index", "file_name"]
        constraints = [models.UniqueConstraint(fields=["project", "file_name"], name="unique_frame_file_name")]
        indexes = [
            models.Index(fields=["project", "split"]),
            models.Index(fields=["project", "status"]),
            models.Index(fields=["clip", "frame_index"]),
        ]

    def __str__(self) -> str:
        return self.file_name

    @property
    def has_image(self) -> bool:
        return bool(self.image) or bool(self.source_path)

    def open_image(self):
        """A binary file object for the frame's pixels (caller closes it)."""
        if self.image:
            return self.image.open("rb")
        return open(self.source_path, "rb")
