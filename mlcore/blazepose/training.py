"""Train keypoint heads for any skeleton on BlazePose's frozen backbone, from a cache of backbone features.

``crops.build_cache`` crops every frame several times (``HeadTrainConfig``: the box ROI, the detector's ROI,
augmented ROIs) and runs the frozen backbone once per crop, keeping the (48, 64, 64) features as
float16 with the targets in heatmap cells. ``train_heads`` fits ``KeypointHeads`` on that cache
(cross-entropy against Gaussian heatmaps, AdamW, cosine schedule) with early stopping on held-out
clips' mean OKS; the starting point (BlazePose's own heatmaps for named points) is kept if no epoch
beats it. ``train_blazepose_keypoints`` is ``train_keypoints``' counterpart (same arguments, same
report shape) and writes a model directory: model.pt (heads), model.onnx (backbone + heads, input
1 x 3 x 256 x 256, parity-checked against onnxruntime), model.json, history.json.

A retrain of ~200 frames costs the backbone on ~6 crops per frame (~0.2 s each on one CPU core)
and a few seconds per heads epoch; only the heads change, so each frame's crops are kept in a
``CropStore`` and a later retrain runs the backbone only on new or re-boxed frames.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch

from .. import coco, metrics, modeldir
from ..files import atomic_path
from ..skeletons import Skeleton
from ..spine_contour import DEFAULT_DEPTH
from ..training.common import EarlyStopping, ProgressFn, no_progress, pick_device, seed_everything
from .crop_store import CropStore, default_store
from .crops import BOX, CropCache, build_cache, mirrored_features, view_features
from .head_config import HeadTrainConfig
from .heads import (
    STRIDE,
    KeypointHeads,
    PoseNetWithHeads,
    decode_rows,
    gaussian_targets,
    heatmap_loss,
    landmark_index,
)
from .models import INPUT_SIZE
from .tail import STAGE_STARTS, BackboneTail, FrontierNet, TailHeads, with_stage
from .test_views import RULES, VIEWS, rule_keypoints

if TYPE_CHECKING:
    from ..training.keypoint_common import KeypointSamples, KeypointTrainConfig

ARCHITECTURE = "BlazePose-GHUM-full+heatmap-heads"


def new_heads(skeleton: Skeleton, net: Any, hidden: int, mirrored: bool = False) -> KeypointHeads:
    """Heads for ``skeleton``, named points initialised from BlazePose's heatmap head (left/right points from
    their twins' channels when ``mirrored``: ``side_convention``)."""
    source = landmark_index(skeleton, mirrored)
    heads = KeypointHeads(skeleton.num_keypoints, hidden, source)
    heads.init_from_blazepose(net, source)
    return heads


def new_stage_heads(skeleton: Skeleton, net: Any, hidden: int, scale: float, frozen: bool = False, stages: int = 1,
                    first: int | None = None, mirrored: bool = False) -> TailHeads:
    """``new_heads`` under the backbone's last ``stages`` stages (``tail.TailHeads``), which train at ``scale`` of
    their learning rate, or not at all when ``frozen``. It reads a cache of the frontier at operator ``first``
    (default: the first operator of those stages; an earlier one runs the stages between with BlazePose's
    weights, so one cache serves several depths)."""
    start = STAGE_STARTS[stages]
    tail = BackboneTail(net, first=start if first is None else first, scale=scale, trainable_from=start)
    return TailHeads(tail, new_heads(skeleton, net, hidden, mirrored), frozen=frozen)


