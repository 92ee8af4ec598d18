"""The active-learning loop's records: model versions, their predictions, settings, simulation runs.

Human truth stays in Annotation; everything here is model output or about models. A Prediction
never touches an Annotation: the editor shows it as a ghost layer and a person decides.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models.jobs import Job
from annotations.models.media import Frame
from annotations.models.projects import Project
from annotations.models.splits import SplitVersion


class ModelKind(models.TextChoices):
    KEYPOINTS = "keypoints", "Keypoint model"
    FORM = "form", "Form classifier"


class ModelSource(models.TextChoices):
    TRAINED = "trained", "Trained here"
    UPLOADED = "uploaded", "Uploaded ONNX"
    MEDIAPIPE = "mediapipe", "MediaPipe BlazePose"


class ModelStatus(models.TextChoices):
    TRAINING = "training", "Training"
    VALIDATING = "validating", "Validating"
    READY = "ready", "Ready"
    INVALID = "invalid", "Failed validation"
    FAILED = "failed", "Training failed"


def artifact_path(instance: ModelVersion, filename: str) -> str:
    return f"models/{instance.project.slug}/{instance.kind}-v{instance.number}/{filename}"


class ModelVersion(models.Model):
    """One model of a project: trained by a retrain job, uploaded by a PI, or MediaPipe.

    number: per (project, kind), in creation order; a retrain gives its keypoint and form models
    the same number. metrics: mlcore.pipeline.evaluate's report on the held-out clips named in
    heldout_clips (the test subset of split_version), so versions compare on the same frames.
    promotion: why it was (not) made active: {"promoted", "reason", "candidate", "active", ...}.
    keypoint_names: the model's own keypoints (uploads: given by the PI; trained: the learned
    subset of the project skeleton). validation: an upload's check on a few frames.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    kind = models.CharField(max_length=12, choices=ModelKind.choices)
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=12, choices=ModelSource.choices, default=ModelSource.TRAINED)
    name = models.CharField(max_length=200, blank=True, help_text="what people call it, e.g. an upload's file name")
    status = models.CharField(max_length=12, choices=ModelStatus.choices, default=ModelStatus.TRAINING)
    is_active = models.BooleanField(default=False)
    checkpoint = models.FileField(upload_to=artifact_path, blank=True, max_length=500, help_text="torch model.pt")
    onnx = models.FileField(upload_to=artifact_path, blank=True, max_length=500)
    onnx_int8 = models.FileField(upload_to=artifact_path, blank=True, max_length=500)
    meta = models.JSONField(default=dict, blank=True, help_text="mlcore model.json")
    metrics = models.JSONField(default=dict, blank=True)
    heldout_clips = models.JSONField(default=list, blank=True)
    split_version = models.ForeignKey(SplitVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    training_config = models.JSONField(default=dict, blank=True)
    training_frames = models.PositiveIntegerField(default=0, help_text="verified frames it was trained on")
    keypoint_names = models.JSONField(default=list, blank=True)
    validation = models.JSONField(default=dict, blank=True)
    promotion = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "kind", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind", "number"], name="unique_model_number"),
            # At most one active model per kind: the database, not the code, guarantees it.
            models.UniqueConstraint(fields=["project", "kind"], condition=Q(is_active=True),
                                    name="one_active_model_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} {self.kind} v{self.number}"

    @property
    def label(self) -> str:
        return f"{self.kind} v{self.number}" + (f" ({self.get_source_display()})" if self.source != "trained" else "")

    @classmethod
    def active(cls, project, kind: str) -> ModelVersion | None:
        return cls.objects.filter(project=project, kind=kind, is_active=True).first()

    @classmethod
    def next_number(cls, project, kind: str | None = None) -> int:
        qs = cls.objects.filter(project=project)
        if kind:
            qs = qs.filter(kind=kind)
        return (qs.aggregate(n=models.Max("number"))["n"] or 0) + 1


class Prediction(models.Model):
    """A model's output on one frame (one person instance).

    keypoints: K x 3 [[x, y, score], ...] in the project's skeleton (pixels; score 0..1, 0 for
    points the model lacks and the spine heuristic placed, listed in heuristic_keypoints).
    form_probs: {form label: probability} from the form model, when one is active.
    signals: per-frame uncertainty terms {"confidence", "flip", "spread", "temporal", "form"} and
    per-keypoint ones under "keypoints" ({name: K values}, in the model's keypoint order
    "keypoint_names"), plus "label_error" where a human annotation was compared.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="predictions", db_index=False)
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="predictions", db_index=False)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    form_model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="form_predictions")
    instance = models.PositiveSmallIntegerField(default=0)
    keypoints = models.JSONField()
    bbox = models.JSONField(help_text="[x, y, w, h] the prediction was made in")
    score = models.FloatField(default=0.0)
    heuristic_keypoints = models.JSONField(default=list, blank=True)
    form_probs = models.JSONField(default=dict, blank=True)
    form_label = models.CharField(max_length=50, blank=True)
    signals = models.JSONField(default=dict, blank=True)
    boxes = models.CharField(max_length=10, default="frame", help_text="'human' box of the annotation, or 'frame'")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame_id", "instance"]
        constraints = [models.UniqueConstraint(fields=["frame", "model_version", "instance"],
                                               name="one_prediction_per_frame_model_instance")]
        indexes = [models.Index(fields=["project", "model_version"])]

    def __str__(self) -> str:
        return f"prediction of {self.model_version_id} on frame {self.frame_id}"

    @property
    def confidence(self) -> list[float]:
        """(K,) per-keypoint confidence."""
        return [p[2] for p in self.keypoints]


class LearningSettings(models.Model):
    """Per project: when to retrain automatically, and how big the models are.

    retrain_after: newly verified frames (since the last retrain started) that trigger one;
    0 switches automatic retraining off. keypoint_config / form_config: overrides of mlcore's
    KeypointTrainConfig / FormTrainConfig fields (epochs, input_size, width, ...).
    pretrain_model: a keypoint model (typically MediaPipe or an uploaded one) whose stored
    predictions outside the held-out clips become pseudo-labels the keypoint model trains on
    for pretrain_epochs before it trains on the verified frames (annotations.learning.pretraining).
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="learning_settings")
    retrain_after = models.PositiveIntegerField(default=50)
    keypoint_config = models.JSONField(default=dict, blank=True)
    form_config = models.JSONField(default=dict, blank=True)
    mc_samples = models.PositiveSmallIntegerField(default=0, help_text="MC-dropout passes per frame when predicting")
    pretrain_model = models.ForeignKey("ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", help_text="keypoint model whose predictions are pseudo-labels")
    pretrain_epochs = models.PositiveSmallIntegerField(default=60, help_text="epochs on the pseudo-labels")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"learning settings of {self.project.slug}"

    @classmethod
    def of(cls, project) -> LearningSettings:
        return cls.objects.get_or_create(project=project)[0]


class SimulationRun(models.Model):
    """One run of `simulate_active_learning`: a strategy's quality after each round.

    rounds: [{"round", "labelled_frames", "keypoints": {...}, "form": {...}, "seconds"}, ...].
    heldout_clips: the fixed clips every round is measured on (never trained on).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="simulation_runs")
    strategy = models.CharField(max_length=20)
    seed = models.IntegerField(default=0)
    batch = models.PositiveIntegerField()
    seed_frames = models.PositiveIntegerField()
    params = models.JSONField(default=dict, blank=True)
    heldout_clips = models.JSONField(default=list, blank=True)
    rounds = models.JSONField(default=list, blank=True)
    finished = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.strategy} simulation on {self.project.slug} (seed {self.seed})"
