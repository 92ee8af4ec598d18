"""Reading a .tflite flatbuffer into plain, typed records: tensors (with constant data) and operators.

Parser choice: the ``tflite`` package (PyPI, Apache-2.0) is the TensorFlow Lite
schema compiled by ``flatc`` for Python, nothing else; it depends only on
``flatbuffers`` and numpy, needs no TensorFlow, and reads every table of the
schema by name (``Model.Subgraphs(i).Operators(j)``, ``Conv2DOptions.Padding()``).
A hand-written reader over ``flatbuffers`` would repeat those field offsets by
number, which is harder to check than the generated code. Everything it returns
is converted here into the dataclasses below, so no untyped object leaves this module.

Constant tensors are decoded to dense numpy arrays: float16 stays float16 (the
``DEQUANTIZE`` op that follows converts it), and sparse tensors (the detector's
block-sparse weights, followed by ``DENSIFY``) are expanded with TFLite's
format-converter rules (traversal order, block map, DENSE / SPARSE_CSR levels).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite  # type: ignore[import-untyped,unused-ignore]
from tflite.BuiltinOperator import BuiltinOperator  # type: ignore[import-untyped,unused-ignore]

_OP_NAMES: dict[int, str] = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
_DTYPES: dict[int, np.dtype] = {0: np.dtype(np.float32), 1: np.dtype(np.float16), 2: np.dtype(np.int32),
                                3: np.dtype(np.uint8), 4: np.dtype(np.int64), 6: np.dtype(np.bool_),
                                7: np.dtype(np.int16), 9: np.dtype(np.int8)}
OptionValue = int | float | bool


@dataclass(frozen=True)
class Tensor:
    """One tensor of the graph. shape: TFLite's (NHWC for images); constant: has a buffer; data: its value.

    ``data`` is None for activations, and for float constants read with ``with_data=False``.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    constant: bool = False
    data: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Operator:
    """One operator: its builtin name (``"CONV_2D"``), tensor indices (-1: optional input absent), options."""

    index: int
    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, OptionValue]


@dataclass(frozen=True)
class Graph:
    """The first subgraph of a .tflite model, in execution order, with the file's sha256."""

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    sha256: str

    def op_kinds(self) -> list[str]:
        """Distinct operator names, sorted."""
        return sorted({op.kind for op in self.operators})

    def producer(self, tensor: int) -> Operator | None:
        """The operator that writes ``tensor`` (None for inputs and constants)."""
        for op in self.operators:
            if tensor in op.outputs:
                return op
        return None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_OPTION_READERS: dict[str, tuple[type, tuple[str, ...]]] = {
    "CONV_2D": (tflite.Conv2DOptions, ("Padding", "StrideW", "StrideH", "DilationWFactor", "DilationHFactor",
                                       "FusedActivationFunction")),
    "DEPTHWISE_CONV_2D": (tflite.DepthwiseConv2DOptions, ("Padding", "StrideW", "StrideH", "DilationWFactor",
                                                          "DilationHFactor", "DepthMultiplier",
                                                          "FusedActivationFunction")),
    "MAX_POOL_2D": (tflite.Pool2DOptions, ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight",
                                           "FusedActivationFunction")),
    "AVERAGE_POOL_2D": (tflite.Pool2DOptions, ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight",
                                               "FusedActivationFunction")),
    "ADD": (tflite.AddOptions, ("FusedActivationFunction",)),
    "MUL": (tflite.MulOptions, ("FusedActivationFunction",)),
    "CONCATENATION": (tflite.ConcatenationOptions, ("Axis", "FusedActivationFunction")),
    "RESIZE_BILINEAR": (tflite.ResizeBilinearOptions, ("AlignCorners", "HalfPixelCenters")),
    "DEPTH_TO_SPACE": (tflite.DepthToSpaceOptions, ("BlockSize",)),
}


def _options(op: object, kind: str) -> dict[str, OptionValue]:
    reader = _OPTION_READERS.get(kind)
    table = op.BuiltinOptions()  # type: ignore[attr-defined]
    if reader is None or table is None:
        return {}
    cls, names = reader
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return {name: getattr(opts, name)() for name in names}


