"""Uploaded ONNX keypoint models (RTMPose / SpinePose style): registered by a PI with their keypoint
names, validated on a few annotated frames by a predict job, activated only once valid.

The upload request only checks what needs no model run (file name, size, names); loading the
network and predicting happen in the validation job on the ml queue.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from django.conf import settings

from annotations.core.errors import InputError
from annotations.core.jobs import start_job
from annotations.core.progress import Progress
from annotations.learning.artifacts import local_model_dir
from annotations.learning.data import frames_coco, linked_images
from annotations.models import Annotation, Job, ModelKind, ModelSource, ModelStatus, ModelVersion
from mlcore import metrics
from mlcore.images import load_rgb
from mlcore.predictors import load_predictor
from mlcore.predictors.onnx_topdown import OnnxTopDownPredictor
from mlcore.skeletons import PRESETS, Skeleton, normalise_name, remap
from mlcore.skeletons.base import build

VALIDATION_FRAMES = 8
MAX_ONNX_BYTES = 512 * 1024 * 1024


def parse_names(text) -> list[str]:
    """Keypoint names from a list, or text with one name per line or comma-separated."""
    if isinstance(text, (list, tuple)):
        names = [str(n) for n in text]
    else:
        names = [n for part in str(text or "").splitlines() for n in part.split(",")]
    names = [normalise_name(n) for n in names if n.strip()]
    if not names:
        raise InputError("give the model's keypoint names, in its output order (one per line or comma-separated)")
    if len(set(names)) != len(names):
        raise InputError("keypoint names must be unique")
    return names


def skeleton_for(names: list[str], project_skeleton: Skeleton) -> Skeleton:
    """A preset when the names are one; else the names with the project's sigmas and links where known."""
    for preset in PRESETS.values():
        if preset.keypoints == tuple(names):
            return preset
    index = {n: i for i, n in enumerate(project_skeleton.keypoints)}
    sigmas = [project_skeleton.sigmas[index[n]] if n in index else 0.079 for n in names]
    links = [(project_skeleton.keypoints[a], project_skeleton.keypoints[b]) for a, b in project_skeleton.links
             if project_skeleton.keypoints[a] in names and project_skeleton.keypoints[b] in names]
    return build("uploaded", names, links, sigmas)


def register_onnx(project, upload, names_text, user=None, name: str = "") -> tuple[ModelVersion, Job]:
    """Store an uploaded .onnx file as a keypoint model awaiting validation; queue its validation job."""
    file_name = getattr(upload, "name", "") or ""
    if not file_name.lower().endswith(".onnx"):
        raise InputError("upload an .onnx file")
    limit = getattr(settings, "POSEREVIEW_MAX_MODEL_BYTES", MAX_ONNX_BYTES)
    if upload.size > limit:
        raise InputError(f"{file_name}: {upload.size:,} bytes exceeds the model size limit of {limit:,} bytes")
    names = parse_names(names_text)
    skeleton = skeleton_for(names, project.get_skeleton())
    common = set(names) & set(project.get_skeleton().keypoints)
    if not common:
        raise InputError(f"none of the model's keypoints ({', '.join(names[:5])}, ...) is a keypoint of this project")
    number = ModelVersion.next_number(project, ModelKind.KEYPOINTS)
    version = ModelVersion(project=project, kind=ModelKind.KEYPOINTS, number=number, source=ModelSource.UPLOADED,
                           name=name or file_name, status=ModelStatus.VALIDATING, keypoint_names=names,
                           created_by=user)
    version.meta = {"kind": "keypoints", "format": 1, "version": f"uploaded-{number}", "skeleton": skeleton.to_dict(),
                    "split_ratio": 2.0, "padding": 1.25, "source_file": file_name}
    version.onnx.save("model.onnx", upload, save=False)
    version.save()
    job = start_job(project, Job.Kind.PREDICT, {"validate": version.pk}, user)
    return version, job


