"""Request and response bodies of the projects REST (for validation and the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from annotations.core.serializers import ProjectSerializer


class ProjectCreateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=50, help_text="A new, unused slug.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    skeleton = serializers.CharField(max_length=50, required=False, help_text="A skeleton preset name.")


class ProjectDetailSerializer(ProjectSerializer):
    stats = serializers.JSONField(read_only=True, help_text="Frame counts by status, split and form label.")

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "stats"]


class ClipRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    frames_count = serializers.IntegerField()
    annotated = serializers.IntegerField()


class AnnotationRemoveSerializer(serializers.Serializer):
    """DELETE of a person added to a frame (not its first): the version being removed (409 if stale)."""

    version = serializers.IntegerField(help_text="The version being removed (or ?version=).")
    queue = serializers.CharField(required=False, allow_null=True, help_text="The queue it was claimed through.")


class AnnotationEditSerializer(serializers.Serializer):
    """PATCH of an annotation: the fields to change, with the version the caller is looking at."""

    version = serializers.IntegerField(required=False, help_text="The version being edited (409 if stale).")
    queue = serializers.CharField(required=False, allow_null=True, help_text="The queue it was claimed through.")
    keypoints = serializers.ListField(child=serializers.FloatField(), required=False,
                                      help_text="x, y, v triples, one per skeleton point.")
    keypoint_states = serializers.ListField(child=serializers.CharField(), required=False)
    bbox = serializers.ListField(child=serializers.FloatField(), required=False, allow_null=True,
                                 help_text="[x, y, w, h]")
    form_label = serializers.CharField(required=False, allow_null=True)
