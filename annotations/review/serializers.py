"""Request and response bodies of the review REST (queues, claims, submit and decisions, history)."""

from __future__ import annotations

from rest_framework import serializers

from annotations.models.review import Queue
from annotations.review.decisions import DECISIONS


class QueueFiltersSerializer(serializers.Serializer):
    clip = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200,
                                 help_text="Only frames of the clip with this key.")
    split = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200,
                                  help_text="Only frames of this split (train, val, test).")
    form_label = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200,
                                       help_text="Only frames with this form label.")


class QueueItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    queue = serializers.ChoiceField(choices=Queue.choices)
    frame = serializers.IntegerField()
    priority = serializers.FloatField()
    signals = serializers.JSONField(help_text="Why the frame is in the queue, e.g. {\"jump\": 41.2}.")
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    edit_url = serializers.CharField()


class ClaimSerializer(serializers.Serializer):
    item = QueueItemSerializer(allow_null=True, help_text="The claimed item; null when the queue is empty.")


class QueueListSerializer(serializers.Serializer):
    queues = serializers.ListField(child=serializers.JSONField(), help_text="Each queue with its open items.")
    filters = serializers.JSONField(help_text="The clips, splits and form labels a claim may filter by.")


class MoveOnSerializer(QueueFiltersSerializer):
    """After submitting, deciding or skipping: the queue the frame came from, and whether to claim its next."""

    queue = serializers.ChoiceField(choices=Queue.choices, required=False, allow_null=True, allow_blank=True)
    next = serializers.BooleanField(required=False, help_text="Claim the queue's next frame in the same call.")


class DecisionSerializer(MoveOnSerializer):
    decision = serializers.ChoiceField(choices=DECISIONS)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=10_000,
                                    help_text="Required when rejecting.")


class TransitionSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="The frame's new status.")
    transition = serializers.IntegerField()
    next = QueueItemSerializer(allow_null=True)


class RestoreSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The annotation's current version as the caller sees it.")
    which = serializers.ChoiceField(choices=["after", "before"], required=False, default="after")


class AnnotationCreateSerializer(serializers.Serializer):
    queue = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    instance = serializers.IntegerField(required=False, allow_null=True, min_value=0,
                                        help_text="The person on the frame (0 is the first; another needs the "
                                                  "first to exist). Without it: the frame's first annotation.")
    keypoints = serializers.ListField(child=serializers.FloatField(), required=False)
    keypoint_states = serializers.ListField(child=serializers.CharField(), required=False)
    bbox = serializers.ListField(child=serializers.FloatField(), required=False, allow_null=True)
    form_label = serializers.CharField(required=False, allow_null=True)


class HistorySerializer(serializers.Serializer):
    frame = serializers.IntegerField()
    entries = serializers.ListField(child=serializers.JSONField())
