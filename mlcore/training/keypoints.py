"""Train the built-in keypoint model (``KeypointNet``, SimCC head) on COCO keypoint annotations.

``train_keypoints`` reads the frames once into memory (hundreds of frames,
not millions), crops each person with ``augment.crop_sample`` every epoch,
encodes SimCC targets, and optimises RTMPose's KL loss with AdamW and a
cosine schedule. Each epoch it writes ``checkpoints/last.pt`` (resumable);
with a validation set it keeps the best epoch by mean OKS and stops early
when that stalls. At the end it exports ``model.onnx`` (RTMPose contract,
checked against torch) and writes ``model.json`` with the metrics report.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import coco, metrics, modeldir
from ..files import atomic_path
from ..predictors import simcc
from ..predictors.onnx_topdown import MEAN, STD
from ..skeletons import Skeleton
from ..transforms import apply_affine, invert_affine
from .augment import crop_sample
from .common import EarlyStopping, ProgressFn, no_progress, pick_device, seed_everything
from .keypoint_common import KeypointSamples, KeypointTrainConfig, keypoint_report, load_samples, lr_factor

if TYPE_CHECKING:
    import torch

    from ..nets.keypoint_net import KeypointNet

# The shared pieces live in keypoint_common (BlazePose's trainer imports them from there); callers keep
# importing them from here.
__all__ = ["KeypointSamples", "KeypointTrainConfig", "keypoint_report", "load_samples", "lr_factor",
           "resolve_backbone", "train_keypoints"]


def _batch(samples: KeypointSamples, idx: npt.NDArray[np.int64], cfg: KeypointTrainConfig, skeleton: Skeleton,
           rng: np.random.Generator,
           sigma: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    import torch

    crops, kps = [], []
    for i in idx:
        crop, kp = crop_sample(samples.images[i], samples.keypoints[i], samples.bboxes[i], cfg.input_size,
                               skeleton.flip_index, rng, cfg.augment)
        crops.append((crop - MEAN) / STD)
        kps.append(kp)
    x = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy())
    tx, ty, w = simcc.encode(np.stack(kps), cfg.input_size, cfg.split_ratio, sigma)
    return x, torch.from_numpy(tx), torch.from_numpy(ty), torch.from_numpy(w)


def kl_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, beta: float) -> torch.Tensor:
    """RTMPose's KLDiscretLoss: KL(softmax(beta * target) || softmax(beta * pred)), weighted per keypoint.

    pred, target (N, K, B); weight (N, K). Returns a scalar.
    """
    import torch.nn.functional as F

    log_p = F.log_softmax(pred * beta, dim=-1)
    t = F.softmax(target * beta, dim=-1)
    kl = (t * (t.clamp_min(1e-12).log() - log_p)).sum(-1)
    return (kl * weight).sum() / weight.sum().clamp_min(1.0)


def predict_samples(model: torch.nn.Module, samples: KeypointSamples, cfg: KeypointTrainConfig, device: str,
                    boxes: npt.NDArray[np.float64] | None = None,
                    batch_size: int = 64) -> npt.NDArray[np.float64]:
    """Keypoints (N, K, 3) [x, y, score] in image pixels, one crop per box (default: the annotation boxes)."""
    import torch

    from ..predictors.onnx_topdown import preprocess

    boxes = samples.bboxes if boxes is None else boxes
    out: list[npt.NDArray[np.float64]] = []
    model.eval()
    with torch.no_grad():
        for s in range(0, len(samples.images), batch_size):
            xs, mats = [], []
            for i in range(s, min(s + batch_size, len(samples.images))):
                x, m = preprocess(samples.images[i], boxes[i], cfg.input_size, cfg.augment.padding)
                xs.append(x)
                mats.append(m)
            sx, sy = model(torch.from_numpy(np.stack(xs)).to(device))
            dec = simcc.decode(sx.cpu().numpy(), sy.cpu().numpy(), cfg.split_ratio)
            for d, m in zip(dec, mats, strict=True):
                d[:, :2] = apply_affine(d[:, :2], invert_affine(m))
                out.append(d)
    return np.stack(out) if out else np.zeros((0, 0, 3))


def train_keypoints(train: dict[str, Any], images_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                    val: dict[str, Any] | None = None, skeleton: Skeleton | None = None,
                    config: KeypointTrainConfig | None = None, device: str | None = None,
                    progress: ProgressFn = no_progress, resume: bool = False,
                    init_from: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Train, checkpoint, export; returns the report written into model.json.

    train, val: COCO dicts (val optional: without it every epoch is kept and
    the last one exported). skeleton: the keypoints to learn (default: the
    training category's); annotations are remapped into it by name, and points
    they lack get zero weight. out_dir: the model directory to write.
    init_from: a keypoint model directory whose weights are the starting point
    (same skeleton, input size and width), e.g. one trained on pseudo-labels
    (``mlcore.pseudo_labels``); without it training starts from random weights.
    """
    import torch

    cfg = config or KeypointTrainConfig()
    if resolve_backbone(cfg.backbone) == "blazepose":
        from ..blazepose.training import train_blazepose_keypoints

        return train_blazepose_keypoints(train, images_dir, out_dir, val=val, skeleton=skeleton, config=cfg,
                                         device=device, progress=progress, resume=resume, init_from=init_from)
    skeleton = skeleton or coco.category_skeleton(train)
    device = pick_device(device)
    rng = seed_everything(cfg.seed)
    out = Path(out_dir)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)

    progress(0.0, "loading frames")
    train_s = load_samples(train, images_dir, skeleton)
    val_s = load_samples(val, images_dir, skeleton) if val is not None else None
    if len(train_s.images) == 0:
        raise ValueError("no training annotation has a frame under the images folder")
    sigma = cfg.sigma or (4.9 * cfg.input_size[0] / 192, 5.66 * cfg.input_size[1] / 256)

    from ..nets.keypoint_net import KeypointNet

    model = KeypointNet(skeleton.num_keypoints, cfg.input_size, cfg.split_ratio, cfg.width, cfg.hidden, cfg.dropout)
    if init_from is not None:
        load_initial_weights(model, init_from, skeleton)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(train_s.images) / cfg.batch_size)))
    total_steps = cfg.epochs * steps_per_epoch
    step = 0
    stopper = EarlyStopping(cfg.patience)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    last = out / "checkpoints" / "last.pt"
    if resume and last.is_file():
        state = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, start_epoch = state["history"], state["epoch"] + 1
        step = start_epoch * steps_per_epoch
        stopper.best, stopper.best_epoch, stopper.bad = state["stopper"]
        rng = np.random.default_rng([cfg.seed, start_epoch])
    best_state: dict[str, torch.Tensor] | None = None
    t0 = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        order = rng.permutation(len(train_s.images))
        losses: list[float] = []
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            if len(idx) < 2:
                continue  # BatchNorm cannot train on a batch of one
            x, tx, ty, w = (t.to(device) for t in _batch(train_s, idx, cfg, skeleton, rng, sigma))
            px, py = model(x)
            loss = kl_loss(px, tx, w, cfg.beta) + kl_loss(py, ty, w, cfg.beta)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(step, total_steps)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            opt.step()
            step += 1
            losses.append(float(loss.detach()))
        row: dict[str, Any] = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
               "lr": float(opt.param_groups[0]["lr"]), "seconds": round(time.time() - t0, 1)}
        improved = True
        if val_s is not None and len(val_s.images):
            pred = predict_samples(model, val_s, cfg, device)
            val_oks = metrics.oks(pred, val_s.keypoints, val_s.areas, skeleton.sigma_array)
            row["val_mean_oks"] = float(np.nanmean(val_oks))
            improved = stopper.step(row["val_mean_oks"], epoch)
        history.append(row)
        if improved:
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        with atomic_path(last) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "history": history, "epoch": epoch,
                        "stopper": (stopper.best, stopper.best_epoch, stopper.bad),
                        "config": cfg.to_dict()}, str(tmp))
        msg = f"epoch {epoch + 1}/{cfg.epochs} loss {row['loss']:.4f}"
        if "val_mean_oks" in row:
            msg += f" val OKS {row['val_mean_oks']:.3f}"
        progress(0.95 * (epoch + 1) / cfg.epochs, msg)
        if val_s is not None and stopper.should_stop:
            progress(0.95, f"early stop at epoch {epoch + 1}: "
                           f"best val OKS {stopper.best:.3f} at epoch {stopper.best_epoch + 1}")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model = model.cpu().eval()
    progress(0.96, "exporting ONNX")
    report = save_keypoint_model(model, out, skeleton, cfg, history, train_s, val_s, stopper,
                                 init_from=str(init_from) if init_from is not None else None)
    progress(1.0, "done")
    return report


