"""Request and response bodies of the gold-frame REST (for the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from annotations.consensus.serializers import ConsensusStateSerializer
from annotations.core.serializers import FrameSerializer


class FrameIdsSerializer(serializers.Serializer):
    frames = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=5000,
                                   help_text="Frame ids of the project.")


class MarkResultSerializer(serializers.Serializer):
    marked = serializers.ListField(child=serializers.IntegerField(), help_text="Frames that are gold now.")
    refused = serializers.ListField(child=serializers.JSONField(), help_text="{frame, reason} of the others.")


class UnmarkResultSerializer(serializers.Serializer):
    unmarked = serializers.IntegerField()


class ImportResultSerializer(serializers.Serializer):
    marked = serializers.ListField(child=serializers.IntegerField())
    unmatched = serializers.ListField(child=serializers.CharField(), help_text="File names with no frame here.")
    problems = serializers.ListField(child=serializers.JSONField())


class GoldImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A COCO keypoints JSON file; images match frames by file name.")


class GoldSettingsSerializer(serializers.Serializer):
    honeypot_rate = serializers.FloatField(min_value=0, max_value=1, help_text="Share of annotation-queue claims "
                                           "that serve a gold frame blind, 0 to 1.")


class GoldSummarySerializer(GoldSettingsSerializer):
    gold_frames = serializers.IntegerField(read_only=True)
    scored_attempts = serializers.IntegerField(read_only=True)


class GoldFrameSerializer(serializers.Serializer):
    frame = serializers.IntegerField()
    file_name = serializers.CharField()
    source = serializers.CharField(help_text="marked or imported")  # type: ignore[assignment]
    form_label = serializers.CharField(allow_null=True)
    marked_by = serializers.CharField(allow_null=True)
    marked_at = serializers.CharField()
    attempts = serializers.IntegerField(help_text="Scored honeypot attempts on it.")
    mean_oks = serializers.FloatField(allow_null=True)


class AnnotatorAccuracySerializer(serializers.Serializer):
    user = serializers.CharField()
    attempts = serializers.IntegerField()
    mean_oks = serializers.FloatField(allow_null=True)
    median_pixel_error = serializers.FloatField(allow_null=True)
    form_agreement = serializers.FloatField(allow_null=True, help_text="Share of attempts with the gold's label.")
    missed_points = serializers.IntegerField()
    last_attempt = serializers.CharField()


class AccuracySerializer(serializers.Serializer):
    annotators = AnnotatorAccuracySerializer(many=True)
    unit = serializers.CharField(help_text="day or week")
    columns = serializers.ListField(child=serializers.CharField())
    over_time = serializers.ListField(child=serializers.ListField(child=serializers.JSONField(allow_null=True)))


class AttemptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    frame = serializers.IntegerField()
    file_name = serializers.CharField()
    user = serializers.CharField()
    queue = serializers.CharField()
    submitted_at = serializers.CharField()
    oks = serializers.FloatField(allow_null=True)
    oks_per_keypoint = serializers.DictField(child=serializers.FloatField(allow_null=True))
    pixel_error = serializers.FloatField(allow_null=True)
    pixel_error_per_keypoint = serializers.DictField(child=serializers.FloatField(allow_null=True))
    form_label = serializers.CharField(allow_null=True)
    gold_form_label = serializers.CharField(allow_null=True)
    form_agreement = serializers.BooleanField(allow_null=True)
    missed = serializers.IntegerField()
    extra = serializers.IntegerField()


class GoldStateSerializer(serializers.Serializer):
    """A frame's gold state in the frames REST (reviewers and PIs only)."""

    source = serializers.CharField()  # type: ignore[assignment]
    form_label = serializers.CharField(allow_null=True)
    marked_by = serializers.CharField(allow_null=True)
    marked_at = serializers.CharField()
    attempts = serializers.IntegerField()
    mean_oks = serializers.FloatField(allow_null=True)


class FrameWithGoldSerializer(FrameSerializer):
    """A frame as the frames REST describes it: `gold` and `consensus` are there for reviewers and PIs only."""

    gold = GoldStateSerializer(required=False, allow_null=True,
                               help_text="The frame's gold state (null: not gold). Reviewers and PIs only.")
    consensus = ConsensusStateSerializer(required=False, allow_null=True, help_text="The frame's consensus state "
                                         "(null: it needs none). Reviewers and PIs only.")

    class Meta(FrameSerializer.Meta):
        fields = [*FrameSerializer.Meta.fields, "gold", "consensus"]
