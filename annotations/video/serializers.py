"""Request and response bodies of the video REST (uploads, extraction, clip tools)."""

from __future__ import annotations

from rest_framework import serializers


class ClipCountSerializer(serializers.Serializer):
    key = serializers.CharField()
    frames = serializers.IntegerField()


class VideoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    source_name = serializers.CharField(allow_blank=True, allow_null=True)
    fps = serializers.FloatField(allow_null=True)
    duration = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    codec = serializers.CharField(allow_blank=True, allow_null=True)
    rotation = serializers.IntegerField(allow_null=True)
    frame_count = serializers.IntegerField(allow_null=True)
    variable_frame_rate = serializers.BooleanField(allow_null=True)
    created_at = serializers.DateTimeField()
    clips = ClipCountSerializer(many=True)


class ExtractionOptionsSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["all", "every", "fps"], required=False,
                                   help_text="Every frame, every Nth frame, or F frames a second.")
    every = serializers.IntegerField(required=False, min_value=1, help_text="N for mode=every.")
    fps = serializers.FloatField(required=False, help_text="F for mode=fps.")
    clip = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                 help_text="The clip id (letters, digits, '-' and '_').")
    video = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text="The video's name.")
    preannotate = serializers.BooleanField(required=False, help_text="Pre-annotate with the active model.")


class VideoUploadSerializer(ExtractionOptionsSerializer):
    file = serializers.FileField(help_text="The video file.")


class UploadBeginSerializer(serializers.Serializer):
    file_name = serializers.CharField(max_length=255)
    size = serializers.IntegerField(help_text="The file's size in bytes.")


class UploadStateSerializer(serializers.Serializer):
    id = serializers.CharField()
    file_name = serializers.CharField()
    size = serializers.IntegerField()
    offset = serializers.IntegerField()
    complete = serializers.BooleanField()
    chunk_size = serializers.IntegerField()


class InterpolateSerializer(serializers.Serializer):
    start_frame = serializers.IntegerField(required=False, allow_null=True, help_text="A frame id.")
    end_frame = serializers.IntegerField(required=False, allow_null=True, help_text="A frame id.")
    method = serializers.ChoiceField(choices=["linear"], required=False)


class ThresholdSerializer(serializers.Serializer):
    threshold = serializers.FloatField(required=False, help_text="A fraction of the body's box diagonal (0-10).")