def side_convention(cache: CropCache, rows: npt.NDArray[np.int64], samples: KeypointSamples,
                    skeleton: Skeleton) -> dict[str, Any]:
    """Whether the labels name left and right as BlazePose does (the person's own sides) or as a mirror does
    (some labelling habits, and videos from a front camera): BlazePose's own landmarks on the box crops
    ``rows`` of training frames against their labels, mean OKS with sides as named and with every left/right
    pair swapped. The heads start from the better one (``new_heads(mirrored=...)``)."""
    index = landmark_index(skeleton)
    known = index >= 0
    idx = cache.sample[rows]
    points = np.zeros((len(rows), skeleton.num_keypoints, 3))
    points[:, known, :2] = cache.landmarks[rows][:, index[known], :2]
    points[:, known, 2] = 1.0
    labels = samples.keypoints[idx].copy()
    labels[:, ~known, 2] = 0                      # points BlazePose has no landmark for say nothing here
    direct = metrics.oks(points, labels, samples.areas[idx], skeleton.sigma_array)
    swapped = metrics.oks(points[:, skeleton.flip_index], labels, samples.areas[idx], skeleton.sigma_array)
    as_named, mirrored = float(np.nanmean(direct)), float(np.nanmean(swapped))
    finite = np.isfinite(as_named) and np.isfinite(mirrored)
    return {"mirrored": bool(finite and mirrored > as_named), "frames": len(rows),
            "blazepose_as_named_mean_oks": round(as_named, 4) if finite else None,
            "blazepose_mirrored_mean_oks": round(mirrored, 4) if finite else None}


def predict_rows(heads: KeypointHeads, cache: CropCache, rows: npt.NDArray[np.int64], window: int = 5,
                 batch: int = 64) -> npt.NDArray[np.float64]:
    """Keypoints (len(rows), K, 3) [x, y, score] in image pixels (of the mirrored image for flipped rows)."""
    out: list[npt.NDArray[np.float64]] = []
    heads.eval()
    device = next(heads.parameters()).device
    with torch.no_grad():
        for s in range(0, len(rows), batch):
            r = rows[s:s + batch]
            hm = heads(torch.from_numpy(cache.features[r].astype(np.float32)).to(device)).cpu().numpy()
            out.extend(decode_rows(hm, cache.matrices[r], window))
    return np.stack(out) if out else np.zeros((0, heads.num_keypoints, 3))


def mean_oks_rows(heads: KeypointHeads, cache: CropCache, rows: npt.NDArray[np.int64], samples: KeypointSamples,
                  skeleton: Skeleton, window: int) -> float:
    """Mean OKS of the heads on cached crops ``rows`` (unflipped) against their frames' labels."""
    pred = predict_rows(heads, cache, rows, window)
    idx = cache.sample[rows]
    o = metrics.oks(pred, samples.keypoints[idx], samples.areas[idx], skeleton.sigma_array)
    return float(np.nanmean(o)) if len(o) else float("nan")