def resolve_backbone(backbone: str) -> str:
    """"scratch" or "blazepose" for a config's backbone; "auto" is blazepose when its model files are found."""
    if backbone not in ("scratch", "blazepose", "auto"):
        raise ValueError(f"backbone must be scratch, blazepose or auto, not {backbone!r}")
    if backbone != "auto":
        return backbone
    from ..blazepose.files import BlazePoseUnavailable, blazepose_files

    try:
        blazepose_files()
    except BlazePoseUnavailable:
        return "scratch"
    return "blazepose"


def load_initial_weights(model: KeypointNet, model_dir: str | os.PathLike[str], skeleton: Skeleton) -> None:
    """Copy a saved model's weights into ``model``; ValueError when the two do not fit together."""
    import torch

    path = Path(model_dir) / "model.pt"
    if not path.is_file():
        raise ValueError(f"init_from: {model_dir} holds no model.pt (not a built-in keypoint model directory)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    saved_names = Skeleton.from_dict(state["skeleton"]).keypoints
    if list(saved_names) != list(skeleton.keypoints):
        raise ValueError(f"init_from: {model_dir} predicts {len(saved_names)} keypoints "
                         f"({', '.join(saved_names[:3])}, ...), "
                         f"this training {skeleton.num_keypoints} ({', '.join(skeleton.keypoints[:3])}, ...)")
    mine = {k: v for k, v in model.config().items() if k != "dropout"}
    theirs = {k: state["net"][k] for k in mine}
    if json.loads(json.dumps(mine)) != json.loads(json.dumps(theirs)):
        raise ValueError(f"init_from: {model_dir} has network settings {theirs}, this training {mine}")
    model.load_state_dict(state["model"])


def save_keypoint_model(model: KeypointNet, out: Path, skeleton: Skeleton, cfg: KeypointTrainConfig,
                        history: list[dict[str, Any]], train_s: KeypointSamples, val_s: KeypointSamples | None,
                        stopper: EarlyStopping, init_from: str | None = None) -> dict[str, Any]:
    """Write model.pt, model.onnx (parity-checked), history.json and model.json; returns the report."""
    import torch

    from ..onnx_export import export_onnx, max_parity_error

    w, h = cfg.input_size
    with atomic_path(out / "model.pt") as tmp:
        torch.save({"model": model.state_dict(), "net": model.config(), "skeleton": skeleton.to_dict(),
                    "config": cfg.to_dict()}, str(tmp))
    example = torch.zeros(1, 3, h, w)
    export_onnx(model, (example,), out / "model.onnx", ["input"], ["simcc_x", "simcc_y"], dynamic_batch=True)
    probe = np.random.default_rng(0).normal(size=(2, 3, h, w)).astype(np.float32)
    parity = max_parity_error(model, out / "model.onnx", {"input": probe})
    report: dict[str, Any] = {"train_frames": len(train_s.images), "missing_frames": train_s.missing,
              "epochs_run": len(history), "onnx_max_abs_diff": parity, "init_from": init_from}
    report["train"] = keypoint_report(predict_samples(model, train_s, cfg, "cpu"), train_s, skeleton)
    if val_s is not None and len(val_s.images):
        report["val"] = keypoint_report(predict_samples(model, val_s, cfg, "cpu"), val_s, skeleton)
        report["best_epoch"] = stopper.best_epoch + 1
    with open(out / "history.json", "w", encoding="utf-8") as fh:
        json.dump(history, fh)
    version = f"builtin-simcc-{skeleton.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    modeldir.write_meta(out, {"kind": "keypoints", "version": version, "architecture": "KeypointNet-SimCC",
                              "skeleton": skeleton.to_dict(), "input_size": [w, h], "split_ratio": cfg.split_ratio,
                              "padding": cfg.augment.padding, "mean": MEAN.tolist(), "std": STD.tolist(),
                              "config": cfg.to_dict(), "metrics": report})
    return report
