"""Which keypoint model family a version is, and which one the next retrain of a project will train.

Families: BlazePose's pretrained backbone with heads trained here (when the MediaPipe extra's model
files are found), the built-in network trained from scratch (the fallback), an uploaded ONNX model,
and MediaPipe's own untuned pipeline. The models page and the REST API show them so a PI knows what
the queues and pre-annotations rest on.
"""

from __future__ import annotations

from annotations.learning.training import keypoint_config
from annotations.models import LearningSettings, ModelKind, ModelSource, ModelVersion
from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files

BLAZEPOSE_HEADS = "BlazePose backbone + heads trained here"
SCRATCH = "built-in network trained from scratch"


def version_family(version: ModelVersion) -> str:
    """A keypoint version's family in words ("" for form classifiers)."""
    if version.kind != ModelKind.KEYPOINTS:
        return ""
    if version.source == ModelSource.MEDIAPIPE:
        return "MediaPipe BlazePose, untuned"
    if version.source == ModelSource.UPLOADED:
        return "uploaded ONNX model"
    backbone = (version.meta or {}).get("backbone") or (version.training_config or {}).get("backbone")
    return BLAZEPOSE_HEADS if backbone == "blazepose" else SCRATCH


def retrain_family(project, settings: LearningSettings | None = None) -> dict:
    """What the next retrain trains: {"backbone": "blazepose"|"scratch", "family": words, "why": words}."""
    settings = settings or LearningSettings.of(project)
    chosen = keypoint_config(settings.keypoint_config).backbone
    try:
        files = blazepose_files()
        found, where = True, str(files.landmark.parent.parent.parent)
    except BlazePoseUnavailable:
        found, where = False, ""
    if chosen == "scratch":
        return {"backbone": "scratch", "family": SCRATCH, "why": "the project's settings ask for it"}
    if found:
        return {"backbone": "blazepose", "family": BLAZEPOSE_HEADS,
                "why": f"BlazePose's model files were found ({where})"}
    if chosen == "blazepose":
        return {"backbone": "blazepose", "family": BLAZEPOSE_HEADS,
                "why": "asked for by the project's settings, but BlazePose's model files are missing here: "
                       "retrains will fail until the MediaPipe extra is installed (make install)"}
    return {"backbone": "scratch", "family": SCRATCH,
            "why": "BlazePose's model files were not found (install the MediaPipe extra: make install)"}


# How a keypoint version reads each crop (model.json's test_views, mlcore.blazepose.test_views.RULES).
TEST_VIEW_WORDS = {"flip_points": "flip test", "flip_maps": "flip test on the heatmaps",
                   "zoom": "zoomed crops on the heatmaps",
                   "zoom_flip_maps": "flip test and zoomed crops on the heatmaps"}


def inference_text(version: ModelVersion) -> str:
    """How a keypoint version answers beyond one plain pass, in words ("" when it does not): the mean of
    several trainings' heatmaps, the flip test and each point's smoothing along a clip (the last two chosen
    by its training on held-out clips)."""
    meta = version.meta or {}
    parts = []
    members = int(((meta.get("config") or {}).get("head") or {}).get("members") or 1)
    if members > 1:
        parts.append(f"mean of {members} trainings")
    rule = meta.get("test_views") or ("flip_points" if meta.get("flip_average") else "plain")
    if rule != "plain":
        parts.append(TEST_VIEW_WORDS.get(rule, rule))
    radius = {name: r for name, r in (meta.get("smoothing_radius") or {}).items() if r}
    if radius:
        span = ", ".join(f"{name} {'whole clip' if r < 0 else f'±{r}'}" for name, r in radius.items())
        parts.append(f"smoothed along the clip ({span} frames)")
    return "; ".join(parts)

