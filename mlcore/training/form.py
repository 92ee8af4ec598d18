"""Train form classifiers on keypoint annotations: the selected feature classifier (default), GCN, MLP.

The default (``arch="auto"`` where the skeleton names the COCO body points) is
``"select"``: a configuration (feature sets, head, L2 strength, clip pooling) is
chosen by an inner clip-grouped CV on the training file itself
(``training.form_select``), so an outer cross-validation of this function
measures the choice too. Gradient boosting is a reference in the benchmarks.

Labels come from ``annotation["attributes"]["form_label"]``; annotations
without one are left out. Inputs are ``form.pose_features`` of the human
keypoints. Training is full-batch (hundreds of poses), class-balanced, with
small pose jitter (noise, scale, a few degrees of rotation, dropped points)
so the network cannot memorise exact coordinates of the few clips it sees.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import coco, metrics, modeldir
from ..files import atomic_path
from ..form import pose_features
from ..skeletons import Skeleton
from .common import EarlyStopping, ProgressFn, no_progress, pick_device, seed_everything

if TYPE_CHECKING:
    import torch
    from sklearn.ensemble import GradientBoostingClassifier
    from torch import nn

    from ..form_selection import Candidate
    from ..nets.form_nets import FormGCN, FormMLP
    from ..nets.pose_geometry import FormGeometryMLP

# "select": feature sets + head chosen by inner clip-grouped CV (training/form_select.py); it needs
# the COCO body point names. "geometry": an MLP over segment directions and joint angles
# (nets/pose_geometry.py). "gcn" and "mlp" read the normalised coordinates of any skeleton.
# "auto" picks select where the skeleton allows it, else gcn.
ARCHITECTURES = ("select", "geometry", "gcn", "mlp")


def default_architecture(skeleton: Skeleton) -> str:
    """The procedure the skeleton supports: selection where it names the COCO body points, else the GCN."""
    from ..nets.pose_geometry import geometry_supported

    return "select" if geometry_supported(skeleton) else "gcn"


@dataclass
class FormTrainConfig:
    arch: str = "auto"
    epochs: int = 300            # "select": optimiser steps of each candidate's head
    lr: float = 3e-3
    weight_decay: float = 1e-3
    hidden: int = 32             # fixed architectures; "select" takes its head from the candidate grid
    dropout: float = 0.3
    noise: float = 0.03          # std of xy jitter, trunk lengths
    scale: float = 0.1           # +- relative scale jitter
    rotation: float = 5.0        # +- degrees
    drop_point: float = 0.05     # probability a point is hidden
    patience: int = 60
    seed: int = 0
    select_folds: int = 4        # inner clip-grouped folds of "select"


    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_net(arch: str, skeleton: Skeleton, num_classes: int, cfg: FormTrainConfig
              ) -> FormGeometryMLP | FormGCN | FormMLP:
    from ..nets.form_nets import FormGCN, FormMLP
    from ..nets.pose_geometry import FormGeometryMLP

    if arch == "auto":
        arch = default_architecture(skeleton)
    if arch == "select":
        raise ValueError("the selected classifier is built by training.form_select.train_selected")
    if arch == "geometry":
        return FormGeometryMLP(skeleton, num_classes, hidden=cfg.hidden, dropout=cfg.dropout)
    if arch == "gcn":
        return FormGCN(skeleton.num_keypoints, skeleton.links, num_classes, hidden=cfg.hidden, dropout=cfg.dropout)
    if arch == "mlp":
        return FormMLP(skeleton.num_keypoints, num_classes, hidden=cfg.hidden * 2, dropout=cfg.dropout)
    raise ValueError(f"unknown form architecture {arch!r}; choose auto or one of {ARCHITECTURES}")


def _jitter(x: torch.Tensor, cfg: FormTrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Pose augmentation on a (N, K, 3) feature tensor (third channel = labelled flag)."""
    import torch

    n = x.shape[0]
    t = (torch.rand(n, generator=gen) * 2 - 1) * np.radians(cfg.rotation)
    s = 1 + (torch.rand(n, generator=gen) * 2 - 1) * cfg.scale
    cos, sin = torch.cos(t) * s, torch.sin(t) * s
    xy = x[..., :2]
    rx = xy[..., 0] * cos[:, None] - xy[..., 1] * sin[:, None]
    ry = xy[..., 0] * sin[:, None] + xy[..., 1] * cos[:, None]
    xy = torch.stack([rx, ry], -1) + torch.randn(xy.shape, generator=gen) * cfg.noise
    flag = x[..., 2:3] * (torch.rand(x.shape[:2], generator=gen) >= cfg.drop_point).float()[..., None]
    return torch.cat([xy * flag, flag], -1)


