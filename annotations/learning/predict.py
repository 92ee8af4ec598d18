"""The predict job: the active keypoint model (and form model) over frames -> Prediction rows.

Frames go through mlcore.pipeline.predict_coco a few clips at a time (temporal signals need a
clip's frames together; memory stays bounded on large projects). A frame with a human annotation
is predicted in the person's box, so the score job can compare model and human; other frames
are predicted on the whole frame. Human annotations are read, never written.
"""

from __future__ import annotations

from django.db import transaction

from annotations.core.errors import InputError
from annotations.core.progress import Progress
from annotations.learning.data import POOL_STATUSES, frames_coco, linked_images, without_private
from annotations.learning.runtime import build_predictor, form_classifier_for, keypoint_version_for, mc_predictor
from annotations.models import Frame, FrameStatus, Job, LearningSettings, Prediction
from mlcore import pipeline

CHUNK_FRAMES = 2000
SCOPES = ("all", "pool", "annotated")


def frames_to_predict(project, params: dict) -> list[int]:
    """Frame ids chosen by params: "frames" (ids), "clips" (keys), or "scope" (all | pool | annotated)."""
    qs = Frame.objects.filter(project=project)
    if params.get("frames"):
        ids = [int(f) for f in params["frames"]]
        found = list(qs.filter(pk__in=ids).values_list("id", flat=True))
        if len(found) != len(set(ids)):
            raise InputError(f"{len(set(ids)) - len(found)} of the chosen frames are not in project {project.slug}")
        return found
    if params.get("clips"):
        qs = qs.filter(clip__key__in=list(params["clips"]))
    scope = params.get("scope", "all")
    if scope not in SCOPES:
        raise InputError(f"'scope' must be one of {SCOPES}")
    if scope == "pool":
        qs = qs.filter(status__in=POOL_STATUSES)
    elif scope == "annotated":
        qs = qs.filter(annotations__isnull=False).distinct()
    return list(qs.values_list("id", flat=True))


def chunks_by_clip(project, frame_ids: list[int], size: int = CHUNK_FRAMES) -> list[list[int]]:
    """Frame ids in groups of about `size`, never splitting a clip."""
    by_clip: dict[int, list[int]] = {}
    for fid, clip in Frame.objects.filter(pk__in=frame_ids).order_by("clip_id", "frame_index", "id").values_list(
            "id", "clip_id"):
        by_clip.setdefault(clip, []).append(fid)
    out: list[list[int]] = []
    current: list[int] = []
    for ids in by_clip.values():
        if current and len(current) + len(ids) > size:
            out.append(current)
            current = []
        current.extend(ids)
    if current:
        out.append(current)
    return out


def to_prediction(res: dict, instance: int, project, version, form_version, job) -> Prediction:
    """One predict_coco result -> an unsaved Prediction (keypoints K x 3 [x, y, score])."""
    flat, scores = res["keypoints"], res["keypoint_scores"]
    kp = [[flat[3 * i], flat[3 * i + 1], scores[i]] for i in range(len(scores))]
    signals = {k: v for k, v in res.get("signals", {}).items()}
    signals["keypoints"] = res.get("keypoint_signals", {})
    signals["keypoint_names"] = res.get("keypoint_signal_names", [])
    signals["batch_priority"] = res.get("priority")
    if res.get("label_error"):
        signals["label_error"] = res["label_error"]
    if "annotation_id" in res:
        signals["annotation_id"] = res["annotation_id"]
    return Prediction(project=project, frame_id=res["image_id"], model_version=version,
                      form_model_version=form_version if res.get("form_probs") else None, instance=instance,
                      keypoints=kp, bbox=res["bbox"], score=res.get("score", 0.0),
                      heuristic_keypoints=res.get("heuristic_keypoints", []), form_probs=res.get("form_probs", {}),
                      form_label=res.get("form_label", ""), signals=signals,
                      boxes="human" if "annotation_id" in res else "frame", job=job)


def predict_frames(project, params: dict | None = None, job: Job | None = None,
                   progress: Progress | None = None) -> dict:
    """Predict frames chosen by `params` (see frames_to_predict) with the active (or "model_version") model.

    params: flip_test (default true), mc_samples (default: the project's learning settings).
    Returns counts: frames, predictions, missing images, model label.
    """
    params = params or {}
    progress = progress or Progress(job)
    version = keypoint_version_for(project, params.get("model_version"))
    frame_ids = frames_to_predict(project, params)
    if not frame_ids:
        return {"frames": 0, "predictions": 0, "model_version": version.label}
    progress(0.0, f"loading {version.label}")
    predictor = build_predictor(version)
    samples = int(params.get("mc_samples", LearningSettings.of(project).mc_samples))
    mc = mc_predictor(version, samples)
    classifier, form_version = form_classifier_for(project)
    chunks = chunks_by_clip(project, frame_ids)
    stored, done, newly_preannotated = 0, 0, 0
    for n, chunk in enumerate(chunks):
        data = frames_coco(project, chunk)
        with linked_images(data) as folder:
            results = pipeline.predict_coco(
                without_private(data), folder, predictor, boxes="auto", flip_test=bool(params.get("flip_test", True)),
                extra_predictors=[mc] if mc else None, form_classifier=classifier,
                progress=progress.sub(n / len(chunks), (n + 1) / len(chunks)))
        seen: dict[int, int] = {}
        rows = []
        for res in results:
            instance = seen.get(res["image_id"], 0)
            seen[res["image_id"]] = instance + 1
            rows.append(to_prediction(res, instance, project, version, form_version, job))
        with transaction.atomic():
            # A rerun of the same model replaces its earlier output on these frames; other versions' stay.
            Prediction.objects.filter(model_version=version, frame_id__in=chunk).delete()
            Prediction.objects.bulk_create(rows, batch_size=2000)
            newly_preannotated += Frame.objects.filter(pk__in=list(seen), status=FrameStatus.UNLABELLED).update(
                status=FrameStatus.PREANNOTATED)
        stored += len(rows)
        done += len(chunk)
        progress((n + 1) / len(chunks), f"predicted {done}/{len(frame_ids)} frames with {version.label}")
    return {"frames": len(frame_ids), "predictions": stored, "missing_images": len(frame_ids) - len(
        set(Prediction.objects.filter(model_version=version, frame_id__in=frame_ids)
            .values_list("frame_id", flat=True))),
            "newly_preannotated": newly_preannotated, "model_version": version.label,
            "model_version_id": version.pk, "form_model_version": form_version.label if form_version else None}
