"""Request and response bodies of the consensus REST (for the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from annotations.models.review import ANNOTATION_QUEUES

QUEUE_HELP = "The annotation queue the frames are put first in: " + ", ".join(ANNOTATION_QUEUES) + "."


class ConsensusSettingsSerializer(serializers.Serializer):
    people = serializers.IntegerField(required=False, min_value=0, max_value=10,
                                      help_text="Independent annotations every new frame needs: 0 (off) or 2-10.")
    threshold = serializers.FloatField(required=False, min_value=0, max_value=1,
                                       help_text="Mean pairwise OKS below which a consensus goes to review.")


class ConsensusSummarySerializer(serializers.Serializer):
    people = serializers.IntegerField()
    threshold = serializers.FloatField()
    frames = serializers.DictField(child=serializers.IntegerField(), help_text="Consensus frames per status.")
    form_alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's alpha of the form labels.")
    oks_per_keypoint = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                             help_text="Mean pairwise OKS per keypoint over finished frames.")


class RequireSerializer(serializers.Serializer):
    frames = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=5000)
    people = serializers.IntegerField(min_value=2, max_value=10)
    queue = serializers.CharField(required=False, default="uncertain", max_length=20, help_text=QUEUE_HELP)


class RequireClipSerializer(serializers.Serializer):
    clip = serializers.CharField(max_length=200, help_text="The clip's key, as in a frame's file name "
                                 "(52723_8 in 52723_8_10.jpg): every frame of it needs the annotations.")
    people = serializers.IntegerField(min_value=2, max_value=10)
    queue = serializers.CharField(required=False, default="uncertain", max_length=20, help_text=QUEUE_HELP)


class RequireResultSerializer(serializers.Serializer):
    required = serializers.ListField(child=serializers.IntegerField())  # type: ignore[assignment]
    refused = serializers.ListField(child=serializers.JSONField())


class RequireClipResultSerializer(RequireResultSerializer):
    clip = serializers.CharField()


class ConsensusStateSerializer(serializers.Serializer):
    """A frame's consensus state (reviewers and PIs only)."""

    required = serializers.IntegerField()  # type: ignore[assignment]
    submitted = serializers.IntegerField()
    status = serializers.CharField(help_text="collecting, agreed or disputed")
    mean_oks = serializers.FloatField(allow_null=True)
    form_agreement = serializers.FloatField(allow_null=True)
    disagreeing = serializers.ListField(child=serializers.CharField())


class ConsensusFrameSerializer(ConsensusStateSerializer):
    frame = serializers.IntegerField()
    file_name = serializers.CharField()


class ConsensusDetailSerializer(ConsensusFrameSerializer):
    keypoints = serializers.ListField(child=serializers.FloatField())
    form_label = serializers.CharField(allow_null=True)
    oks_per_keypoint = serializers.DictField(child=serializers.FloatField(allow_null=True))
    votes = serializers.ListField(child=serializers.JSONField(), help_text="Each person's submitted annotation.")
