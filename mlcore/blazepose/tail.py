"""The last stage of BlazePose's backbone, trainable on cached inputs, under the keypoint heads.

Heads alone train on the frozen (48, 64, 64) features. One step deeper is affordable on a CPU: the
features are the 8 x 8 stage's output (BlazePose's most global view of the body: three inverted-residual
blocks of 144 <-> 864 channels from the (528, 8, 8) tensor, ~0.94 M weights) upsampled and added to three
skip tensors of 16 x 16, 32 x 32 and 64 x 64. ``BackboneTail`` runs exactly those operators (``TAIL_FROM``
on) from their inputs, the *frontier*: the (528, 8, 8) tensor and the three skips, which a crop cache keeps
instead of the features (``FrontierNet`` makes a predictor's backbone return them packed into one vector,
291,840 values per crop). A training step then costs the 8 x 8 stage, not the backbone.

The stage's weights are trained as offsets from the pretrained ones: w = w0 + ``scale`` * delta, delta
starting at zero. ``scale`` sets the stage's learning rate relative to the heads' without a second
optimiser group, and weight decay on delta pulls the stage back towards BlazePose's weights (L2-SP),
which matters with a few hundred frames.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .head_config import WHOLE_BACKBONE
from .heads import KeypointHeads
from .models import BlazePoseLandmarkNet, LandmarkOutput
from .torch_builder import _activation

TAIL_FROM = 142          # first operator of pose_landmark_full.tflite's 8 x 8 stage (after its 5 x 5 stride-2 conv)
# First operator of the last ``stages`` backbone stages: 1 = the 8 x 8 stage, 2 = the 16 x 16 stage too (its
# input is (64, 16, 16), so its frontier, 262,144 values per crop, is smaller than the 8 x 8 stage's);
# WHOLE_BACKBONE = every operator, whose frontier is the crop itself (3 x 256 x 256 = 196,608 values).
# Training the whole backbone takes several times the 8 x 8 stage's on a CPU (docs/mlcore.md): it is meant for a GPU.
STAGE_STARTS = {1: TAIL_FROM, 2: 100, WHOLE_BACKBONE: 0}
DEFAULT_SCALE = 0.1


def tail_operators(net: BlazePoseLandmarkNet, first: int = TAIL_FROM) -> tuple[list[Any], list[int]]:
    """(operators from ``first`` on that the features depend on, in execution order; their frontier tensors:
    the ones they read that earlier operators wrote, or the crop itself from operator 0)."""
    graph = net.graph
    producer = {op.outputs[0]: op for op in graph.steps}
    needed: set[int] = set()
    stack = [net.feature_index]
    while stack:
        op = producer.get(stack.pop())
        if op is None or op.index in needed or op.index < first:
            continue
        needed.add(op.index)
        stack += [i for i in op.inputs if i >= 0]
    ops = [op for op in graph.steps if op.index in needed]
    produced = {op.outputs[0] for op in ops}
    frontier = sorted({i for op in ops for i in op.inputs
                       if i >= 0 and i not in produced and i not in graph.small
                       and (i in producer or i in graph.graph_inputs)})
    return ops, frontier


def _conv_of(graph: Any, op: Any) -> nn.Conv2d:
    conv = graph.convs[str(op.index)]
    assert isinstance(conv, nn.Conv2d)
    return conv


def _nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[3], shape[1], shape[2]) if len(shape) == 4 else tuple(shape[1:])


class FrontierNet:
    """A landmark net whose ``run`` returns the tail's frontier tensors, packed, as ``features`` (N, F).

    Wraps ``net`` for ``BlazePosePredictor``: every other output (landmarks, presence, ROIs) is the net's own,
    so crops, ROIs and targets are exactly what the heads' cache holds."""

    def __init__(self, net: BlazePoseLandmarkNet, first: int = TAIL_FROM) -> None:
        self.net, self.graph = net, net.graph
        _, self.frontier = tail_operators(net, first)
        self.stored = f"frontier@{first}"  # in crop store keys (crops.model_id): not the features
        self.shapes = [_nchw(tuple(self.graph.shapes[i])) for i in self.frontier]

    def run(self, x: Tensor) -> LandmarkOutput:
        """``net.run(x)`` with ``features`` the packed frontier (N, F), in the same single pass."""
        outs, taps = self.graph.forward_tensors(x, (self.net.embedding_index, *self.frontier))
        packed = torch.cat([taps[i].reshape(len(x), -1) for i in self.frontier], dim=1)
        return LandmarkOutput(landmarks=outs[0].reshape(len(x), -1, 5), presence=outs[1], segmentation=outs[2],
                              heatmaps=outs[3], world=outs[4], features=packed,
                              embedding=taps[self.net.embedding_index])

    def __getattr__(self, name: str) -> Any:  # everything else (feature_index, heatmap head, ...) as the net's
        return getattr(self.net, name)


