"""Database models, one module per area."""

from .jobs import Job
from .labels import Annotation, KeypointState, Revision
from .learning import LearningSettings, ModelKind, ModelSource, ModelStatus, ModelVersion, Prediction, SimulationRun
from .media import Clip, Frame, FrameStatus, ImportSource, Video
from .projects import FormLabel, Membership, Project, Role
from .review import FrameLease, FrameTransition, Queue, QueueItem, QueueSkip
from .splits import ClipSplit, Subset, SplitVersion

__all__ = [
    "Annotation", "Clip", "ClipSplit", "FormLabel", "Frame", "FrameStatus", "ImportSource", "Job",
    "KeypointState", "Membership", "Project", "Revision", "Role", "SplitVersion", "Subset", "Video",
    "FrameLease", "FrameTransition", "Queue", "QueueItem", "QueueSkip",
    "LearningSettings", "ModelKind", "ModelSource", "ModelStatus", "ModelVersion", "Prediction", "SimulationRun",
]
