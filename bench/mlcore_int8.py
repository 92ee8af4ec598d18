"""Dynamic INT8 quantisation of the form classifiers: file size, latency, held-out accuracy.

Run: .venv/bin/python bench/mlcore_int8.py
Clip-grouped 5-fold on barbell-row: each fold trains the geometry MLP, a GCN and an MLP
(``train_form``, fixed epochs, no validation), exports FP32 ONNX, quantises
with onnxruntime.quantization.quantize_dynamic (INT8 weights), and compares
both on the held-out clips. Latency: median of 200 single-pose runs on one
onnxruntime thread, and one batch of all held-out poses.
"""

from __future__ import annotations

import numpy as np
from mlcore_common import FOLD_SEED, FOLDS, emit, load_barbell, out_dir

from mlcore import coco, metrics
from mlcore.onnx_export import time_onnx
from mlcore.skeletons import COCO17
from mlcore.training.form import FormTrainConfig, form_data, int8_report, train_form


def main() -> None:
    data, _ = load_barbell()
    fd = form_data(data, COCO17)
    folds = metrics.group_kfold(fd.clip_ids, FOLDS, seed=FOLD_SEED, labels=fd.labels)
    for arch in ("geometry", "gcn", "mlp"):
        rows = []
        for f, (tr, te) in enumerate(folds):
            model_dir = out_dir() / f"form_{arch}_fold{f}"
            report = train_form(coco.subset(data, fd.image_ids[tr]), model_dir,
                                config=FormTrainConfig(arch=arch, seed=f))
            classes = report["classes"]
            y = np.array([classes.index(lab) for lab in np.array(fd.labels)[te]])
            rep = int8_report(model_dir / "model.onnx", model_dir / "model.int8.onnx", fd.features[te], y, classes)
            batch = {"keypoints": fd.features[te]}
            rep["fp32"]["batch_ms"] = 1000 * time_onnx(model_dir / "model.onnx", batch, repeats=50)
            rep["int8"]["batch_ms"] = 1000 * time_onnx(model_dir / "model.int8.onnx", batch, repeats=50)
            rep["parity"] = report["onnx_max_abs_diff"]
            rows.append(rep)
        mean = lambda *path, rows=rows: float(np.mean([_get(r, path) for r in rows]))  # noqa: E731
        emit(f"int8.{arch}.fp32_bytes", int(mean("fp32", "bytes")), "bytes")
        emit(f"int8.{arch}.int8_bytes", int(mean("int8", "bytes")), "bytes",
             ratio=round(mean("int8", "bytes") / mean("fp32", "bytes"), 3))
        emit(f"int8.{arch}.fp32_latency", round(mean("fp32", "latency_ms"), 4), "ms", batch=1, threads=1)
        emit(f"int8.{arch}.int8_latency", round(mean("int8", "latency_ms"), 4), "ms", batch=1, threads=1)
        batch = int(np.mean([len(te) for _, te in folds]))
        emit(f"int8.{arch}.fp32_batch_latency", round(mean("fp32", "batch_ms"), 4), "ms", batch=batch)
        emit(f"int8.{arch}.int8_batch_latency", round(mean("int8", "batch_ms"), 4), "ms")
        emit(f"int8.{arch}.fp32_heldout_accuracy", round(mean("fp32", "accuracy"), 4), "share", folds=FOLDS)
        emit(f"int8.{arch}.int8_heldout_accuracy", round(mean("int8", "accuracy"), 4), "share", folds=FOLDS)
        emit(f"int8.{arch}.prediction_agreement", round(mean("prediction_agreement"), 4), "share")
        emit(f"int8.{arch}.max_prob_diff", round(float(np.max([r["max_prob_diff"] for r in rows])), 4), "prob")
        emit(f"int8.{arch}.onnx_parity_max_abs_diff", float(np.max([r["parity"] for r in rows])), "prob")


def _get(d, path):
    for p in path:
        d = d[p]
    return d


if __name__ == "__main__":
    main()
