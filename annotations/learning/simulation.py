"""Measuring the loop itself: active learning simulated on a fully labelled project.

The labelled frames are the oracle. Their labels are hidden from the learner (in memory: the
project is not changed), a small seed set is revealed, and each round trains the keypoint model
and the form classifier on what is revealed, measures both on fixed held-out clips (no frame of
a held-out clip is ever revealed or trained on), then reveals K more frames: the top K of the
uncertain queue's order (the score job's pool_order over the models' signals on the hidden
frames, predicted on the whole frame as unlabelled frames are), or K at random.

Training runs a fixed number of epochs per round (as the lab trains), with a floor of optimiser
steps so that a round with a handful of frames is not starved of updates.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from annotations.core.errors import InputError
from annotations.learning.data import learnable_skeleton, linked_images, subset_coco, without_private
from annotations.learning.score import pool_order
from annotations.learning.training import (
    evaluate_form_dir,
    evaluate_keypoint_dir,
    form_config,
    keypoint_config,
    train_form_model,
    train_keypoint_model,
)
from annotations.models import SimulationRun
from mlcore import coco, metrics, pipeline
from mlcore.form import FormClassifier
from mlcore.predictors import load_predictor

STRATEGIES = ("uncertainty", "random")
SIGNALS = ("confidence", "flip", "spread", "temporal", "form")


def labelled_data(project) -> dict:
    """Every annotated frame of the project with its verified points (the oracle), plus `_paths`."""
    data = subset_coco(project, None, "all")
    if len(data["images"]) < 10:
        raise InputError(f"project {project.slug} has only {len(data['images'])} labelled frames; "
                         "the simulation needs a fully labelled project")
    return data


def heldout_split(data: dict, fold: int = 0, folds: int = 5) -> tuple[list[int], list[int], list[str]]:
    """(pool image ids, held-out image ids, held-out clips): one clip-grouped, label-stratified fold held out.

    The fold depends only on the data, never on the run's seed, so every strategy and seed is
    measured on the same clips.
    """
    table = coco.keypoint_table(data)
    ids = table.image_ids
    groups = metrics.group_kfold(table.clip_ids, folds, seed=0, labels=table.form_labels)
    train_idx, test_idx = groups[fold]
    held = sorted({int(i) for i in ids[test_idx]})
    pool = sorted({int(i) for i in ids[train_idx]} - set(held))
    clips = sorted({table.clip_ids[i] for i in test_idx})
    return pool, held, clips


def seed_set(data: dict, pool: list[int], size: int, rng: np.random.Generator) -> list[int]:
    """`size` random pool frames, split evenly over the form labels (a form classifier needs both)."""
    label_of = {a["image_id"]: (a.get("attributes") or {}).get("form_label") for a in data["annotations"]}
    by_label: dict = {}
    for i in pool:
        by_label.setdefault(label_of.get(i), []).append(i)
    labels = sorted(by_label, key=str)
    out = []
    for j, lab in enumerate(labels):
        want = size // len(labels) + (1 if j < size % len(labels) else 0)
        out += [int(x) for x in rng.choice(by_label[lab], min(want, len(by_label[lab])), replace=False)]
    return sorted(out)


def epochs_for_steps(frames: int, steps: int, batch_size: int) -> int:
    return max(1, math.ceil(steps / max(1, math.ceil(frames / batch_size))))


def hidden_priorities(data: dict, hidden: list[int], images: Path, kp_dir: Path, form_dir: Path | None) -> dict:
    """The uncertain queue's order over the hidden frames: {"order": [image ids], "priority": {id: p}}."""
    frames = coco.subset(data, hidden)
    frames["annotations"] = []  # hidden: the learner sees pixels only, predicted on the whole frame
    classifier = FormClassifier(form_dir) if form_dir is not None else None
    results = pipeline.predict_coco(frames, images, load_predictor(kp_dir), boxes="frame", flip_test=True,
                                    form_classifier=classifier)
    by_image = {r["image_id"]: r for r in results}
    ids = [i for i in hidden if i in by_image]
    signals = {}
    for name in SIGNALS:
        values = np.array([np.nan if by_image[i]["signals"].get(name) is None else by_image[i]["signals"][name]
                           for i in ids], dtype=np.float64)
        if not np.isnan(values).all():
            signals[name] = values
    clips = [coco.clip_id(next(im for im in frames["images"] if im["id"] == i)) for i in ids]
    priority, order = pool_order(signals, clips)
    missing = [i for i in hidden if i not in by_image]  # frames the model could not read go last
    return {"order": [ids[j] for j in order] + missing, "priority": {ids[j]: float(priority[j]) for j in order}}


