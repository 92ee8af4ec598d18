"""Pseudo-label pretraining in the retrain job: a pre-annotator's stored predictions -> a warm start.

A project's verified frames come from a few clips; its pool holds many more people and
cameras. When the PI names a teacher (LearningSettings.pretrain_model, or the job's
"pretrain_model" param: usually MediaPipe or an uploaded RTMPose model that has predicted the
pool), the teacher's confident keypoints on frames outside the split's val and test clips become
pseudo-labels (mlcore.pseudo_labels), the keypoint model trains on them first and then on the
verified frames (train_keypoints(init_from=...)). On barbell-row this lifts held-out mean OKS
and the share of frames with OKS >= 0.5 (docs/mlcore.md, bench/mlcore_pretrain.py).

Held-out clips stay clean: no frame of a val or test clip of the split is pseudo-labelled, so
neither the teacher's view of them nor a human label reaches training.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from annotations.core.errors import InputError
from annotations.learning.data import frames_coco, without_private
from annotations.learning.training import train_keypoint_model
from annotations.models import ClipSplit, ModelKind, ModelVersion, Prediction, SplitVersion
from mlcore.pseudo_labels import pseudo_label_coco
from mlcore.skeletons import Skeleton
from mlcore.training.keypoints import KeypointTrainConfig

# Fewer pseudo-labelled frames than this teach less than they cost: pretraining is skipped.
MIN_PSEUDO_FRAMES = 20
# Training holds its frames in memory (mlcore.training.keypoints.load_samples): on a large pool
# an evenly spaced sample of this many predicted frames is pseudo-labelled.
MAX_PSEUDO_FRAMES = 1000


def teacher_for(project, settings, params: dict) -> ModelVersion | None:
    """The keypoint model whose predictions to pretrain on: the job's choice, else the settings' (None: off).

    The job param "pretrain_model" is a model id, or null / 0 to switch pretraining off for this job.
    """
    chosen = params["pretrain_model"] if "pretrain_model" in params else settings.pretrain_model_id
    if not chosen:
        return None
    try:
        version = ModelVersion.objects.filter(project=project, kind=ModelKind.KEYPOINTS, pk=int(chosen)).first()
    except (TypeError, ValueError):
        raise InputError("'pretrain_model' must be the id of a keypoint model") from None
    if version is None:
        raise InputError(f"project {project.slug} has no keypoint model with id {chosen} to pretrain on")
    return version


def pseudo_label_set(project, split: SplitVersion, teacher: ModelVersion, min_score: float = 0.5,
                     max_frames: int = MAX_PSEUDO_FRAMES) -> dict:
    """COCO dict of pseudo-labels from the teacher's stored predictions, with ``_paths`` for linked_images
    and ``_candidates`` (the teacher's predicted frames outside the held-out clips).

    Frames of the split's val and test clips are left out; of the rest, at most ``max_frames``
    evenly spaced in clip and frame order are used. Keypoints scored below ``min_score`` (and
    points the spine heuristic placed, scored 0) are unlabelled.
    """
    held_out = ClipSplit.objects.filter(version=split, subset__in=["val", "test"]).values_list("clip_id", flat=True)
    candidates = (Prediction.objects.filter(project=project, model_version=teacher)
                  .exclude(frame__clip_id__in=list(held_out)))
    frame_ids = list(candidates.order_by("frame__clip_id", "frame__frame_index", "frame_id")
                     .values_list("frame_id", flat=True).distinct())
    available = len(frame_ids)
    if available > max_frames:
        step = len(frame_ids) / max_frames
        frame_ids = [frame_ids[int(i * step)] for i in range(max_frames)]
    rows = list(candidates.filter(frame_id__in=frame_ids).order_by("frame_id", "instance")
                .values_list("frame_id", "keypoints"))
    frames = frames_coco(project, {fid for fid, _ in rows}, with_annotations=False)
    results = [{"image_id": fid, "keypoints": [v for x, y, s in kp for v in (x, y, s)],
                "keypoint_scores": [s for _x, _y, s in kp], "model_version": teacher.label} for fid, kp in rows]
    pseudo = pseudo_label_coco(without_private(frames), results, min_score=min_score)
    pseudo["_paths"] = frames["_paths"]
    pseudo["_candidates"] = available
    return pseudo


def pretrain(teacher: ModelVersion, pseudo: dict, epochs: int, images_dir: Path, out_dir: Path, skeleton: Skeleton,
             config: KeypointTrainConfig, progress) -> tuple[dict, Path | None]:
    """Train on the pseudo-labels for ``epochs`` (the keypoint settings otherwise) into out_dir.

    Returns (what happened, for the model's metrics; the directory to start the real training
    from, or None when pretraining was skipped: too few pseudo-labelled frames or 0 epochs).
    """
    n = len(pseudo["annotations"])
    info = {"teacher": teacher.label, "teacher_id": teacher.pk, "pseudo_frames": n, "epochs": epochs,
            "predicted_frames_outside_heldout": pseudo.get("_candidates", n)}
    if epochs <= 0:
        info["skipped"] = "0 epochs"
        return info, None
    if n < MIN_PSEUDO_FRAMES:
        info["skipped"] = f"{n} pseudo-labelled frames, fewer than {MIN_PSEUDO_FRAMES}"
        return info, None
    progress(0.0, f"pretraining on {n} frames pseudo-labelled by {teacher.label}")
    t0 = time.time()
    report = train_keypoint_model(without_private(pseudo), None, images_dir, out_dir, skeleton,
                                  dataclasses.replace(config, epochs=epochs), progress=progress, int8=False)
    info["seconds"] = round(time.time() - t0, 1)
    info["train_mean_oks_vs_pseudo"] = report["train"]["mean_oks"]
    return info, out_dir