class BackboneTail(nn.Module):
    """Packed frontier (N, F) -> features (N, 48, 64, 64) through the 8 x 8 stage (see the module docstring)."""

    def __init__(self, net: BlazePoseLandmarkNet, first: int = TAIL_FROM, scale: float = DEFAULT_SCALE,
                 trainable_from: int | None = None) -> None:
        """Runs the operators from ``first`` (the cache's frontier); trains those from ``trainable_from``
        (default ``first``) and runs the ones before it with BlazePose's weights."""
        super().__init__()
        graph = net.graph
        self.ops, self.frontier = tail_operators(net, first)
        self.trainable_from = first if trainable_from is None else trainable_from
        self.shapes = [_nchw(tuple(graph.shapes[i])) for i in self.frontier]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.feature_index, self.scale = net.feature_index, scale
        self._graph = [graph]  # a list: not a submodule, so its 3.2 M weights stay out of this module's state
        self.delta = nn.ParameterDict()
        for op in self.ops:
            if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and op.index >= self.trainable_from:
                conv = _conv_of(graph, op)
                self.register_buffer(f"w0_{op.index}", conv.weight.detach().clone())
                self.delta[f"w{op.index}"] = nn.Parameter(torch.zeros_like(conv.weight))
                if conv.bias is not None:
                    self.register_buffer(f"b0_{op.index}", conv.bias.detach().clone())
                    self.delta[f"b{op.index}"] = nn.Parameter(torch.zeros_like(conv.bias))

    @property
    def packed_size(self) -> int:
        return sum(self.sizes)

    def unpack(self, packed: Tensor) -> dict[int, Tensor]:
        parts = torch.split(packed, self.sizes, dim=1)
        return {i: p.reshape(len(packed), *s) for i, p, s in zip(self.frontier, parts, self.shapes, strict=True)}

    def forward(self, packed: Tensor) -> Tensor:
        graph = self._graph[0]
        values = self.unpack(packed)
        for op in self.ops:
            args = [values[i] for i in op.inputs if i >= 0 and i in values]
            if f"w{op.index}" in self.delta:
                values[op.outputs[0]] = self._conv(op, args[0])
            elif op.index < self.trainable_from:
                with torch.no_grad():  # runs before any trained operator: nothing to backpropagate into
                    values[op.outputs[0]] = graph._run(op, args)
            else:
                values[op.outputs[0]] = graph._run(op, args)
        return values[self.feature_index]

    def _conv(self, op: Any, x: Tensor) -> Tensor:
        conv = _conv_of(self._graph[0], op)
        w = getattr(self, f"w0_{op.index}") + self.scale * self.delta[f"w{op.index}"]
        b = (getattr(self, f"b0_{op.index}") + self.scale * self.delta[f"b{op.index}"]
             if f"b{op.index}" in self.delta else None)
        kernel = (int(conv.kernel_size[0]), int(conv.kernel_size[1]))
        dilation = (int(conv.dilation[0]), int(conv.dilation[1]))
        pads = self._graph[0]._pads(op, kernel, dilation)
        x = F.pad(x, pads) if any(pads) else x
        y = F.conv2d(x, w, b, conv.stride, 0, dilation, conv.groups)
        return _activation(y, int(op.options["FusedActivationFunction"]))

    def tuned_weights(self) -> dict[str, Tensor]:
        """{operator index: tuned weight or bias} as the full network's ``convs`` name them ("<op>.weight")."""
        out = {}
        for key, d in self.delta.items():
            kind, index = key[0], key[1:]
            base = getattr(self, f"{kind}0_{index}")
            out[f"{index}.{'weight' if kind == 'w' else 'bias'}"] = (base + self.scale * d).detach().clone()
        return out


def with_stage(net: Any, stage: dict[str, torch.Tensor] | None) -> Any:
    """``net``, or a copy of it with the trained last stage's weights (``BackboneTail.tuned_weights``)."""
    if not stage:
        return net
    tuned = copy.deepcopy(net)
    tuned.graph.convs.load_state_dict(stage, strict=False)
    return tuned


class TailHeads(nn.Module):
    """Packed frontier (N, F) -> heatmap logits (N, K, 64, 64): ``BackboneTail`` then ``KeypointHeads``.

    ``frozen``: the tail keeps BlazePose's weights (no parameters), so the same cache trains heads alone."""

    def __init__(self, tail: BackboneTail, heads: KeypointHeads, frozen: bool = False) -> None:
        super().__init__()
        self.tail, self.heads = tail, heads
        for p in tail.parameters():
            p.requires_grad_(not frozen)
        self.frozen = frozen

    @property
    def num_keypoints(self) -> int:
        return self.heads.num_keypoints

    def forward(self, packed: Tensor) -> Tensor:
        if self.frozen:
            with torch.no_grad():
                features = self.tail(packed)
        else:
            features = self.tail(packed)
        out: Tensor = self.heads(features)
        return out