def train_heads(cache: CropCache, samples: KeypointSamples, train_idx: npt.ArrayLike, val_idx: npt.ArrayLike | None,
                skeleton: Skeleton, net: Any, cfg: HeadTrainConfig, progress: ProgressFn = no_progress,
                model: Any = None, device: str = "cpu") -> tuple[KeypointHeads, list[dict[str, Any]], EarlyStopping]:
    """Fit heads on the cached crops of frames ``train_idx``; early stopping on the box crops of ``val_idx``.

    Epoch -1 in the history is the starting point (BlazePose's heatmaps); it is kept when no epoch beats it.
    ``model``: what to train instead of new heads, a module taking the cache's features (e.g.
    ``tail.TailHeads`` on a cache of the backbone's last stage's inputs). ``device``: where the steps run
    (batches move there from the cache); the trained module comes back on the CPU.
    """
    from ..training.keypoint_common import lr_factor

    rng = seed_everything(cfg.seed)
    heads = (new_heads(skeleton, net, cfg.hidden) if model is None else model).to(device)
    rows = cache.training_rows(train_idx)
    val_rows = cache.rows(val_idx, (BOX,)) if val_idx is not None and len(np.asarray(val_idx)) else None
    opt = torch.optim.AdamW(heads.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(rows) / cfg.batch_size)))
    total = cfg.epochs * steps_per_epoch
    stopper = EarlyStopping(cfg.patience)
    history: list[dict[str, Any]] = []
    # The weights scored and kept: an exponential moving average of the trained ones when cfg.ema_epochs > 0.
    # Averaging the last epochs' weights smooths the noise of small batches on a few hundred frames, and
    # with it the held-out curve that early stopping reads.
    scored = weight_average(heads, cfg.ema_epochs * steps_per_epoch)
    best = {k: v.detach().clone() for k, v in scored.state_dict().items()}
    t0 = time.time()
    if val_rows is not None:
        start = mean_oks_rows(heads, cache, val_rows, samples, skeleton, cfg.window)
        stopper.step(start, -1)
        history.append({"epoch": -1, "val_mean_oks": start, "seconds": 0.0})
    step = 0
    for epoch in range(cfg.epochs):
        heads.train()
        order = rows[rng.permutation(len(rows))]
        losses = []
        for s in range(0, len(order), cfg.batch_size):
            r = np.sort(order[s:s + cfg.batch_size])
            x = torch.from_numpy(cache.features[r].astype(np.float32)).to(device)
            target, weight = gaussian_targets(cache.points[r], cfg.sigma)
            loss = heatmap_loss(heads(x), torch.from_numpy(target).to(device), torch.from_numpy(weight).to(device))
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, total)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            if scored is not heads:
                scored.update_parameters(heads)
            step += 1
            losses.append(float(loss.detach()))
        row: dict[str, Any] = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                               "seconds": round(time.time() - t0, 1)}
        improved = True
        if val_rows is not None:
            row["val_mean_oks"] = mean_oks_rows(averaged_module(scored), cache, val_rows, samples, skeleton,
                                                cfg.window)
            improved = stopper.step(row["val_mean_oks"], epoch)
        history.append(row)
        if improved:
            best = {k: v.detach().clone() for k, v in averaged_module(scored).state_dict().items()}
        msg = f"heads epoch {epoch + 1}/{cfg.epochs} loss {row['loss']:.4f}"
        if "val_mean_oks" in row:
            msg += f" val OKS {row['val_mean_oks']:.3f}"
        progress((epoch + 1) / cfg.epochs, msg)
        if val_rows is not None and stopper.should_stop:
            break
    heads.load_state_dict(best)
    return heads.cpu().eval(), history, stopper


def weight_average(model: torch.nn.Module, horizon_steps: float) -> Any:
    """An exponential moving average of ``model``'s weights and buffers over about ``horizon_steps``
    optimiser steps (decay 1 - 1 / horizon, torch's ``AveragedModel``), or ``model`` itself when the horizon
    is under one step. Its first update copies the model."""
    if horizon_steps < 1:
        return model
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    ema = get_ema_multi_avg_fn(1.0 - 1.0 / horizon_steps)  # type: ignore[no-untyped-call]
    return AveragedModel(model, multi_avg_fn=ema, use_buffers=True)


def averaged_module(scored: Any) -> Any:
    """The module whose weights ``weight_average``'s result holds (the model itself without averaging)."""
    return getattr(scored, "module", scored)


def member_splits(samples: KeypointSamples, data: dict[str, Any], hcfg: HeadTrainConfig,
                  first: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
                  separate: bool) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """(train, held-out) frame indices for each of ``hcfg.members`` trainings: ``first`` for member 0, and
    for member m the m-th clip-grouped inner fold held out when ``separate`` (no val file) and there are
    enough clips, else ``first`` again (the members then differ by seed alone)."""
    out = [first]
    for m in range(1, max(1, hcfg.members)):
        if separate and m < hcfg.inner_val_folds:
            out.append(inner_split(samples, data, hcfg.inner_val_folds, hcfg.seed, index=m))
        else:
            out.append(first)
    return out


def train_members(cache: CropCache, samples: KeypointSamples,
                  splits: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]], skeleton: Skeleton, net: Any,
                  hcfg: HeadTrainConfig, mirrored: bool, progress: ProgressFn = no_progress,
                  device: str = "cpu") -> list[tuple[Any, list[dict[str, Any]], EarlyStopping]]:
    """``train_heads`` (on ``device``) once per (train, held-out) split of ``member_splits``, each from new heads
    (under the last stages when ``hcfg.stage_scale`` > 0), left/right heads started as ``mirrored`` says."""
    out = []
    for m, (m_tr, m_te) in enumerate(splits):
        # Members held out on other clips differ by their data; members sharing member 0's split, by seed.
        m_cfg = dataclasses.replace(hcfg, seed=hcfg.seed + m) if m and m_te is splits[0][1] else hcfg
        seed_everything(m_cfg.seed)  # the heads' random layers are drawn here when the stage is trained with them
        model: Any = None  # heads alone, as named: train_heads draws them
        if hcfg.stage_scale > 0:
            model = new_stage_heads(skeleton, net, hcfg.hidden, hcfg.stage_scale, stages=hcfg.stages,
                                    mirrored=mirrored)
        elif mirrored:
            model = new_heads(skeleton, net, hcfg.hidden, mirrored)

        def member_progress(f: float, msg: str, m: int = m) -> None:
            progress((m + f) / len(splits), msg)

        out.append(train_heads(cache, samples, m_tr, m_te, skeleton, net, m_cfg, model=model,
                               progress=member_progress, device=device))
    return out