def fit_form_net(features: np.ndarray, y: np.ndarray, num_classes: int, skeleton: Skeleton, cfg: FormTrainConfig,
                 val: tuple[np.ndarray, np.ndarray] | None = None, device: str = "cpu",
                 progress: ProgressFn = no_progress) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train one network. features (N, K, 3) float32, y (N,) class indices. Returns (model on cpu, history).

    With ``val`` the best epoch by validation loss is kept and training stops
    after ``patience`` epochs without improvement.
    """
    import torch
    import torch.nn.functional as F

    from ..nets.pose_geometry import FormGeometryMLP

    seed_everything(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = build_net(cfg.arch, skeleton, num_classes, cfg)
    x = torch.from_numpy(features).float()
    if isinstance(net, FormGeometryMLP):  # the one net with an input scaler
        net.fit_input_scaler(x)
    net = net.to(device)
    t = torch.from_numpy(y).long().to(device)
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    weight = torch.tensor(len(y) / (num_classes * np.maximum(counts, 1)), dtype=torch.float32, device=device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    stopper = EarlyStopping(cfg.patience)
    if val is not None:
        vx = torch.from_numpy(val[0]).float().to(device)
        vt = torch.from_numpy(val[1]).long().to(device)
    history: list[dict[str, float]] = []
    best: dict[str, torch.Tensor] | None = None
    for epoch in range(cfg.epochs):
        net.train()
        loss = F.cross_entropy(net(_jitter(x, cfg, gen).to(device)), t, weight=weight)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        opt.step()
        sched.step()
        row: dict[str, float] = {"epoch": epoch, "loss": float(loss.detach())}
        if val is not None:
            net.eval()
            with torch.no_grad():
                logits = net(vx)
                row["val_loss"] = float(F.cross_entropy(logits, vt))
                row["val_accuracy"] = float((logits.argmax(1) == vt).float().mean())
            if stopper.step(-row["val_loss"], epoch):
                best = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        history.append(row)
        if epoch % 20 == 0 or epoch == cfg.epochs - 1:
            progress((epoch + 1) / cfg.epochs, f"epoch {epoch + 1}/{cfg.epochs} loss {row['loss']:.3f}"
                     + (f" val loss {row['val_loss']:.3f}" if "val_loss" in row else ""))
        if val is not None and stopper.should_stop:
            break
    if best is not None:
        net.load_state_dict(best)
    return net.cpu().eval(), history


def predict_net(net: nn.Module, features: npt.NDArray[Any], extra: npt.NDArray[Any] | None = None
                ) -> npt.NDArray[np.float32]:
    """Class probabilities (N, C) from a trained torch form net; features (N, K, 3), extra (N, D) if it reads one."""
    import torch

    inputs = [torch.from_numpy(features).float()] + ([torch.from_numpy(extra).float()] if extra is not None else [])
    with torch.no_grad():
        probs: npt.NDArray[np.float32] = torch.softmax(net(*inputs), -1).numpy()
    return probs


def fit_gradient_boosting(features: npt.NDArray[Any], y: npt.NDArray[Any], seed: int = 0) -> GradientBoostingClassifier:
    """scikit-learn GradientBoostingClassifier on the flattened normalised poses (a reference, not exported)."""
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(random_state=seed).fit(features.reshape(len(features), -1), y)


@dataclass
class FormData:
    features: np.ndarray       # (N, K, 3) float32
    labels: list[str]          # N
    clip_ids: list[str]
    annotation_ids: np.ndarray
    image_ids: np.ndarray
    keypoints: np.ndarray      # (N, K, 3) pixels


def form_data(data: dict[str, Any], skeleton: Skeleton | None = None) -> FormData:
    """Labelled poses of a COCO dict (annotations without form_label are skipped)."""
    table = coco.keypoint_table(data, skeleton)
    keep = [i for i, lab in enumerate(table.form_labels) if lab is not None]
    labels = [lab for lab in table.form_labels if lab is not None]
    kp = table.keypoints[keep]
    empty = np.zeros((0, table.skeleton.num_keypoints, 3), np.float32)
    return FormData(features=pose_features(kp, table.skeleton) if keep else empty,
                    labels=labels, clip_ids=[table.clip_ids[i] for i in keep],
                    annotation_ids=table.annotation_ids[keep], image_ids=table.image_ids[keep], keypoints=kp)


def train_form(train: dict[str, Any], out_dir: str | os.PathLike[str], val: dict[str, Any] | None = None,
               skeleton: Skeleton | None = None, config: FormTrainConfig | None = None, device: str | None = None,
               progress: ProgressFn = no_progress, quantize: bool = True,
               extra_features: Mapping[str, np.ndarray] | None = None,
               val_extra_features: Mapping[str, np.ndarray] | None = None,
               candidates: Sequence[Candidate] | None = None) -> dict[str, Any]:
    """Train a form classifier and write its model directory; returns the report in model.json.

    Writes model.pt, model.onnx (probabilities; parity with torch checked),
    model.int8.onnx (dynamic INT8) and a report with validation accuracy/F1/
    confusion matrix for both, file sizes and single-pose latency. With "select"
    the report holds ``selection`` (the chosen configuration, every candidate's inner
    score). extra_features: name -> (N, D) per-frame vectors aligned with the rows of
    ``form_data(train, skeleton)`` (and ``val_extra_features`` with val's); a chosen
    configuration that reads them gets a second ONNX input ``extra``.
    """
    import torch

    from ..nets.form_nets import WithSoftmax
    from ..onnx_export import export_onnx, max_parity_error, quantize_int8

    cfg = config or FormTrainConfig()
    skeleton = skeleton or coco.category_skeleton(train)
    if cfg.arch == "auto":  # record what was trained, not "auto"
        cfg = replace(cfg, arch=default_architecture(skeleton))
    device = pick_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tr = form_data(train, skeleton)
    va = form_data(val, skeleton) if val is not None else None
    classes = sorted(set(tr.labels) | set(va.labels if va else []))
    if len(classes) < 2:
        raise ValueError(f"need at least two form labels in attributes.form_label, found {classes}")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in tr.labels])
    val_xy = (va.features, np.array([index[c] for c in va.labels])) if va is not None and len(va.labels) else None
    progress(0.0, f"training {cfg.arch} on {len(y)} poses")
    selected, tr_extra, va_extra, extra_meta = None, None, None, []
    net: nn.Module
    history: list[dict[str, float]]
    if cfg.arch == "select":
        from .form_select import train_selected

        selected = train_selected(tr.features, y, tr.clip_ids, len(classes), skeleton, tr.keypoints, extra_features,
                                  candidates, cfg.select_folds, cfg.epochs, cfg.seed, lambda f, m: progress(0.8 * f, m))
        net, history = selected.net, []
        tr_extra = selected.extra_matrix(extra_features, len(y))
        if val_xy is not None:
            va_extra = selected.extra_matrix(val_extra_features, len(val_xy[1]))
        extra_meta = [{"name": n, "dim": d} for n, d in selected.extra_inputs]
    else:
        net, history = fit_form_net(tr.features, y, len(classes), skeleton, cfg, val_xy, device,
                                    lambda f, m: progress(0.8 * f, m))
    chosen = selected.selection.chosen.to_dict() if selected is not None else None
    with atomic_path(out / "model.pt") as tmp:
        torch.save({"model": net.state_dict(), "config": cfg.to_dict(), "classes": classes, "candidate": chosen,
                    "skeleton": skeleton.to_dict()}, str(tmp))
    progress(0.85, "exporting ONNX")
    wrapped = WithSoftmax(net).eval()
    example: tuple[torch.Tensor, ...] = (torch.zeros(1, skeleton.num_keypoints, 3),)
    names = ["keypoints"]
    if tr_extra is not None:
        example, names = (*example, torch.zeros(1, tr_extra.shape[1])), ["keypoints", "extra"]
    export_onnx(wrapped, example, out / "model.onnx", names, ["probs"], dynamic_batch=True)
    probe = {"keypoints": tr.features[:8]}
    if tr_extra is not None:
        probe["extra"] = tr_extra[:8]
    report = {"architecture": cfg.arch, "classes": classes, "train_poses": len(y),
              "onnx_max_abs_diff": max_parity_error(wrapped, out / "model.onnx", probe)}
    if selected is not None:
        report["selection"] = selected.selection.to_dict()
    eval_x, eval_y, eval_on = (val_xy[0], val_xy[1], "val") if val_xy is not None else (tr.features, y, "train")
    eval_extra = va_extra if val_xy is not None else tr_extra
    report["evaluated_on"] = eval_on
    p = predict_net(net, eval_x, eval_extra)
    report["metrics"] = metrics.classification_report([classes[i] for i in eval_y], [classes[i] for i in p.argmax(1)],
                                                      classes, positive=classes[-1] if len(classes) == 2 else None)
    if quantize:
        progress(0.9, "quantising to INT8")
        report["int8"] = int8_report(out / "model.onnx", quantize_int8(out / "model.onnx", out / "model.int8.onnx"),
                                     eval_x, eval_y, classes, eval_extra)
    version = f"form-{cfg.arch}-{skeleton.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    modeldir.write_meta(out, {"kind": "form", "version": version, "architecture": cfg.arch, "classes": classes,
                              "skeleton": skeleton.to_dict(), "features": "pose_features/v1",
                              "pooling": chosen["pooling"] if chosen else "none", "extra_inputs": extra_meta,
                              "candidate": chosen, "config": cfg.to_dict(), "metrics": report})
    coco.save_coco(history, out / "history.json")
    progress(1.0, "done")
    return report


def int8_report(fp32: Path, int8: Path, x: np.ndarray, y: np.ndarray, classes: list[str],
                extra: npt.NDArray[Any] | None = None) -> dict[str, Any]:
    """Size, single-pose latency (1 thread) and accuracy of the FP32 and INT8 ONNX models on (x, y).

    x (N, K, 3); extra (N, D) for models with an ``extra`` input.
    """
    import onnxruntime as ort

    from ..onnx_export import time_onnx

    feed = {"keypoints": x} | ({"extra": extra} if extra is not None else {})
    one = {k: v[:1] if len(v) else np.zeros((1,) + v.shape[1:], np.float32) for k, v in feed.items()}
    out: dict[str, Any] = {}
    for name, path in (("fp32", fp32), ("int8", int8)):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        probs = sess.run(["probs"], feed)[0] if len(x) else np.zeros((0, len(classes)))
        out[name] = {"bytes": path.stat().st_size,
                     "latency_ms": 1000 * time_onnx(path, one, repeats=200),
                     "accuracy": float((probs.argmax(1) == y).mean()) if len(y) else float("nan"),
                     "probs": probs}
    agree = float((out["fp32"]["probs"].argmax(1) == out["int8"]["probs"].argmax(1)).mean()) if len(x) else float("nan")
    max_diff = float(np.abs(out["fp32"]["probs"] - out["int8"]["probs"]).max()) if len(x) else float("nan")
    for v in out.values():
        v.pop("probs")
    out["prediction_agreement"] = agree
    out["max_prob_diff"] = max_diff
    return out
