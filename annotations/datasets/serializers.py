"""Request bodies of the dataset REST (starting import, merge, split and export jobs)."""

from __future__ import annotations

from rest_framework import serializers

from annotations.core.jobs import kinds_of


class DatasetJobSerializer(serializers.Serializer):
    """A dataset job. Import takes its fields at the top level (JSON, or multipart with the zip or COCO
    JSON as `file`); merge, split and export take `params` (see the README for each kind's keys)."""

    kind = serializers.ChoiceField(choices=[], help_text="import, merge, split, export or store_frames.")
    params = serializers.JSONField(required=False, help_text="The job's parameters (not for import).")
    file = serializers.FileField(required=False, help_text="import: a CVAT zip or COCO JSON.")
    annotation_path = serializers.CharField(required=False, max_length=4096,
                                            help_text="import: a COCO JSON on the server (PI).")
    images_dir = serializers.CharField(required=False, max_length=4096,
                                       help_text="import: the server folder of its images.")
    form_label = serializers.CharField(required=False, allow_null=True, max_length=200)
    source_name = serializers.CharField(required=False, allow_null=True, max_length=255)
    copy_images = serializers.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = sorted(kinds_of("datasets"))