def trained_parts(trained: Any) -> tuple[KeypointHeads, dict[str, torch.Tensor] | None]:
    """(heads, the trained last stage's weights or None) of what ``train_heads`` returned."""
    if isinstance(trained, TailHeads):
        assert isinstance(trained.heads, KeypointHeads)
        return trained.heads, trained.tail.tuned_weights()
    assert isinstance(trained, KeypointHeads)
    return trained, None


def inner_split(samples: KeypointSamples, data: dict[str, Any], folds: int, seed: int,
                index: int = 0) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Clip-grouped split of the frames into (train, held-out): fold ``index`` of ``folds`` clip-grouped folds
    held out (the app holds out fold 0)."""
    clip_of = {img["id"]: coco.clip_id(img) for img in data["images"]}
    clips = [clip_of[int(i)] for i in samples.image_ids]
    if len(set(clips)) < max(2, folds):
        return np.arange(len(clips)), np.zeros(0, dtype=np.int64)
    tr, te = metrics.group_kfold(clips, folds, seed=seed)[index]
    return np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)


def train_blazepose_keypoints(train: dict[str, Any], images_dir: str | os.PathLike[str],
                              out_dir: str | os.PathLike[str], val: dict[str, Any] | None = None,
                              skeleton: Skeleton | None = None, config: KeypointTrainConfig | None = None,
                              device: str | None = None, progress: ProgressFn = no_progress,
                              resume: bool = False, init_from: str | os.PathLike[str] | None = None,
                              crop_store: CropStore | None = None) -> dict[str, Any]:
    """``train_keypoints`` with BlazePose's backbone: heads for ``skeleton`` on cached features.

    Same arguments and report shape as ``train_keypoints``; ``config.head`` (``HeadTrainConfig``) holds
    the settings. Without ``val``, one of ``inner_val_folds`` clip-grouped folds of ``train`` is held out
    for early stopping (the report's "val" is then those clips). ``resume`` and ``init_from`` are not
    supported (a retrain takes minutes); ``device`` is used for the backbone pass over the crops (default the
    CPU) and for the training steps (default CUDA when there is one: ``stages`` = WHOLE_BACKBONE trains the
    whole backbone, which is meant for a GPU). ``crop_store``: where
    each frame's crops are kept between runs (default ``crop_store.default_store()``).
    Raises ``BlazePoseUnavailable`` when the model files are not found.
    """
    from ..training.keypoint_common import KeypointTrainConfig, keypoint_report, load_samples
    from .predictor import BlazePosePredictor
    from .spine_depth import fit_spine_depth

    if init_from is not None:
        raise ValueError("init_from is not supported with backbone blazepose (the backbone is pretrained)")
    cfg = config or KeypointTrainConfig(backbone="blazepose")
    hcfg = cfg.head
    skeleton = skeleton or coco.category_skeleton(train)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress(0.0, "loading frames")
    train_s = load_samples(train, images_dir, skeleton)
    if len(train_s.images) == 0:
        raise ValueError("no training annotation has a frame under the images folder")
    if val is not None:
        val_s = load_samples(val, images_dir, skeleton)
        samples = _concat(train_s, val_s)
        tr = np.arange(len(train_s.images))
        te = np.arange(len(train_s.images), len(samples.images))
    else:
        samples = train_s
        tr, te = inner_split(train_s, train, hcfg.inner_val_folds, hcfg.seed)
    splits = member_splits(train_s, train, hcfg, (tr, te), separate=val is None)
    predictor = BlazePosePredictor(box_roi=hcfg.box_roi, box_rotation=hcfg.box_rotation, track=hcfg.track,
                                   device=device or "cpu")
    t0 = time.time()
    store = crop_store if crop_store is not None else default_store()
    net, staged = predictor.net, hcfg.stage_scale > 0
    if staged:  # the crops keep the last stages' inputs, which they then train on (tail.py)
        predictor.net = FrontierNet(net, STAGE_STARTS[hcfg.stages])  # type: ignore[assignment]
    try:
        augment = np.unique(np.concatenate([t for t, _ in splits]))  # every member's training frames
        cache = build_cache(samples, skeleton, predictor, hcfg, augment=augment, store=store,
                            progress=lambda f, m: progress(0.05 + 0.55 * f, m))
    finally:
        predictor.net = net
    cache_seconds = time.time() - t0
    t1 = time.time()
    sides = side_convention(cache, cache.rows(tr, (BOX,)), samples, skeleton)
    mirrored = sides["mirrored"] if hcfg.mirrored_sides is None else bool(hcfg.mirrored_sides)
    members = train_members(cache, samples, splits, skeleton, net, hcfg, mirrored,
                            progress=lambda f, m: progress(0.6 + 0.3 * f, m), device=pick_device(device))
    trained, history, stopper = members[0]
    heads, stage = trained_parts(trained)
    head_seconds = time.time() - t1
    progress(0.92, "exporting ONNX")
    report: dict[str, Any] = {"train_frames": len(tr), "missing_frames": train_s.missing,
                              "epochs_run": sum(1 for h in history if h["epoch"] >= 0), "init_from": None,
                              "backbone": "blazepose", "cached_crops": len(cache.sample),
                              "cache_seconds": round(cache_seconds, 1), "head_seconds": round(head_seconds, 1),
                              "crop_sets_from_store": store.hits, "crop_sets_computed": store.misses,
                              "side_convention": {**sides, "heads_start_mirrored": mirrored},
                              # which points the heads could learn: the predictor places the rest as guesses
                              "labelled_frames": {n: int(c) for n, c in
                                                  zip(skeleton.keypoints, (samples.keypoints[tr, :, 2] > 0).sum(0),
                                                      strict=True)}}
    if len(members) > 1:
        report["members"] = [{"train_frames": len(m_tr), "val_frames": len(m_te), "best_epoch": st.best_epoch + 1,
                              "val_mean_oks": round(float(st.best), 4) if len(m_te) else None}
                             for (m_tr, m_te), (_, _, st) in zip(splits, members, strict=True)]
    report["onnx_max_abs_diff"] = save_heads_model(out, heads, with_stage(net, stage), skeleton, cfg, stage,
                                                   others=[trained_parts(t) for t, _, _ in members[1:]], base_net=net)
    report["spine_depth"] = fit_spine_depth(train, images_dir, predictor)
    sub_tr = _subset(samples, tr)
    report["train"] = keypoint_report(predict_rows(trained, cache, cache.rows(tr, (BOX,)), hcfg.window), sub_tr,
                                      skeleton)
    candidates = test_view_candidates(hcfg)
    # without held-out clips nothing is chosen: plain where it is allowed
    report["test_views"] = "plain" if "plain" in candidates else candidates[0]
    report["flip_average"] = "mirror" in RULES[report["test_views"]]
    if len(te):
        val_rows = cache.rows(te, (BOX,))
        plain = predict_rows(trained, cache, val_rows, hcfg.window)
        report["val"] = keypoint_report(plain, _subset(samples, te), skeleton)
        report["val_clips"] = "val file" if val is not None else "inner clip-grouped fold of the training file"
        if len(members) > 1:  # the other members trained on these clips (or share them as a val file)
            report["val_model"] = "member 0 alone"
        report["best_epoch"] = stopper.best_epoch + 1
        chosen = plain  # the held-out predictions as the model will make them
        rule = candidates[0]
        if len(candidates) > 1 or (rule != "plain" and hcfg.temporal_smoothing):
            progress(0.95, "test-time views on the held-out clips")
            choice, chosen = members_views_choice(members, splits, net, cache, samples, skeleton, hcfg, candidates)
            if len(candidates) > 1:
                report["test_views_choice"] = choice
                if "flip_test" in choice:
                    report["flip_test"] = choice["flip_test"]
                rule = choice["test_views"]
        report["test_views"] = rule
        report["flip_average"] = "mirror" in RULES[rule]
        if hcfg.temporal_smoothing:
            report["temporal_smoothing"] = smoothing_choice(chosen, cache.sample[val_rows], samples, skeleton,
                                                            [train, *([val] if val is not None else [])])
    with open(out / "history.json", "w", encoding="utf-8") as fh:
        import json

        json.dump(history, fh)
    write_meta(out, skeleton, cfg, report)
    progress(1.0, "done")
    return report


def mirrored_pass(model: Any, net: Any, cache: CropCache, rows: npt.NDArray[np.int64], samples: KeypointSamples,
                  skeleton: Skeleton, hcfg: HeadTrainConfig) -> npt.NDArray[np.float64]:
    """Keypoints (len(rows), K, 3) of ``model`` (heads, or stage + heads) on the crops ``rows`` of ``cache``
    mirrored left-right, back in the frame; ``net``: BlazePose's backbone."""
    from .flip_test import flip_rows

    runner = FrontierNet(net, STAGE_STARTS[hcfg.stages]) if hcfg.stage_scale > 0 else net
    feats = mirrored_features(runner, cache, rows, samples.images)
    return flip_rows(model, feats, cache.matrices[rows], skeleton.flip_index, hcfg.window)


def flip_choice(model: Any, net: Any, cache: CropCache, rows: npt.NDArray[np.int64],
                plain: npt.NDArray[np.float64], samples: KeypointSamples, skeleton: Skeleton,
                hcfg: HeadTrainConfig) -> tuple[dict[str, Any], npt.NDArray[np.float64]]:
    """``flip_test.choose_flip_average`` for ``model`` (heads, or stage + heads) on the held-out box crops
    ``rows`` of ``cache``, whose plain pass (len(rows), K, 3) is ``plain``; ``net``: BlazePose's backbone.
    Returns the choice and the mirrored pass's keypoints (len(rows), K, 3)."""
    from .flip_test import choose_flip_average

    mirrored = mirrored_pass(model, net, cache, rows, samples, skeleton, hcfg)
    idx = cache.sample[rows]
    return choose_flip_average(plain, mirrored, samples.keypoints[idx], samples.areas[idx], skeleton), mirrored


def test_view_candidates(hcfg: HeadTrainConfig) -> tuple[str, ...]:
    """The test-time rules (``test_views.RULES``) a training may answer with, in their listed order: the
    one ``test_views`` names, the ones it lists (chosen among on held-out clips), or with None every rule,
    unless ``flip_average`` True / False forces "flip_points" / "plain"."""
    wanted = hcfg.test_views
    if wanted is None:
        if hcfg.flip_average is None:
            return tuple(RULES)
        return ("flip_points",) if hcfg.flip_average else ("plain",)
    named = [wanted] if isinstance(wanted, str) else list(wanted)
    unknown = [r for r in named if r not in RULES]
    if unknown or not named:
        raise ValueError(f"test_views must name rules among {', '.join(RULES)} (one, a list, or None), "
                         f"not {wanted!r}")
    return tuple(r for r in RULES if r in named)


def view_logits(model: Any, net: Any, cache: CropCache, rows: npt.NDArray[np.int64], samples: KeypointSamples,
                hcfg: HeadTrainConfig, views: tuple[str, ...], batch: int = 64) -> dict[str, torch.Tensor]:
    """Heatmap logits (len(rows), K, 64, 64) of ``model`` (heads, or stage + heads) on each named view
    (``test_views.VIEWS``) of the crops ``rows``; ``net``: BlazePose's backbone."""
    runner = FrontierNet(net, STAGE_STARTS[hcfg.stages]) if hcfg.stage_scale > 0 else net
    device = next(model.parameters()).device
    model.eval()
    out = {}
    for name in views:
        feats = (cache.features[rows] if name == "plain"
                 else view_features(runner, cache, rows, samples.images, VIEWS[name]))
        with torch.no_grad():
            out[name] = torch.cat([model(torch.from_numpy(feats[s:s + batch].astype(np.float32)).to(device)).cpu()
                                   for s in range(0, len(feats), batch)])
    return out


def members_views_choice(members: list[tuple[Any, list[dict[str, Any]], EarlyStopping]],
                         splits: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]], net: Any,
                         cache: CropCache, samples: KeypointSamples, skeleton: Skeleton, hcfg: HeadTrainConfig,
                         rules: tuple[str, ...]) -> tuple[dict[str, Any], npt.NDArray[np.float64]]:
    """The test-time rule (``test_views.RULES``) that scores the highest mean OKS on every member's own
    held-out clips, pooled: each member read on the views of the box crops of the frames it was
    early-stopped on. With 3-4 clips per inner fold one member's clips decide by chance; members held out
    on other folds see most of the training clips. Members that share member 0's clips (a val file) add
    nothing and are left out. Ties go to the rule listed first (the fewer views).

    Returns the choice (``test_views``, each rule's ``mean_oks``, ``frames``, ``members``, and ``flip_test``:
    the plain pass against the point-wise flip test, where both were scored) and member 0's held-out
    keypoints by the chosen rule (len(member 0's box rows), K, 3).
    """
    views = tuple(dict.fromkeys(v for r in rules for v in RULES[r]))
    preds: dict[str, list[npt.NDArray[np.float64]]] = {r: [] for r in rules}
    idx = []
    for m, ((model, _, _), (_, held_out)) in enumerate(zip(members, splits, strict=True)):
        if len(held_out) == 0 or (m and held_out is splits[0][1]):
            continue
        rows = cache.rows(held_out, (BOX,))
        logits = view_logits(model, net, cache, rows, samples, hcfg, views)
        for r in rules:
            preds[r].append(rule_keypoints(r, logits, cache.matrices[rows], skeleton.flip_index, hcfg.window))
        idx.append(cache.sample[rows])
    at = np.concatenate(idx)

    def score(rule: str) -> float:
        o = metrics.oks(np.concatenate(preds[rule]), samples.keypoints[at], samples.areas[at], skeleton.sigma_array)
        return float(np.nanmean(o))

    mean_oks = {r: score(r) for r in rules}
    best = max(rules, key=lambda r: (mean_oks[r], -rules.index(r)))
    choice: dict[str, Any] = {"test_views": best, "frames": len(at), "members": len(idx),
                              "mean_oks": {r: round(v, 4) if np.isfinite(v) else None for r, v in mean_oks.items()}}
    if {"plain", "flip_points"} <= set(rules):
        choice["flip_test"] = {"flip_average": bool(mean_oks["flip_points"] > mean_oks["plain"]),
                               "plain_mean_oks": choice["mean_oks"]["plain"],
                               "averaged_mean_oks": choice["mean_oks"]["flip_points"], "frames": len(at),
                               "members": len(idx)}
    return choice, preds[best][0]