def validate_upload(project, version_id: int, job=None, progress: Progress | None = None) -> dict:
    """Run an uploaded model on a few annotated frames; mark it ready or invalid with the findings."""
    progress = progress or Progress(job)
    version = ModelVersion.objects.get(project=project, pk=version_id, source=ModelSource.UPLOADED)
    result: dict[str, Any] = {"frames": 0, "problems": []}
    try:
        predictor = load_predictor(local_model_dir(version), threads=1)
        if not isinstance(predictor, OnnxTopDownPredictor):
            raise TypeError(f"it loads as a {type(predictor).__name__}")
    except Exception as exc:
        result["problems"].append(f"the model does not load as a SimCC top-down ONNX model: {exc}")
        return _finish(version, result)
    k_model = predictor.session.get_outputs()[0].shape[1]
    result.update(input_size=list(predictor.input_size), outputs=predictor.output_names)
    expected = len(version.keypoint_names)
    probe = np.zeros((1, 3, predictor.input_size[1], predictor.input_size[0]), np.float32)
    try:
        sx, sy = predictor.run(probe)
    except Exception as exc:
        result["problems"].append(f"the model fails on a blank input: {exc}")
        return _finish(version, result)
    k_model = sx.shape[1]
    result["model_keypoints"] = int(k_model)
    if k_model != expected:
        result["problems"].append(f"the model outputs {k_model} keypoints but {expected} names were given")
        return _finish(version, result)
    if sx.shape[2] != round(predictor.input_size[0] * predictor.split_ratio) or \
            sy.shape[2] != round(predictor.input_size[1] * predictor.split_ratio):
        result["problems"].append(f"SimCC outputs {sx.shape[2]} x {sy.shape[2]} bins do not match the input "
                                  f"{predictor.input_size} with split ratio {predictor.split_ratio}")
    frame_ids = list(Annotation.objects.filter(project=project, num_keypoints__gt=0, area__gt=0)
                     .order_by("frame_id").values_list("frame_id", flat=True).distinct()[:VALIDATION_FRAMES])
    if not frame_ids:
        result["problems"].append("the project has no annotated frame to validate on")
        return _finish(version, result)
    data = frames_coco(project, frame_ids)
    project_skeleton = project.get_skeleton()
    model_skeleton = predictor.skeleton
    oks: list[float] = []
    seconds: list[float] = []
    with linked_images(data) as folder:
        anns = {a["image_id"]: a for a in data["annotations"]}
        for n, im in enumerate(data["images"]):
            ann = anns.get(im["id"])
            path = folder / im["file_name"]
            if ann is None or not path.exists():
                continue
            image = load_rgb(path)
            t = time.perf_counter()
            found = predictor.predict(image, np.array([ann["bbox"]], dtype=np.float64))
            seconds.append(time.perf_counter() - t)
            kp = found[0].keypoints
            if not np.isfinite(kp).all():
                result["problems"].append(f"frame {im['id']}: non-finite keypoints")
                continue
            human = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
            human = remap(human, project_skeleton, model_skeleton)
            oks.append(float(metrics.oks(kp[None], human[None], np.array([ann["area"]]),
                                         model_skeleton.sigma_array)[0]))
            progress((n + 1) / len(data["images"]), f"validated on {n + 1} frames")
    result["frames"] = len(oks)
    result["mean_oks"] = round(float(np.nanmean(oks)), 4) if oks else None
    result["ms_per_frame"] = round(1000 * float(np.median(seconds)), 1) if seconds else None
    result["shared_keypoints"] = [n for n in version.keypoint_names if n in project_skeleton.keypoints]
    if not oks:
        result["problems"].append("no frame could be predicted")
    return _finish(version, result)


def _finish(version: ModelVersion, result: dict) -> dict:
    result["ok"] = not result["problems"]
    version.validation = result
    version.status = ModelStatus.READY if result["ok"] else ModelStatus.INVALID
    version.save(update_fields=["validation", "status"])
    return {"model_version": version.label, "model_version_id": version.pk, **result}
