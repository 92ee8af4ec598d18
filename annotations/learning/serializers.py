"""Request and response bodies of the active-learning REST (model versions, learning jobs and settings)."""

from __future__ import annotations

from rest_framework import serializers

from annotations.core.serializers import JobSerializer


class ModelVersionSerializer(serializers.Serializer):
    """A model version as annotations/learning/api.py's model_payload writes it."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    number = serializers.IntegerField()
    # The stubs see these as Field's own `label` and `source` attributes; at runtime SerializerMetaclass moves
    # declared fields out of the class body, so the names are free for the payload's keys.
    label = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    source = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    name = serializers.CharField(allow_null=True, allow_blank=True)
    family = serializers.CharField(allow_blank=True, help_text="Keypoint models: BlazePose backbone + heads, built-in "
                                   "network from scratch, uploaded ONNX or untuned MediaPipe; empty for form models.")
    status = serializers.CharField()
    is_active = serializers.BooleanField()
    metrics = serializers.JSONField()
    heldout_clips = serializers.JSONField()
    split_version = serializers.IntegerField(allow_null=True)
    training_config = serializers.JSONField()
    training_frames = serializers.JSONField()
    keypoint_names = serializers.JSONField()
    validation = serializers.JSONField()
    promotion = serializers.JSONField()
    job = serializers.IntegerField(allow_null=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    files = serializers.DictField(child=serializers.CharField(), help_text="checkpoint, onnx, onnx_int8 -> URL.")


class ModelUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The .onnx model.")
    keypoint_names = serializers.CharField(help_text="Its output's keypoint names, in order (JSON list or "
                                           "comma-separated).")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ModelWithJobSerializer(serializers.Serializer):
    model = ModelVersionSerializer()
    job = JobSerializer(required=False)


class ActivateSerializer(serializers.Serializer):
    predict = serializers.BooleanField(required=False, help_text="Predict (and score) with it right away.")


class LearningJobSerializer(serializers.Serializer):
    params = serializers.JSONField(required=False, help_text="The job's parameters (README: active learning).")


class LearningSettingsSerializer(serializers.Serializer):
    retrain_after = serializers.IntegerField(required=False)
    keypoint_config = serializers.JSONField(required=False)
    form_config = serializers.JSONField(required=False)
    mc_samples = serializers.IntegerField(required=False)
    pretrain_model = serializers.IntegerField(required=False, allow_null=True)
    pretrain_epochs = serializers.IntegerField(required=False)
    next_retrain = serializers.DictField(read_only=True, help_text="What the next retrain trains: backbone "
                                         "(blazepose or scratch), family and why, in words.")
