"""Which model is active: promotion after a retrain (only when it beats the active model on the same
held-out clips, or when a PI forces it), and activation by a PI.

The comparison re-evaluates the active model on the candidate's held-out frames, so two models
are never compared on different data (a split version may have gained held-out clips since
the active one was measured).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotations.core.errors import InputError
from annotations.learning.artifacts import local_model_dir
from annotations.learning.runtime import build_predictor
from annotations.learning.training import (
    evaluate_form_classifier,
    evaluate_keypoint_predictor,
    form_quality,
    keypoint_quality,
)
from annotations.models import ModelKind, ModelSource, ModelStatus, ModelVersion
from mlcore.form import FormClassifier


def activate(version: ModelVersion, user=None) -> ModelVersion:
    """Make `version` the active model of its kind (the previous one stops being active)."""
    if version.status != ModelStatus.READY:
        raise InputError(f"{version.label} is {version.get_status_display().lower()}: only a ready model can be "
                         "activated" + (" (an upload must pass its validation first)"
                                        if version.source == ModelSource.UPLOADED else ""))
    with transaction.atomic():
        others = ModelVersion.objects.select_for_update().filter(project_id=version.project_id, kind=version.kind)
        list(others)  # lock every version of this kind: two activations at once serialise here
        others.exclude(pk=version.pk).filter(is_active=True).update(is_active=False)
        version.is_active, version.activated_at = True, timezone.now()
        version.save(update_fields=["is_active", "activated_at"])
    return version


def evaluate_version(version: ModelVersion, gt: dict, images_dir: Path) -> dict:
    """The version's report on `gt` (keypoints: in human boxes; form: on human keypoints)."""
    if version.kind == ModelKind.KEYPOINTS:
        return evaluate_keypoint_predictor(build_predictor(version), gt, images_dir)
    return evaluate_form_classifier(FormClassifier(local_model_dir(version)), gt)


def quality(kind: str, report: dict) -> tuple[float, float]:
    return keypoint_quality(report) if kind == ModelKind.KEYPOINTS else form_quality(report)


QUALITY_NAMES: dict[str, tuple[str, str]] = {ModelKind.KEYPOINTS: ("OKS-AP", "mean OKS"),
                                              ModelKind.FORM: ("macro F1", "accuracy")}


def decide(candidate: ModelVersion, gt: dict, images_dir: Path, *, force: bool = False, user=None) -> dict:
    """Promote `candidate` if it beats the active model on `gt` (its held-out clips), or if forced.

    Returns and stores the decision: {"promoted", "reason", "candidate": [q1, q2], "active": [q1, q2],
    "active_version", "metric": [names]}.
    """
    kind = candidate.kind
    names = QUALITY_NAMES[kind]
    report = candidate.metrics.get(kind, {})
    mine = quality(kind, report)
    active = ModelVersion.active(candidate.project, kind)
    decision: dict[str, Any] = {"metric": list(names), "candidate": list(mine),
                                "active_version": active.label if active else None,
                                "heldout_frames": len(gt.get("images", []))}
    if active is not None and active.pk != candidate.pk:
        try:
            theirs = quality(kind, evaluate_version(active, gt, images_dir))
        except Exception as exc:  # an active model we cannot run here cannot be compared with
            theirs = None
            decision["active_error"] = f"{type(exc).__name__}: {exc}"
        decision["active"] = list(theirs) if theirs else None
    if candidate.status != ModelStatus.READY:
        decision.update(promoted=False, reason=f"{candidate.label} is not ready")
    elif force:
        decision.update(promoted=True, reason="forced by " + (user.get_username() if user else "a PI"))
    elif active is None:
        decision.update(promoted=True, reason="there was no active model")
    elif mine[0] < 0:
        decision.update(promoted=False, reason="no held-out measurement (no held-out clips with labels)")
    elif decision.get("active") is None:
        decision.update(promoted=False, reason=f"{active.label} could not be evaluated on the same held-out clips")
    elif tuple(mine) > tuple(decision["active"]):
        decision.update(promoted=True, reason=f"beats {active.label} on the same held-out clips: {names[0]} "
                                              f"{mine[0]:.3f} vs {decision['active'][0]:.3f}")
    else:
        decision.update(promoted=False, reason=f"does not beat {active.label} on the same held-out clips: "
                                               f"{names[0]} {mine[0]:.3f} vs {decision['active'][0]:.3f}")
    candidate.promotion = decision
    candidate.save(update_fields=["promotion"])
    if decision["promoted"]:
        activate(candidate, user)
    return decision
