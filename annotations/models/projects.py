"""Projects, their skeleton and form-label set, and who may do what in them."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from mlcore.skeletons import Skeleton, get_preset

DEFAULT_CLIP_PATTERN = r"^(?P<clip>.+)_(?P<frame>\d+)$"
DEFAULT_FORM_LABELS = [("correct", "Correct form", "#2ca02c"), ("lumbar_error", "Lumbar error", "#d62728")]


def validate_clip_pattern(pattern: str) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValidationError(f"invalid regular expression: {exc}") from exc
    if "clip" not in compiled.groupindex:
        raise ValidationError("the clip pattern needs a named group (?P<clip>...)")


class Role(models.TextChoices):
    PI = "pi", "PI / admin"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


# What each role may do; a superuser may do everything everywhere.
ROLE_RANK: dict[str, int] = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.PI: 3}


class Project(models.Model):
    """A dataset: frames of one exercise, one skeleton, one form-label set."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    skeleton_preset = models.CharField(max_length=50, default="coco17_spine")
    # Skeleton.to_dict(): keypoints, links, flip_pairs, sigmas, colours. Keypoints are only ever
    # appended, so every stored annotation stays a valid prefix of the current skeleton.
    skeleton = models.JSONField()
    clip_pattern = models.CharField(
        max_length=200, default=DEFAULT_CLIP_PATTERN, validators=[validate_clip_pattern],
        help_text="Regular expression on the file name without extension; (?P<clip>) names the clip, "
        "(?P<frame>) the frame index.",
    )
    # The share of annotation-queue claims that serve a gold frame blind (annotations/gold/serving.py).
    honeypot_rate = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
                                      help_text="share of annotation-queue claims that serve a gold frame, 0 to 1")
    # Independent annotations every unannotated frame claimed from an annotation queue needs (0: none;
    # annotations/consensus/), and the mean pairwise OKS below which a consensus goes to review.
    consensus_people = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(10)],
                                                        help_text="independent annotations per new frame, 0 or 2-10")
    consensus_threshold = models.FloatField(default=0.75, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
                                            help_text="mean pairwise OKS a consensus needs to be accepted")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def create(cls, slug: str, name: str = "", preset: str = "coco17_spine", user=None,
               form_labels=DEFAULT_FORM_LABELS) -> Project:
        """A new project with a skeleton preset, the default form labels, and `user` as its PI."""
        project = cls.objects.create(
            slug=slug, name=name or slug, skeleton_preset=preset,
            skeleton=get_preset(preset).to_dict(), created_by=user,
        )
        for order, (label, display, colour) in enumerate(form_labels):
            project.form_labels.create(name=label, display_name=display, order=order, colour=colour)
        if user is not None:
            Membership.objects.create(project=project, user=user, role=Role.PI)
        return project

    def get_skeleton(self) -> Skeleton:
        return Skeleton.from_dict(self.skeleton)

    @property
    def num_keypoints(self) -> int:
        return len(self.skeleton["keypoints"])

    def add_keypoints(self, names: list[str], sigmas: list[float] | None = None) -> None:
        """Append keypoints to the skeleton. Stored annotations read them as unlabelled (v = 0)."""
        extended = self.get_skeleton().with_keypoints(names, sigmas)
        self.skeleton = extended.to_dict()
        self.save(update_fields=["skeleton"])

    def parse_file_name(self, file_name: str) -> tuple[str, int | None]:
        """(clip id, frame index) from a file name by the project's clip pattern.

        A name that does not match is a clip of its own (its stem), with no frame index.
        """
        stem = file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        match = re.match(self.clip_pattern, stem)
        if not match:
            return stem, None
        frame = match.groupdict().get("frame")
        return match.group("clip"), int(frame) if frame and frame.isdigit() else None

    # -- permissions -------------------------------------------------------------------------
    def role_of(self, user) -> str | None:
        if not user or not user.is_authenticated:
            return None
        if user.is_superuser:
            return Role.PI
        cache = getattr(user, "_project_roles", None)
        if cache is None:
            cache = user._project_roles = {}
        if self.pk not in cache:
            cache[self.pk] = self.memberships.filter(user=user).values_list("role", flat=True).first()
        return cache[self.pk]

    def has_role(self, user, minimum: str) -> bool:
        role = self.role_of(user)
        return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]

    @classmethod
    def visible_to(cls, user):
        if user.is_superuser:
            return cls.objects.all()
        return cls.objects.filter(memberships__user=user).distinct()


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_role_per_project")]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.project}"


class FormLabel(models.Model):
    """One label of a project's form-label set (correct, lumbar_error, ...); key = order + 1."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="form_labels")
    name = models.SlugField(max_length=50)
    display_name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(default=0)
    colour = models.CharField(max_length=9, default="#888888")

    class Meta:
        ordering = ["order", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_form_label")]

    def __str__(self) -> str:
        return self.name