def smoothing_choice(pred: npt.NDArray[np.float64], idx: npt.NDArray[np.int64], samples: KeypointSamples,
                     skeleton: Skeleton, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """``temporal_smoothing.choose_radii`` for predictions (N, K, 3) of held-out frames ``idx`` of ``samples``;
    ``sources``: the COCO dicts the frames come from (clip and frame number of each image)."""
    from ..temporal_smoothing import choose_radii

    image = {int(img["id"]): img for data in sources for img in data.get("images", [])}
    imgs = [image[int(samples.image_ids[i])] for i in idx]
    choice = choose_radii(pred, samples.keypoints[idx], samples.areas[idx], skeleton.sigma_array,
                          [coco.clip_id(img) for img in imgs], [coco.frame_index(img) for img in imgs])
    return {**choice, "radius": dict(zip(skeleton.keypoints, choice["radius"], strict=True))}


def _subset(s: KeypointSamples, idx: npt.NDArray[np.int64]) -> KeypointSamples:
    from ..training.keypoint_common import KeypointSamples

    return KeypointSamples(images=[s.images[i] for i in idx], keypoints=s.keypoints[idx], bboxes=s.bboxes[idx],
                           areas=s.areas[idx], image_ids=s.image_ids[idx], missing=0)


def _concat(a: KeypointSamples, b: KeypointSamples) -> KeypointSamples:
    from ..training.keypoint_common import KeypointSamples

    return KeypointSamples(images=a.images + b.images, keypoints=np.concatenate([a.keypoints, b.keypoints]),
                           bboxes=np.concatenate([a.bboxes, b.bboxes]), areas=np.concatenate([a.areas, b.areas]),
                           image_ids=np.concatenate([a.image_ids, b.image_ids]), missing=a.missing + b.missing)


def save_heads_model(out: Path, heads: KeypointHeads, net: Any, skeleton: Skeleton, cfg: KeypointTrainConfig,
                     stage: dict[str, torch.Tensor] | None = None,
                     others: list[tuple[KeypointHeads, dict[str, torch.Tensor] | None]] | None = None,
                     base_net: Any = None) -> float:
    """model.pt (heads' weights, the trained last stage's if any, settings; ``others``: the further members'
    heads and stages) and model.onnx (``net``, the backbone as trained, + heads; with ``others``,
    ``base_net``, BlazePose's backbone, + the ensemble of every member); returns the ONNX parity error."""
    from ..onnx_export import export_onnx, max_parity_error
    from .ensemble import HeadsEnsemble, PoseNetWithEnsemble, member_module

    with atomic_path(out / "model.pt") as tmp:
        torch.save({"heads": heads.state_dict(), "net": heads.config(), "skeleton": skeleton.to_dict(),
                    "config": cfg.to_dict(), "backbone": "blazepose", "stage": stage,
                    "members": [{"heads": h.state_dict(), "net": h.config(), "stage": st} for h, st in others or []]},
                   str(tmp))
    full: torch.nn.Module
    if others:
        stages = cfg.head.stages if stage else None
        ensemble = HeadsEnsemble([member_module(base_net.cpu().eval(), h.cpu().eval(), st, cfg.head.stages)
                                  for h, st in [(heads, stage), *others]])
        full = PoseNetWithEnsemble(net.cpu().eval(), ensemble, stages).eval()
    else:
        full = PoseNetWithHeads(net.cpu().eval(), heads.cpu().eval()).eval()
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    export_onnx(full, (example,), out / "model.onnx", ["input"], ["heatmaps", "presence", "landmarks"],
                dynamic_batch=False)
    probe = np.random.default_rng(0).random((1, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
    return max_parity_error(full, out / "model.onnx", {"input": probe})


def write_meta(out: Path, skeleton: Skeleton, cfg: KeypointTrainConfig, report: dict[str, Any]) -> None:
    """model.json of a heads model (kind keypoints, backbone blazepose)."""
    version = f"blazepose-heads-{skeleton.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    modeldir.write_meta(out, {"kind": "keypoints", "version": version, "architecture": ARCHITECTURE,
                              "backbone": "blazepose", "skeleton": skeleton.to_dict(),
                              "input_size": [INPUT_SIZE, INPUT_SIZE], "heatmap_stride": STRIDE,
                              "window": cfg.head.window, "min_presence": cfg.head.min_presence,
                              "frame_fallback": cfg.head.frame_fallback,
                              "box_roi": cfg.head.box_roi, "box_rotation": cfg.head.box_rotation,
                              "track": cfg.head.track,
                              "flip_average": bool(report.get("flip_average", cfg.head.flip_average)),
                              # how each crop is read (test_views.RULES), chosen on held-out clips or forced
                              "test_views": report.get("test_views", "plain"),
                              # each point's smoothing radius along a clip, chosen on held-out clips (none: off)
                              "smoothing_radius": report.get("temporal_smoothing", {}).get("radius", {}),
                              "spine_depth": report.get("spine_depth", {}).get("depth", DEFAULT_DEPTH),
                              "config": cfg.to_dict(), "metrics": report})
