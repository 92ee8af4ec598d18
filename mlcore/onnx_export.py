"""ONNX export, parity check and dynamic INT8 quantisation for mlcore's torch models."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .files import atomic_path

if TYPE_CHECKING:
    import torch


def export_onnx(model: torch.nn.Module, example_inputs: tuple[torch.Tensor, ...], path: str | os.PathLike[str],
                input_names: list[str], output_names: list[str], dynamic_batch: bool = True,
                opset: int = 17) -> Path:
    """Export ``model`` (eval mode) to ``path`` via a temporary file renamed into place.

    The TorchScript-based exporter is tried first (fast, and these networks
    use only plain ops); torch builds without it fall back to the dynamo one.
    dynamic_batch: the first axis of every input and output is named "batch".
    """
    import torch

    path = Path(path)
    model = model.eval()
    axes = {n: {0: "batch"} for n in (*input_names, *output_names)} if dynamic_batch else None
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, example_inputs, str(tmp), input_names=input_names, output_names=output_names,
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
        except Exception:
            dyn = {n: {0: torch.export.Dim("batch", min=1, max=4096)} for n in input_names} if dynamic_batch else None
            torch.onnx.export(model, example_inputs, str(tmp), input_names=input_names, output_names=output_names,
                              dynamic_shapes=dyn, opset_version=max(opset, 18), dynamo=True, external_data=False)
    return path


def max_parity_error(model: torch.nn.Module, onnx_path: str | os.PathLike[str],
                     inputs: dict[str, npt.NDArray[Any]]) -> float:
    """Largest absolute difference between torch and onnxruntime outputs on the same inputs."""
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ort_out = sess.run(None, inputs)
    with torch.no_grad():
        torch_out = model.eval()(*[torch.from_numpy(v) for v in inputs.values()])
    if isinstance(torch_out, torch.Tensor):
        torch_out = (torch_out,)
    return float(max(np.abs(a - b.numpy()).max() for a, b in zip(ort_out, torch_out, strict=True)))


def quantize_int8(onnx_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Dynamic INT8 quantisation (weights INT8, activations quantised at run time) with onnxruntime."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        quantize_dynamic(str(onnx_path), str(tmp), weight_type=QuantType.QInt8)
    return out_path


def time_onnx(onnx_path: str | os.PathLike[str], inputs: dict[str, npt.NDArray[Any]], repeats: int = 200,
              threads: int = 1) -> float:
    """Median seconds per run of an ONNX model on ``inputs`` (single thread by default, after warm-up)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    for _ in range(10):
        sess.run(None, inputs)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(None, inputs)
        times.append(time.perf_counter() - t)
    return float(np.median(times))
