"""Database models, one module per area."""

from annotations.models.consensus import ConsensusFrame, ConsensusVote
from annotations.models.counts import AgreementPair, ClipCounts, ClipKeypointCounts
from annotations.models.gold import GoldAttempt, GoldFrame
from annotations.models.jobs import Job
from annotations.models.labels import Annotation, KeypointState, Revision
from annotations.models.learning import (
    LearningSettings,
    ModelKind,
    ModelSource,
    ModelStatus,
    ModelVersion,
    Prediction,
    SimulationRun,
)
from annotations.models.media import Clip, Frame, FrameStatus, ImportSource, Video
from annotations.models.projects import FormLabel, Membership, Project, Role
from annotations.models.review import FrameLease, FrameTransition, Queue, QueueItem, QueueSkip
from annotations.models.splits import ClipSplit, SplitVersion, Subset

__all__ = [
    "AgreementPair", "Annotation", "Clip", "ClipCounts", "ClipKeypointCounts", "ClipSplit", "FormLabel", "Frame",
    "FrameStatus", "ImportSource", "Job",
    "KeypointState", "Membership", "Project", "Revision", "Role", "SplitVersion", "Subset", "Video",
    "FrameLease", "FrameTransition", "Queue", "QueueItem", "QueueSkip",
    "ConsensusFrame", "ConsensusVote", "GoldAttempt", "GoldFrame",
    "LearningSettings", "ModelKind", "ModelSource", "ModelStatus", "ModelVersion", "Prediction", "SimulationRun",
]
