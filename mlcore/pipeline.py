"""Whole-file workflows the CLI and the web app's jobs share: predict a COCO file, classify form, evaluate.

Each takes and returns plain dicts/lists (COCO in, COCO-style results out),
so a Celery task can call them with files it fetched and store what comes back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, SupportsFloat

import numpy as np
import numpy.typing as npt

from . import coco, metrics
from . import uncertainty as unc
from .images import load_rgb
from .predictors.base import Instance, Predictor
from .skeletons import Skeleton, remap
from .spine import fill_spine
from .training.common import ProgressFn, no_progress


class FormModel(Protocol):
    """What these workflows use of a form classifier (``mlcore.form.FormClassifier``)."""

    classes: list[str]
    version: str

    def predict_proba(self, keypoints: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
        """keypoints (N, K, 3) in ``skeleton`` -> probabilities (N, C) over ``classes``."""
        ...


def _target(data: dict[str, Any]) -> tuple[Skeleton | None, int]:
    for cat in data.get("categories", []):
        if cat.get("keypoints"):
            return coco.category_skeleton(data, cat["id"]), int(cat["id"])
    return None, 1


def _to_skeleton(kp: npt.NDArray[np.float64], src: Skeleton, dst: Skeleton, guessed: Sequence[int] = (),
                 unpredicted: Sequence[int] = ()) -> tuple[npt.NDArray[np.float64], list[int]]:
    """Move one instance (K, 3) into the file's skeleton; spine points a model lacks come from the heuristic.

    guessed: indices (in ``src``) the predictor itself placed as a starting point, not a prediction (spine
    points along the back contour); unpredicted: indices it has no point for. Both count as lacking.
    Returns (K', 3) and the indices placed by a guess or the heuristic (their score is 0:
    they are a starting point for a reviewer, not a prediction).
    """
    if src.keypoints == dst.keypoints and not guessed and not unpredicted:
        return kp, []
    moved = remap(kp, src, dst)
    guessed_names = {src.keypoints[i] for i in guessed}
    lacking = guessed_names | {src.keypoints[i] for i in unpredicted}
    have = set(src.keypoints) - lacking
    # fill_spine reads v > 0 as "placed"; scores of 0 would hide real points, so use a presence flag.
    flagged = moved.copy()
    flagged[:, 2] = [1.0 if n in have or n in guessed_names else 0.0 for n in dst.keypoints]
    filled, mask = fill_spine(flagged[None], dst)
    out = moved.copy()
    out[mask[0], :2] = filled[0, mask[0], :2]
    placed = mask[0] | np.array([n in guessed_names for n in dst.keypoints])
    out[placed, 2] = 0.0
    return out, [int(i) for i in np.flatnonzero(placed)]


def predict_coco(data: dict[str, Any], images_dir: str | os.PathLike[str], predictor: Predictor, boxes: str = "auto",
                 flip_test: bool = True, extra_predictors: list[Predictor] | None = None,
                 form_classifier: FormModel | None = None, progress: ProgressFn = no_progress,
                 limit: int | None = None) -> list[dict[str, Any]]:
    """Predict every image of a COCO dict; returns COCO keypoint results with uncertainty.

    boxes: "auto" = each annotation's bbox where the image has annotations
    (one prediction per annotation, carrying its ``annotation_id``), else the
    whole frame; "frame" = always the whole frame. flip_test adds the flip
    signal (twice the compute). extra_predictors: ensemble members or an
    MC-dropout predictor; their keypoints give the ``spread`` signal (a
    predictor with ``mc_samples`` contributes its passes). form_classifier:
    classifies the predicted keypoints and adds ``form_probs`` and the form signal.

    Each result: image_id, category_id, keypoints (flat, in the file's
    skeleton), keypoint_scores, score, bbox, model_version, priority,
    signals {name: frame value}, keypoint_signals {name: K values},
    label_error (when the image has a human annotation), heuristic_keypoints.
    """
    target, category_id = _target(data)
    target = target or predictor.skeleton
    index = coco.ImageIndex(images_dir)
    anns_by_image: dict[int, list[dict[str, Any]]] = {}
    for a in data.get("annotations", []):
        if a.get("bbox") and a.get("category_id", category_id) == category_id:
            anns_by_image.setdefault(a["image_id"], []).append(a)
    images = data.get("images", [])[:limit] if limit else data.get("images", [])
    rows: list[dict[str, Any]] = []
    for n, img in enumerate(images):
        path = index.find(img["file_name"])
        if path is None:
            progress(n / max(len(images), 1), f"missing image file {img['file_name']}")
            continue
        image = load_rgb(path)
        anns = anns_by_image.get(img["id"], []) if boxes == "auto" else []
        box_list = np.array([a["bbox"] for a in anns], dtype=np.float64) if anns else None
        found = predictor.predict(image, box_list, flip_test=flip_test)
        others = [p.predict(image, box_list) for p in (extra_predictors or [])]
        for j, inst in enumerate(found):
            samples: list[npt.NDArray[np.float64]] = []
            for o in others:
                if j < len(o):
                    samples.extend(o[j].extra.get("mc_keypoints", [o[j].keypoints]))
            samples.extend(inst.extra.get("mc_keypoints", []))
            rows.append({"image": img, "inst": inst, "ann": anns[j] if anns and j < len(anns) else None,
                         "samples": np.stack(samples) if samples else None})
        if n % 10 == 0:
            progress((n + 1) / max(len(images), 1), f"predicted {n + 1}/{len(images)} images")
    return _finish(rows, predictor, target, category_id, form_classifier)


def _finish(rows: list[dict[str, Any]], predictor: Predictor, target: Skeleton, category_id: int,
            form_classifier: FormModel | None) -> list[dict[str, Any]]:
    src = predictor.skeleton
    n, k = len(rows), src.num_keypoints
    if n == 0:
        return []
    kp = np.stack([r["inst"].keypoints for r in rows])                       # (N, K, 3) model skeleton
    bboxes = np.stack([r["inst"].bbox for r in rows])
    # Points the model only guessed (or has none for) carry no model doubt: no signal reads them.
    not_predicted = np.zeros((n, k), dtype=bool)
    for i, r in enumerate(rows):
        not_predicted[i, _guessed(r["inst"]) + _unpredicted(r["inst"])] = True
    kp_signal = np.where(not_predicted[..., None], np.nan, kp)
    per_kpt: dict[str, npt.NDArray[np.float64]] = {"confidence": unc.confidence(kp_signal[..., 2])}
    flips = [r["inst"].extra.get("flip_keypoints") for r in rows]
    if any(f is not None for f in flips):
        flip = np.stack([f if f is not None else np.full((k, 3), np.nan) for f in flips])
        per_kpt["flip"] = unc.flip_disagreement(kp_signal, flip, bboxes)
    if any(r["samples"] is not None for r in rows):
        per_kpt["spread"] = np.stack([
            unc.sample_spread(r["samples"][:, None], r["inst"].bbox[None])[0] if r["samples"] is not None
            else np.full(k, np.nan) for r in rows])
    clips = [coco.clip_id(r["image"]) for r in rows]
    frames = [coco.frame_index(r["image"]) for r in rows]
    per_kpt["temporal"] = unc.temporal_jump(kp_signal, clips, frames, bboxes)
    frame_signals = {name: unc.frame_mean(v) for name, v in per_kpt.items()}
    form_probs = None
    if form_classifier is not None:
        form_probs = form_classifier.predict_proba(kp, src)
        frame_signals["form"] = unc.form_margin(form_probs)
    priority = unc.combine(frame_signals)
    # The answer smoothed along each clip where the model chose radii (the signals above read each frame's
    # own prediction: how much it jumps is model doubt).
    answer = _smoothed(kp, not_predicted, clips, frames, predictor.smoothing_radius)

    out = []
    for i, r in enumerate(rows):
        inst: Instance = r["inst"]
        moved, heuristic = _to_skeleton(answer[i], src, target, _guessed(inst), _unpredicted(inst))
        res = Instance(keypoints=moved, bbox=inst.bbox, score=inst.score).to_coco_result(r["image"]["id"], category_id)
        res["model_version"] = predictor.version
        res["priority"] = round(float(priority[i]), 4)
        res["signals"] = {name: _num(v[i]) for name, v in frame_signals.items()}
        res["keypoint_signals"] = {name: [_num(x) for x in v[i]] for name, v in per_kpt.items()}
        res["keypoint_signal_names"] = list(src.keypoints)
        if heuristic:
            res["heuristic_keypoints"] = heuristic
        if form_classifier is not None and form_probs is not None:
            res["form_probs"] = {c: round(float(p), 4)
                                 for c, p in zip(form_classifier.classes, form_probs[i], strict=True)}
            res["form_label"] = form_classifier.classes[int(np.argmax(form_probs[i]))]
        if r["ann"] is not None:
            res["annotation_id"] = int(r["ann"]["id"])
            res["label_error"] = _label_error(answer[i], src, r["ann"], target,
                                              _guessed(inst) + _unpredicted(inst))
        out.append(res)
    return out


def _smoothed(kp: npt.NDArray[np.float64], not_predicted: npt.NDArray[np.bool_], clips: list[str],
              frames: list[int | None], radius: npt.NDArray[np.int64] | None) -> npt.NDArray[np.float64]:
    """Keypoints (N, K, 3) smoothed along their clips with ``radius`` (K,) (``temporal_smoothing``); points a
    predictor only guessed or has none for keep their own place. Unchanged without a radius."""
    if radius is None or not np.any(np.asarray(radius) != 0):
        return kp
    from .temporal_smoothing import smooth_in_clips

    guessed = np.where(not_predicted[..., None], np.nan, kp)        # left out of every median
    smoothed = smooth_in_clips(guessed, clips, frames, radius)
    return np.where(not_predicted[..., None], kp, smoothed)


def _guessed(inst: Instance) -> list[int]:
    """Indices the predictor placed as a guess (``extra["heuristic_keypoints"]``), in its own skeleton."""
    return [int(i) for i in inst.extra.get("heuristic_keypoints", [])]


def _unpredicted(inst: Instance) -> list[int]:
    """Indices the predictor has no point for (``extra["unpredicted_keypoints"]``), in its own skeleton."""
    return [int(i) for i in inst.extra.get("unpredicted_keypoints", [])]


def _label_error(pred: npt.NDArray[np.float64], src: Skeleton, ann: dict[str, Any],
                 target: Skeleton, not_predicted: Sequence[int] = ()) -> dict[str, Any]:
    human = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
    if human.shape[0] != target.num_keypoints:
        return {}
    human = remap(human, target, src) if target.keypoints != src.keypoints else human.copy()
    human[list(not_predicted), 2] = 0       # a guess of the model's own is no evidence against the human
    area = float(ann.get("area") or ann["bbox"][2] * ann["bbox"][3])
    res = unc.label_error_scores(pred[None], human[None], [area], src.sigma_array)
    return {"score": round(float(res["score"][0]), 4), "suspect_joints": [src.keypoints[j] for j in
                                                                         np.flatnonzero(res["joints"][0])],
            "flagged": bool(res["flagged"][0])}


def _num(v: SupportsFloat) -> float | None:
    f = float(v)
    return None if not np.isfinite(f) else round(f, 4)


def predict_form(data: dict[str, Any], classifier: FormModel, min_form_prob: float = 0.8) -> list[dict[str, Any]]:
    """Classify every keypoint annotation of a COCO dict; one result per annotation.

    Result: image_id, annotation_id, form_label, form_probs {class: p},
    model_version, signals {form_margin, form_entropy} and, where the human
    gave a form label, ``label_error`` (a confident disagreement with it).
    """
    table = coco.keypoint_table(data)
    if len(table) == 0:
        return []
    probs = classifier.predict_proba(table.keypoints, table.skeleton)
    margin, entropy = unc.form_margin(probs), unc.form_entropy(probs)
    out = []
    for i in range(len(table)):
        top = int(np.argmax(probs[i]))
        res: dict[str, Any] = {"image_id": int(table.image_ids[i]), "annotation_id": int(table.annotation_ids[i]),
               "form_label": classifier.classes[top],
               "form_probs": {c: round(float(p), 4) for c, p in zip(classifier.classes, probs[i], strict=True)},
               "model_version": classifier.version,
               "signals": {"form_margin": round(float(margin[i]), 4), "form_entropy": round(float(entropy[i]), 4)}}
        human = table.form_labels[i]
        if human is not None:
            res["label_error"] = {"human_form_label": human,
                                  "flagged": bool(human != res["form_label"] and probs[i, top] >= min_form_prob)}
        out.append(res)
    return out


def evaluate(gt: dict[str, Any], preds: list[dict[str, Any]],
             pck_alphas: Sequence[float] = (0.05, 0.1)) -> dict[str, Any]:
    """One report for keypoint results and/or form results against a ground-truth COCO dict.

    Keypoints (results with ``keypoints``): OKS-AP family (COCOeval, the
    category's sigmas), mean OKS over ground-truth instances (a missed one
    counts 0) and over matched ones, share with OKS >= 0.5, PCK at each alpha
    of the box size, mean and per-keypoint pixel error (matched instances),
    ``points_to_fix``: labelled keypoints per ground-truth instance whose own
    OKS term is < 0.5 (a person would move them; a missed instance counts
    all its labelled points).
    Form (results with ``form_label`` and ``annotation_id``, no keypoints):
    accuracy, F1 (of the last class in sorted order when there are two,
    else macro), per-label F1 and the confusion matrix.
    """
    report: dict[str, Any] = {}
    kp_preds = [p for p in preds if p.get("keypoints")]
    form_preds = [p for p in preds if not p.get("keypoints") and "form_label" in p and "annotation_id" in p]
    if kp_preds:
        target, _ = _target(gt)
        table = coco.keypoint_table(gt, target)
        skeleton = table.skeleton  # keypoint_table has raised if gt has no keypoint category
        matched = metrics.match_predictions(gt, kp_preds, skeleton.sigma_array, skeleton)
        rows = [i for i, m in enumerate(matched) if m["result"] is not None]
        o = np.array([m["oks"] for m in matched])
        rep: dict[str, Any] = {"gt_instances": len(matched), "matched": len(rows),
               "oks_ap": metrics.oks_ap(gt, kp_preds, skeleton.sigma_array),
               "mean_oks": float(o.mean()) if len(o) else None,
               "mean_oks_matched": float(o[rows].mean()) if rows else None,
               "oks_ge_0.5": float((o >= 0.5).mean()) if len(o) else None}
        to_fix = (table.keypoints[:, :, 2] > 0).sum(axis=1).astype(np.float64)  # missed: every labelled point
        if rows:
            pred = np.stack([np.asarray(kp_preds[matched[i]["result"]]["keypoints"], float).reshape(-1, 3)
                             for i in rows])
            gt_kp, boxes = table.keypoints[rows], table.bboxes[rows]
            for a in pck_alphas:
                rep[f"pck@{a}"] = metrics.pck(pred, gt_kp, boxes, a)[0]
            err, per = metrics.pixel_error(pred, gt_kp)
            ks = metrics.oks_per_keypoint(pred, gt_kp, table.areas[rows], skeleton.sigma_array)
            rep["mean_pixel_error"] = err
            rep["per_keypoint_mean_error"] = {n: _num(v) for n, v in zip(skeleton.keypoints, per, strict=True)}
            to_fix[rows] = (ks < 0.5).sum(axis=1)  # NaN (unlabelled) compares False
            per_oks = unc.frame_mean(ks.T)
            rep["per_keypoint_oks"] = {n: _num(v) for n, v in zip(skeleton.keypoints, per_oks, strict=True)}
        rep["points_to_fix"] = float(to_fix.mean()) if len(to_fix) else None
        report["keypoints"] = rep
    if form_preds:
        human = {int(a["id"]): coco.form_label(a) for a in gt.get("annotations", [])}
        pairs = [(human.get(int(p["annotation_id"])), p["form_label"]) for p in form_preds]
        known = [(t, p) for t, p in pairs if t is not None]
        labels = sorted({t for t, _ in known} | {p for _, p in known})
        rep = metrics.classification_report([t for t, _ in known], [p for _, p in known], labels,
                                            positive=labels[-1] if len(labels) == 2 else None)
        rep["positive"] = labels[-1] if len(labels) == 2 else None
        report["form"] = rep
    if not report:
        raise ValueError("the predictions hold neither keypoint results nor form results")
    return report


ProgressPrinter = Callable[[float, str], None]
