"""A TFLite graph as a trainable ``torch.nn.Module``: NCHW float32, TFLite's arithmetic reproduced.

Supported operators (what BlazePose's landmark and detector files use):
CONV_2D, DEPTHWISE_CONV_2D, ADD, PAD, MAX_POOL_2D, RESHAPE, RESIZE_BILINEAR,
CONCATENATION, DEPTH_TO_SPACE, LOGISTIC, RELU, RELU6, and DEQUANTIZE / DENSIFY
(folded into float32 constants when their input is constant). Any other
operator raises ``UnsupportedOperator`` naming it.

Layout: TFLite tensors are NHWC; every 4-D tensor here is NCHW, converted at
the model input only (the module takes (N, C, H, W)) and returned NCHW.
RESHAPE of a 4-D tensor goes through NHWC so flattened outputs keep TFLite's
element order; CONCATENATION axes are mapped. SAME padding is TFLite's:
``out = ceil(in / stride)``, total = ``max((out - 1) * stride + (k - 1) * d + 1 - in, 0)``,
the smaller half before (top/left), the larger after. Convolution weights
(OHWI, depthwise 1HWC) become ``nn.Conv2d`` parameters (OIHW), so the module can be fine-tuned.

``load_module(path)`` caches the converted module as a state dict under
``$MLCORE_CACHE_DIR`` (default ``~/.cache/posereview``), keyed by the file's sha256.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .tflite_graph import Graph, Operator, read_tflite

SUPPORTED = ("ADD", "CONCATENATION", "CONV_2D", "DENSIFY", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
             "LOGISTIC", "MAX_POOL_2D", "PAD", "RELU", "RELU6", "RESHAPE", "RESIZE_BILINEAR")
_FOLDABLE = ("DEQUANTIZE", "DENSIFY")
_SAME = 0


class UnsupportedOperator(NotImplementedError):
    """The graph holds an operator this builder does not translate."""


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite SAME padding (before, after) along one axis of length ``size``."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _activation(x: Tensor, code: int) -> Tensor:
    """TFLite fused activation: 0 none, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6."""
    if code == 0:
        return x
    if code == 1:
        return F.relu(x)
    if code == 2:
        return torch.clamp(x, -1.0, 1.0)
    if code == 3:
        return torch.clamp(x, 0.0, 6.0)
    raise UnsupportedOperator(f"fused activation {code}")


def _nhwc_axis(axis: int, rank: int) -> int:
    """A TFLite axis of a rank-``rank`` tensor as the axis of our layout (NHWC -> NCHW for rank 4)."""
    axis = axis % rank
    return (0, 2, 3, 1)[axis] if rank == 4 else axis


class TFLiteModule(nn.Module):
    """The operators of ``graph`` in execution order. forward(x (N, C, H, W) float32) -> outputs (graph order).

    Outputs of rank 4 are NCHW. ``forward_tensors`` also returns chosen
    intermediate tensors (by TFLite tensor index), e.g. backbone features.
    """

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        unknown = sorted({op.kind for op in graph.operators if op.kind not in SUPPORTED})
        if unknown:
            raise UnsupportedOperator(f"TFLite operators not supported: {', '.join(unknown)}")
        self.sha256 = graph.sha256  # of the .tflite file: identifies the weights (crop store keys)
        self.graph_inputs = graph.inputs
        self.graph_outputs = graph.outputs
        self.shapes = {t.index: t.shape for t in graph.tensors}
        self.names = {t.index: t.name for t in graph.tensors}
        self.convs = nn.ModuleDict()
        self.steps: list[Operator] = []
        consts: dict[int, np.ndarray] = {t.index: t.data for t in graph.tensors if t.data is not None}
        constant = {t.index for t in graph.tensors if t.constant}
        for op in graph.operators:
            if op.kind in _FOLDABLE and op.inputs[0] in constant:
                constant.add(op.outputs[0])
                if op.inputs[0] in consts:
                    consts[op.outputs[0]] = np.asarray(consts[op.inputs[0]], dtype=np.float32)
                continue
            if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                self.convs[str(op.index)] = self._conv(op, graph, consts)
            elif any(i in constant and graph.tensors[i].dtype.kind == "f" for i in op.inputs):
                raise UnsupportedOperator(f"{op.kind} with a float constant operand (operator {op.index})")
            self.steps.append(op)
        self.small: dict[int, np.ndarray] = {i: v for i, v in consts.items() if graph.tensors[i].dtype.kind == "i"}

    def _conv(self, op: Operator, graph: Graph, consts: dict[int, np.ndarray]) -> nn.Conv2d:
        o = op.options
        w_shape = graph.tensors[op.inputs[1]].shape       # OHWI, depthwise (1, H, W, C * mult)
        in_shape = graph.tensors[op.inputs[0]].shape       # NHWC
        depthwise = op.kind == "DEPTHWISE_CONV_2D"
        c_in = in_shape[3]
        c_out = w_shape[3] if depthwise else w_shape[0]
        conv = nn.Conv2d(c_in, c_out, (w_shape[1], w_shape[2]), stride=(int(o["StrideH"]), int(o["StrideW"])),
                         dilation=(int(o["DilationHFactor"]), int(o["DilationWFactor"])),
                         groups=c_in if depthwise else 1, bias=len(op.inputs) > 2 and op.inputs[2] >= 0)
        w = consts.get(op.inputs[1])
        if w is not None:
            w = np.asarray(w, dtype=np.float32)
            w = w.transpose(3, 0, 1, 2) if depthwise else w.transpose(0, 3, 1, 2)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                if conv.bias is not None:
                    conv.bias.copy_(torch.from_numpy(np.asarray(consts[op.inputs[2]], dtype=np.float32)))
        return conv

    def _pads(self, op: Operator, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) for F.pad, TFLite SAME; zeros for VALID."""
        if op.options.get("Padding", 1) != _SAME:
            return 0, 0, 0, 0
        _, h, w, _ = self.shapes[op.inputs[0]]
        top, bottom = same_padding(h, kernel[0], int(op.options["StrideH"]), dilation[0])
        left, right = same_padding(w, kernel[1], int(op.options["StrideW"]), dilation[1])
        return left, right, top, bottom

    def _run(self, op: Operator, args: Sequence[Tensor]) -> Tensor:
        k, o = op.kind, op.options
        if k in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            conv = self.convs[str(op.index)]
            assert isinstance(conv, nn.Conv2d)
            kh, kw = conv.kernel_size
            dh, dw = conv.dilation
            pads = self._pads(op, (kh, kw), (dh, dw))
            x = F.pad(args[0], pads) if any(pads) else args[0]
            return _activation(conv(x), int(o["FusedActivationFunction"]))
        if k == "ADD":
            return _activation(args[0] + args[1], int(o["FusedActivationFunction"]))
        if k == "PAD":
            p = self.small[op.inputs[1]]                   # (rank, 2) before/after per NHWC axis
            order = (0, 3, 1, 2) if len(p) == 4 else tuple(range(len(p)))
            flat = [int(v) for axis in reversed(order) for v in p[axis]]
            return F.pad(args[0], flat)
        if k == "MAX_POOL_2D":
            kernel = (int(o["FilterHeight"]), int(o["FilterWidth"]))
            pads = self._pads(op, kernel, (1, 1))
            x = F.pad(args[0], pads, value=float("-inf")) if any(pads) else args[0]
            y = F.max_pool2d(x, kernel, (int(o["StrideH"]), int(o["StrideW"])))
            return _activation(y, int(o["FusedActivationFunction"]))
        if k == "RESIZE_BILINEAR":
            size = tuple(int(v) for v in self.small[op.inputs[1]])
            if o["AlignCorners"]:
                return F.interpolate(args[0], size=size, mode="bilinear", align_corners=True)
            if not o["HalfPixelCenters"]:
                raise UnsupportedOperator("RESIZE_BILINEAR without half_pixel_centers or align_corners")
            return F.interpolate(args[0], size=size, mode="bilinear", align_corners=False)
        if k == "RESHAPE":
            x = args[0]
            if x.dim() == 4:
                x = x.permute(0, 2, 3, 1)
            out_shape = self.shapes[op.outputs[0]]
            y = x.reshape((-1, *out_shape[1:]))
            return y.permute(0, 3, 1, 2) if y.dim() == 4 else y
        if k == "CONCATENATION":
            y = torch.cat(list(args), dim=_nhwc_axis(int(o["Axis"]), args[0].dim()))
            return _activation(y, int(o["FusedActivationFunction"]))
        if k == "DEPTH_TO_SPACE":
            x, bs = args[0], int(o["BlockSize"])
            n, c, h, w = x.shape
            # TFLite: out[h * bs + i, w * bs + j, c] = in[h, w, (i * bs + j) * C_out + c]
            y = x.reshape(n, bs, bs, c // (bs * bs), h, w).permute(0, 3, 4, 1, 5, 2)
            return y.reshape(n, c // (bs * bs), h * bs, w * bs)
        if k == "LOGISTIC":
            return torch.sigmoid(args[0])
        if k == "RELU":
            return F.relu(args[0])
        if k == "RELU6":
            return torch.clamp(args[0], 0.0, 6.0)
        if k in _FOLDABLE:
            return args[0].float()
        raise UnsupportedOperator(k)

    def forward_tensors(self, x: Tensor, extra: Sequence[int] = ()) -> tuple[list[Tensor], dict[int, Tensor]]:
        """Graph outputs, and the tensors with indices in ``extra`` (4-D ones NCHW). x (N, C, H, W)."""
        values: dict[int, Tensor] = {self.graph_inputs[0]: x}
        for op in self.steps:
            args = [values[i] for i in op.inputs if i >= 0 and i in values]
            values[op.outputs[0]] = self._run(op, args)
        return [values[i] for i in self.graph_outputs], {i: values[i] for i in extra}

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x (N, C, H, W) float32 -> the graph's outputs in order."""
        outputs, _ = self.forward_tensors(x)
        return tuple(outputs)


def cache_dir() -> Path:
    """``$MLCORE_CACHE_DIR``, else ``~/.cache/posereview``."""
    env = os.environ.get("MLCORE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "posereview"


def load_module(path: str | os.PathLike[str], use_cache: bool = True) -> TFLiteModule:
    """The .tflite at ``path`` as a ``TFLiteModule`` in eval mode (weights float32).

    The first load converts the weights and saves ``<cache>/tflite-<sha256>.pt``
    (temporary file, then rename); later loads read the graph's shapes only and
    that state dict.
    """
    graph = read_tflite(path, with_data=False)
    cached = cache_dir() / f"tflite-{graph.sha256}.pt"
    if use_cache and cached.is_file():
        module = TFLiteModule(graph)
        module.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
        return module.eval()
    module = TFLiteModule(read_tflite(path))
    if use_cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        torch.save(module.state_dict(), tmp)
        os.replace(tmp, cached)
    return module.eval()
