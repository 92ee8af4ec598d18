"""The score job: stored predictions -> uncertainty and label-error signals -> queue priorities.

uncertain: frames of the unlabelled pool, by mlcore.uncertainty.combine over the whole pool
(priorities are relative to the batch, so the pool is always scored together), reordered by
diverse_order so the top of the queue spreads over clips. The queue's stored priority follows
that order; the item's signals say why (the combined value, its rank, the signal values, the
main signal and the least confident points).
label_error: annotated frames where a confident model disagrees with the person's points
(per-keypoint OKS) or, through the form model, with their form label.
"""

from __future__ import annotations

import numpy as np

from annotations.core.errors import InputError
from annotations.core.progress import Progress
from annotations.learning.data import POOL_STATUSES
from annotations.learning.runtime import form_classifier_for, keypoint_version_for
from annotations.models import Annotation, Frame, ModelKind, ModelVersion, Prediction, Queue
from annotations.review import queues
from mlcore import uncertainty as unc

MAX_PER_CLIP = 2
SIGNAL_NAMES = ("confidence", "flip", "spread", "temporal", "form")


def _r(v, digits: int = 3):
    return None if v is None or not np.isfinite(v) else round(float(v), digits)


def scored_version(project, params: dict) -> ModelVersion:
    if params.get("model_version"):
        return keypoint_version_for(project, params["model_version"])
    active = ModelVersion.active(project, ModelKind.KEYPOINTS)
    if active is not None and Prediction.objects.filter(model_version=active).exists():
        return active
    latest = (Prediction.objects.filter(project=project).order_by("-created_at", "-id")
              .select_related("model_version").first())
    if latest is None:
        raise InputError("no predictions to score yet: run a predict job first")
    return latest.model_version


def load_predictions(project, version: ModelVersion) -> dict:
    """The version's predictions as arrays over frames with one (instance 0).

    Returns frame_ids (N,), clip keys, frame indices, statuses, kp (N, Km, 3) in the model's own
    keypoints (Km, the columns the model predicted, no heuristic ones), bboxes (N, 4),
    per-keypoint stored signals {name: (N, Km)}, form_probs (N, C) or None, classes, names,
    annotation ids (N,), and the Km indices into the project skeleton.
    """
    names = list(project.skeleton["keypoints"])
    rows = list(Prediction.objects.filter(project=project, model_version=version, instance=0)
                .order_by("frame_id").values_list("frame_id", "keypoints", "bbox", "signals", "form_probs"))
    if not rows:
        raise InputError(f"{version.label} has no predictions in this project: run a predict job first")
    model_names = rows[0][3].get("keypoint_names") or names
    cols = [names.index(n) for n in model_names if n in names]
    info = {f: (c, i, s) for f, c, i, s in Frame.objects.filter(pk__in=[r[0] for r in rows]).values_list(
        "id", "clip__key", "frame_index", "status")}
    kp = np.array([np.asarray(r[1], dtype=np.float64)[cols] for r in rows])
    per_kpt: dict[str, np.ndarray] = {}
    for name in ("confidence", "flip", "spread"):
        stacked = [r[3].get("keypoints", {}).get(name) for r in rows]
        if any(s is not None for s in stacked):
            per_kpt[name] = np.array([[np.nan if v is None else v for v in s] if s is not None
                                      else [np.nan] * len(cols) for s in stacked], dtype=np.float64)
    classes = sorted({c for r in rows for c in (r[4] or {})})
    probs = None
    if classes:
        probs = np.array([[(r[4] or {}).get(c, np.nan) for c in classes] for r in rows], dtype=np.float64)
    return {"frame_ids": np.array([r[0] for r in rows]), "clips": [info[r[0]][0] for r in rows],
            "frames": [info[r[0]][1] for r in rows], "status": [info[r[0]][2] for r in rows], "kp": kp,
            "bboxes": np.array([r[2] for r in rows], dtype=np.float64), "per_kpt": per_kpt, "form_probs": probs,
            "classes": classes, "names": [names[c] for c in cols], "cols": cols,
            "annotation_ids": [r[3].get("annotation_id") for r in rows]}


def frame_signals(p: dict) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-keypoint (N, Km) and per-frame (N,) signals; temporal is recomputed over every predicted frame."""
    per_kpt = dict(p["per_kpt"])
    if "confidence" not in per_kpt:
        per_kpt["confidence"] = unc.confidence(p["kp"][..., 2])
    per_kpt["temporal"] = unc.temporal_jump(p["kp"], p["clips"], p["frames"], p["bboxes"])
    frame = {name: unc.frame_mean(v) for name, v in per_kpt.items()}
    if p["form_probs"] is not None:
        ok = ~np.isnan(p["form_probs"]).any(1)
        form = np.full(len(ok), np.nan)
        if ok.any():
            form[ok] = unc.form_margin(p["form_probs"][ok])
        frame["form"] = form
    return per_kpt, frame


def pool_order(signals: dict[str, np.ndarray], clips: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The uncertain queue's order: combined priority (N,) over the pool and the diverse order (N,) of indices.

    signals: per-frame signals {name: (N,)} (NaN where a frame lacks one); clips: N clip ids.
    The simulation of the loop reveals frames in exactly this order.
    """
    priority = unc.combine(signals)
    return priority, unc.diverse_order(priority, clips, MAX_PER_CLIP)


