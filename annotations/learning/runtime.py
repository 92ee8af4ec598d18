"""Which model runs: the project's active keypoint predictor and form classifier, built from versions.

Active keypoint model, in order: the version marked active (trained here, or an uploaded ONNX
model the PI validated and activated); with none, MediaPipe BlazePose when it is installed
(recorded as a ModelVersion of source "mediapipe" so its predictions carry a version too).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from annotations.core.errors import InputError
from annotations.learning.artifacts import local_model_dir
from annotations.models import ModelKind, ModelSource, ModelStatus, ModelVersion
from mlcore.form import FormClassifier
from mlcore.predictors import load_predictor, mediapipe_pose
from mlcore.predictors.torch_topdown import TorchTopDownPredictor
from mlcore.skeletons import COCO17, Skeleton


def mediapipe_available() -> bool:
    return mediapipe_pose.mediapipe_available()


def mediapipe_version(project) -> ModelVersion:
    """The project's MediaPipe model version (created on first use)."""
    existing = ModelVersion.objects.filter(project=project, kind=ModelKind.KEYPOINTS,
                                           source=ModelSource.MEDIAPIPE).first()
    if existing:
        return existing
    for _ in range(3):  # two jobs may ask at once; the unique number decides
        try:
            with transaction.atomic():
                return ModelVersion.objects.create(
                    project=project, kind=ModelKind.KEYPOINTS, number=ModelVersion.next_number(project, "keypoints"),
                    source=ModelSource.MEDIAPIPE, name="MediaPipe BlazePose full (0.10.14)", status=ModelStatus.READY,
                    keypoint_names=list(COCO17.keypoints))
        except IntegrityError:
            continue
    raise InputError("could not record the MediaPipe model version")


def keypoint_version_for(project, version_id: int | None = None) -> ModelVersion:
    """The keypoint model to predict with: the one asked for, else the active one, else MediaPipe."""
    if version_id:
        version = ModelVersion.objects.filter(project=project, kind=ModelKind.KEYPOINTS, pk=version_id).first()
        if version is None:
            raise InputError(f"project {project.slug} has no keypoint model {version_id}")
        return version
    active = ModelVersion.active(project, ModelKind.KEYPOINTS)
    if active is not None:
        return active
    if mediapipe_available():
        return mediapipe_version(project)
    raise InputError("no active keypoint model: retrain, or upload and activate an ONNX model "
                     "(MediaPipe is not installed here)")


def build_predictor(version: ModelVersion, threads: int | None = None):
    """An mlcore predictor for a keypoint model version."""
    if version.source == ModelSource.MEDIAPIPE:
        return load_predictor("mediapipe")
    # Heads on BlazePose answer in the project's skeleton: spine points nobody has verified yet come from
    # the body's back contour (other models leave them to the straight-line heuristic of mlcore.pipeline).
    predictor = load_predictor(local_model_dir(version), threads=threads, spine_skeleton=version.project.get_skeleton())
    predictor.version = version.label
    return predictor


def mc_predictor(version: ModelVersion, samples: int, seed: int = 0):
    """MC-dropout passes of a model trained here (its torch checkpoint), or None."""
    if samples <= 0 or version.source != ModelSource.TRAINED or not version.checkpoint:
        return None
    if (version.meta or {}).get("backbone") == "blazepose":
        return None  # heads on BlazePose's backbone have no dropout to sample; flip and confidence still rank
    return TorchTopDownPredictor(local_model_dir(version), mc_samples=samples, seed=seed)


def model_skeleton(version: ModelVersion) -> Skeleton:
    if version.source == ModelSource.MEDIAPIPE:
        return COCO17
    return Skeleton.from_dict(version.meta["skeleton"])


def form_classifier_for(project, version_id: int | None = None):
    """(FormClassifier, version) of the active form model, or (None, None) when there is none."""
    qs = ModelVersion.objects.filter(project=project, kind=ModelKind.FORM)
    version = qs.filter(pk=version_id).first() if version_id else qs.filter(is_active=True).first()
    if version is None:
        return None, None
    classifier = FormClassifier(local_model_dir(version))
    classifier.version = version.label
    return classifier, version
