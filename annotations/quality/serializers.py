"""Request and response bodies of the label-check REST (for the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from annotations.quality.checks import KINDS


class LabelChecksSerializer(serializers.Serializer):
    flags = serializers.ListField(child=serializers.JSONField(), help_text="Each flag: frame, annotation, kind, "
                                  "keypoints and the measurements behind it.")
    summary = serializers.JSONField()


class RunChecksSerializer(serializers.Serializer):
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=KINDS), required=False,
                                  help_text="The checks to run (default: all).")


class DismissSerializer(serializers.Serializer):
    frame = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=KINDS)
    keypoints = serializers.ListField(child=serializers.IntegerField(), required=False)