def _int_vector(table: object, kind: int) -> np.ndarray:
    """A SparseIndexVector union (1 Int32Vector, 2 Uint16Vector, 3 Uint8Vector) as int64."""
    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
    vec = cls()
    vec.Init(table.Bytes, table.Pos)  # type: ignore[attr-defined]
    return np.asarray(vec.ValuesAsNumpy(), dtype=np.int64)


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity: object) -> np.ndarray:
    """Expand a sparse constant (TFLite SparsityParameters) into a dense array of ``shape``.

    values (nnz,) in storage order. Levels follow ``traversal_order`` over the
    expanded dims (original dims, blocked ones divided by their block size,
    then one dim per block); DENSE levels enumerate 0..size-1, SPARSE_CSR levels
    read ``array_segments[parent]:array_segments[parent + 1]`` of ``array_indices``.
    """
    rank = len(shape)
    order = [int(v) for v in sparsity.TraversalOrderAsNumpy()]  # type: ignore[attr-defined]
    block_map = ([int(v) for v in sparsity.BlockMapAsNumpy()]  # type: ignore[attr-defined]
                 if sparsity.BlockMapLength() else [])  # type: ignore[attr-defined]
    metas = [sparsity.DimMetadata(i) for i in range(sparsity.DimMetadataLength())]  # type: ignore[attr-defined]
    coords = np.zeros((1, len(order)), dtype=np.int64)   # expanded coordinates, in traversal order
    parent = np.zeros(1, dtype=np.int64)
    for level, meta in enumerate(metas):
        if meta.Format() == 0:   # DENSE
            n = int(meta.DenseSize())
            parent = (parent[:, None] * n + np.arange(n)).reshape(-1)
            coords = np.repeat(coords, n, axis=0)
            coords[:, level] = np.tile(np.arange(n), len(coords) // n)
        else:                    # SPARSE_CSR
            segments = _int_vector(meta.ArraySegments(), meta.ArraySegmentsType())
            indices = _int_vector(meta.ArrayIndices(), meta.ArrayIndicesType())
            starts, counts = segments[parent], segments[parent + 1] - segments[parent]
            coords = np.repeat(coords, counts, axis=0)
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            parent = np.repeat(starts, counts) + offsets
            coords[:, level] = indices[parent]
    expanded = np.zeros((len(coords), len(order)), dtype=np.int64)
    expanded[:, order] = coords                          # back to expanded-dim order
    original = expanded[:, :rank].copy()
    for k, dim in enumerate(block_map):
        block = int(metas[order.index(rank + k)].DenseSize())
        original[:, dim] = original[:, dim] * block + expanded[:, rank + k]
    dense = np.zeros(shape, dtype=values.dtype)
    dense[tuple(original.T)] = values[:len(original)]
    return dense


def _buffer(model: object, raw: bytes, tensor: object) -> np.ndarray | None:
    """The tensor's raw bytes (uint8), or None when it has no buffer (an activation)."""
    buffer = model.Buffers(tensor.Buffer())  # type: ignore[attr-defined]
    if buffer is None:
        return None
    if buffer.Offset() > 1:   # large models keep buffers after the flatbuffer
        return np.frombuffer(raw, dtype=np.uint8, count=int(buffer.Size()), offset=int(buffer.Offset()))
    if buffer.DataLength():
        return np.asarray(buffer.DataAsNumpy(), dtype=np.uint8)
    return None


def _constant(data: np.ndarray, tensor: object, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    values = np.frombuffer(data.tobytes(), dtype=dtype)
    sparsity = tensor.Sparsity()  # type: ignore[attr-defined]
    if sparsity is not None:
        return densify(values, shape, sparsity)
    return values.reshape(shape).copy()


def read_tflite(path: str | os.PathLike[str], with_data: bool = True) -> Graph:
    """Parse subgraph 0 of a .tflite file. with_data=False skips float constants (weights); integer ones are kept."""
    raw = Path(path).read_bytes()
    model = tflite.Model.GetRootAsModel(raw, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"{path}: {model.SubgraphsLength()} subgraphs; only single-subgraph models are supported")
    sub = model.Subgraphs(0)
    tensors = []
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        dtype = _DTYPES.get(int(t.Type()))
        if dtype is None:
            raise ValueError(f"{path}: tensor {t.Name().decode()} has unsupported TFLite type {t.Type()}")
        shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        buf = _buffer(model, raw, t)
        data = _constant(buf, t, shape, dtype) if buf is not None and (with_data or dtype.kind != "f") else None
        tensors.append(Tensor(index=i, name=t.Name().decode(), shape=shape, dtype=dtype, constant=buf is not None,
                              data=data))
    operators = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        number = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        kind = _OP_NAMES.get(number, str(number))
        if kind == "CUSTOM":
            kind = f"CUSTOM:{code.CustomCode().decode()}"
        operators.append(Operator(index=i, kind=kind, inputs=tuple(int(v) for v in op.InputsAsNumpy()),
                                  outputs=tuple(int(v) for v in op.OutputsAsNumpy()), options=_options(op, kind)))
    return Graph(tensors=tuple(tensors), operators=tuple(operators),
                 inputs=tuple(int(v) for v in sub.InputsAsNumpy()), outputs=tuple(int(v) for v in sub.OutputsAsNumpy()),
                 sha256=hashlib.sha256(raw).hexdigest())