def uncertainty_queue(project, version: ModelVersion, p: dict) -> dict:
    """Priorities of the pool's frames in the uncertain queue; also the frames' own priority."""
    pool = np.array([s in POOL_STATUSES for s in p["status"]])
    if not pool.any():
        return {"frames": 0}
    per_kpt, frame = frame_signals(p)
    sub = {name: v[pool] for name, v in frame.items() if not np.isnan(v[pool]).all()}
    priority, order = pool_order(sub, [c for c, keep in zip(p["clips"], pool) if keep])
    ranks = {name: unc.rank01(v) for name, v in sub.items()}
    ids = p["frame_ids"][pool]
    conf = per_kpt["confidence"][pool]
    n = len(ids)
    scores, signals = {}, {}
    for position, i in enumerate(order):
        fid = int(ids[i])
        scores[fid] = (n - position) / n
        main = max(ranks, key=lambda k: -1 if np.isnan(ranks[k][i]) else ranks[k][i])
        doubtful = [p["names"][j] for j in np.argsort(-conf[i])[:3] if conf[i, j] > 0.5]
        signals[fid] = {"model": version.label, "uncertainty": _r(priority[i]), "rank": f"{position + 1} of {n}",
                        "main_signal": main, **{("form_margin" if k == "form" else k): _r(v[i])
                                                for k, v in sub.items() if _r(v[i]) is not None}}
        if doubtful:
            signals[fid]["doubtful_points"] = doubtful
    queues.set_priorities(project, Queue.UNCERTAIN, scores, signals)
    frames = list(Frame.objects.filter(pk__in=list(scores)).only("id", "priority"))
    by_id = {int(ids[i]): float(priority[i]) for i in range(n)}
    for f in frames:
        f.priority = round(by_id[f.pk], 6)
    Frame.objects.bulk_update(frames, ["priority"], batch_size=2000)
    top = [int(ids[i]) for i in order[:10]]
    return {"frames": n, "top": top, "signals_used": sorted(sub)}


def label_error_queue(project, version: ModelVersion, p: dict) -> dict:
    """Flag annotated frames where the model (or the form model) confidently disagrees with the person."""
    ann_ids = [a for a in p["annotation_ids"] if a]
    if not ann_ids:
        return {"checked": 0, "flagged": 0}
    rows = {a.pk: a for a in Annotation.objects.filter(pk__in=ann_ids).select_related("form_label")}
    K = project.num_keypoints
    sigmas = np.asarray(project.skeleton["sigmas"], dtype=np.float64)[p["cols"]]
    idx: list[int] = []
    human_rows: list[np.ndarray] = []
    areas: list[float] = []
    human_form: list[str | None] = []
    for i, a in enumerate(p["annotation_ids"]):
        ann = rows.get(a)
        if ann is None:
            continue
        kp = np.asarray(ann.padded_keypoints(K)[0], dtype=np.float64).reshape(K, 3)[p["cols"]]
        idx.append(i)
        human_rows.append(kp)
        areas.append(ann.area)
        human_form.append(label.name if (label := ann.form_label) is not None else None)
    if not idx:
        return {"checked": 0, "flagged": 0}
    human = np.stack(human_rows)
    classifier, _ = form_classifier_for(project)
    form_args = {}
    if classifier is not None:
        full = np.stack([np.asarray(rows[p["annotation_ids"][i]].padded_keypoints(K)[0], float).reshape(K, 3)
                         for i in idx])
        form_args = dict(form_probs=classifier.predict_proba(full, project.get_skeleton()), human_form=human_form,
                         classes=classifier.classes)
    res = unc.label_error_scores(p["kp"][idx], human, np.asarray(areas), sigmas, **form_args)
    scores, signals = {}, {}
    for j, i in enumerate(idx):
        if not res["flagged"][j]:
            continue
        fid = int(p["frame_ids"][i])
        scores[fid] = float(res["score"][j])
        signals[fid] = {"model": version.label, "label_error_score": _r(res["score"][j]),
                        "suspect_joints": [p["names"][k] for k in np.flatnonzero(res["joints"][j])]}
        if res["form_disagrees"][j]:
            probs = form_args["form_probs"][j]
            top = int(np.argmax(probs))
            signals[fid]["form"] = (f"model says {form_args['classes'][top]} ({probs[top]:.2f}), "
                                    f"label {human_form[j]}")
    queues.set_priorities(project, Queue.LABEL_ERROR, scores, signals)
    return {"checked": len(idx), "flagged": len(scores),
            "form_disagreements": int(res["form_disagrees"].sum())}


def score_project(project, params: dict | None = None, job=None, progress: Progress | None = None) -> dict:
    params = params or {}
    progress = progress or Progress(job)
    version = scored_version(project, params)
    progress(0.05, f"loading predictions of {version.label}")
    p = load_predictions(project, version)
    progress(0.3, "ranking the pool by uncertainty")
    uncertain = uncertainty_queue(project, version, p)
    progress(0.6, "looking for label errors")
    errors = label_error_queue(project, version, p)
    progress(0.9, "refreshing the built-in queues")
    sizes = queues.refresh_builtin_queues(project)
    progress(1.0, f"scored {len(p['frame_ids'])} frames with {version.label}")
    return {"model_version": version.label, "model_version_id": version.pk, "scored_frames": len(p["frame_ids"]),
            "uncertain": uncertain, "label_error": errors, "queue_sizes": sizes}
