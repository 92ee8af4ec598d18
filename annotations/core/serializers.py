"""DRF serializers: shape only, no business rules (those live in services/)."""

from __future__ import annotations

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotations.core.errors import InputError
from annotations.models import Annotation, Clip, FormLabel, Frame, Job, Project, Revision, SplitVersion


class FormLabelEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField()
    colour = serializers.CharField()
    key = serializers.IntegerField(help_text="The editor's number key for this label.")


class ProjectSerializer(serializers.ModelSerializer):
    form_labels = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["slug", "name", "description", "skeleton_preset", "skeleton", "clip_pattern", "form_labels", "role"]

    @extend_schema_field(FormLabelEntrySerializer(many=True))
    def get_form_labels(self, obj):
        return [{"name": f.name, "display_name": f.display_name, "colour": f.colour, "key": i + 1}
                for i, f in enumerate(obj.form_labels.all())]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The caller's role in the project."))
    def get_role(self, obj):
        return obj.role_of(self.context["request"].user)


class AnnotationSerializer(serializers.ModelSerializer):
    form_label: serializers.SlugRelatedField[FormLabel] = serializers.SlugRelatedField(
        slug_field="name", read_only=True)
    # The model's lists as they are (v flags as ints, state names): not DRF's typed list for array columns.
    keypoints = serializers.JSONField()
    keypoint_states = serializers.JSONField()

    class Meta:
        model = Annotation
        fields = ["id", "frame", "instance", "keypoints", "keypoint_states", "bbox", "area", "form_label", "source",
                  "human_edited", "version", "updated_at"]


class FrameSerializer(serializers.ModelSerializer):
    clip: serializers.SlugRelatedField[Clip] = serializers.SlugRelatedField(slug_field="key", read_only=True)
    annotations = AnnotationSerializer(many=True, read_only=True)
    has_image = serializers.BooleanField(read_only=True)

    class Meta:
        model = Frame
        fields = ["id", "file_name", "clip", "frame_index", "width", "height", "split", "status", "priority",
                  "has_image", "annotations"]


class RevisionSerializer(serializers.ModelSerializer):
    user: serializers.StringRelatedField[User] = serializers.StringRelatedField()

    class Meta:
        model = Revision
        fields = ["id", "kind", "user", "created_at", "before", "after", "note", "annotation", "frame"]


class JobSerializer(serializers.ModelSerializer):
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by: serializers.StringRelatedField[User] = serializers.StringRelatedField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "project", "kind", "status", "progress", "message", "params", "result", "traceback",
                  "created_by", "created_at", "started_at", "finished_at", "download_url"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, obj):
        return f"/api/jobs/{obj.pk}/download/" if obj.result_file else None


class SplitVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SplitVersion
        fields = ["number", "seed", "ratios", "summary", "created_at"]


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """`data` checked by `serializer_class`: its validated data, or an InputError (400) naming each bad field."""
    if not isinstance(data, dict) and not hasattr(data, "getlist"):
        raise InputError("send a JSON object")
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        problems = [f"'{field}': {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
                    for field, msgs in serializer.errors.items()]
        raise InputError("; ".join(problems))
    return dict(serializer.validated_data)