def simulate(project, strategy: str, rounds: int, batch: int, seed: int = 0, *, seed_frames: int = 10,
             keypoint_epochs: int = 40, keypoint_steps: int = 200, keypoint_overrides: dict | None = None,
             form_overrides: dict | None = None, heldout_fold: int = 0, store: bool = True,
             emit: Callable[[dict], None] = lambda row: None) -> SimulationRun:
    """Run the simulation; `emit` gets each round's row as soon as it is measured. Returns the stored run."""
    if strategy not in STRATEGIES:
        raise InputError(f"strategy must be one of {STRATEGIES}")
    if rounds < 1 or batch < 1 or seed_frames < 2:
        raise InputError("rounds and batch must be at least 1, the seed set at least 2 frames")
    data = labelled_data(project)
    pool, held, held_clips = heldout_split(data, heldout_fold)
    rng = np.random.default_rng(seed)
    labelled = seed_set(data, pool, seed_frames, rng)
    pick_rng = np.random.default_rng([seed, 1])
    kp_base = {"epochs": 1, **(keypoint_overrides or {})}
    fm_cfg = form_config({**(form_overrides or {})})
    params = {"strategy": strategy, "seed": seed, "rounds": rounds, "batch": batch, "seed_frames": seed_frames,
              "keypoint_epochs": keypoint_epochs, "keypoint_steps": keypoint_steps,
              "keypoint_config": keypoint_overrides or {}, "form_config": form_overrides or {},
              "heldout_fold": heldout_fold}
    run = SimulationRun(project=project, strategy=strategy, seed=seed, batch=batch, seed_frames=len(labelled),
                        params=params, heldout_clips=held_clips)
    if store:
        run.save()
    heldout_gt = without_private(coco.subset(without_private(data), held))
    skeleton = learnable_skeleton(project.get_skeleton(), data)
    with linked_images(data) as images:
        for r in range(rounds):
            t0 = time.time()
            train = coco.subset(without_private(data), labelled)
            cfg = keypoint_config(kp_base)
            cfg.epochs = max(keypoint_epochs, epochs_for_steps(len(labelled), keypoint_steps, cfg.batch_size))
            cfg.seed = seed
            fm_cfg.seed = seed
            with tempfile.TemporaryDirectory() as tmp:
                kp_dir, form_dir = Path(tmp) / "kp", Path(tmp) / "form"
                train_keypoint_model(train, None, images, kp_dir, skeleton, cfg, int8=False)
                train_form_model(train, None, form_dir, skeleton, fm_cfg, quantize=False)
                kp = evaluate_keypoint_dir(kp_dir, heldout_gt, images)
                form = evaluate_form_dir(form_dir, heldout_gt)
                row = {"round": r, "strategy": strategy, "seed": seed, "labelled_frames": len(labelled),
                       "labelled_clips": sorted({coco.clip_id(im) for im in train["images"]}),
                       "keypoints": {"mean_oks": _r(kp.get("mean_oks")),
                                     "oks_ap": _r((kp.get("oks_ap") or {}).get("AP")),
                                     "pck@0.1": _r(kp.get("pck@0.1")),
                                     "mean_pixel_error": _r(kp.get("mean_pixel_error"))},
                       "form": {"f1_macro": _r(form.get("f1_macro")), "accuracy": _r(form.get("accuracy")),
                                "f1": _r(form.get("f1"))},
                       "heldout_frames": len(held), "keypoint_epochs": cfg.epochs}
                hidden = [i for i in pool if i not in set(labelled)]
                if r < rounds - 1 and hidden:
                    k = min(batch, len(hidden))
                    if strategy == "random":
                        chosen = sorted(int(x) for x in pick_rng.choice(hidden, k, replace=False))
                    else:
                        chosen = hidden_priorities(data, hidden, images, kp_dir, form_dir)["order"][:k]
                    labelled = sorted(set(labelled) | set(chosen))
                row["seconds"] = round(time.time() - t0, 1)
            run.rounds = [*run.rounds, row]
            if store:
                run.save(update_fields=["rounds"])
            emit(row)
            if not hidden:
                break
    run.finished = True
    if store:
        run.save(update_fields=["finished"])
    return run


def _r(v, digits: int = 4):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return round(v, digits) if np.isfinite(v) else None


def frames_to_reach(rounds: list[dict], part: str, metric: str, share: float = 0.95) -> int | None:
    """Labelled frames at the first round whose metric reaches `share` of the last round's value."""
    values = [(r["labelled_frames"], (r.get(part) or {}).get(metric)) for r in rounds]
    known = [(n, v) for n, v in values if v is not None]
    if not known:
        return None
    final = known[-1][1]
    return next(n for n, v in known if v >= share * final)
