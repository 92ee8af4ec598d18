"""The two BlazePose networks as torch modules with named outputs, and the backbone features heads can train on.

``load_landmark_net()`` -> ``BlazePoseLandmarkNet``: input (N, 3, 256, 256) RGB
in [0, 1]; ``forward`` returns the five raw outputs of pose_landmark_full.tflite:

    landmarks    (N, 195)  39 x (x, y, z, visibility logit, presence logit), x/y in crop pixels (0..256)
    presence     (N, 1)    pose presence, already a probability (the graph ends in LOGISTIC)
    segmentation (N, 1, 256, 256) person-mask logits
    heatmaps     (N, 39, 64, 64)  landmark heatmap logits (MediaPipe refines x/y with them)
    world        (N, 117)  39 x (x, y, z) in metres, hip-centred

``run`` gives the same as a ``LandmarkOutput`` plus ``features`` (N, 48, 64, 64),
the tensor the 1 x 1 heatmap head reads (the last decoder stage at 1/4
resolution), and ``embedding`` (N, 288, 2, 2), what the landmark, presence and
world heads read. Both are found by graph structure, not by tensor name.

``load_detector_net()`` -> ``TFLiteModule``: input (N, 3, 224, 224) RGB in
[-1, 1]; outputs regressors (N, 2254, 12) and score logits (N, 2254, 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor, nn

from .files import blazepose_files
from .torch_builder import TFLiteModule, load_module

NUM_LANDMARKS = 39     # 33 body landmarks + 2 alignment (auxiliary) points + 4 unused
INPUT_SIZE = 256
FEATURE_CHANNELS = 48


@dataclass
class LandmarkOutput:
    """Outputs of one batch, shapes in the module docstring; landmarks reshaped to (N, 39, 5)."""

    landmarks: Tensor
    presence: Tensor
    segmentation: Tensor
    heatmaps: Tensor
    world: Tensor
    features: Tensor
    embedding: Tensor


class BlazePoseLandmarkNet(nn.Module):
    """BlazePose GHUM full as a trainable module (3.17 M float32 parameters)."""

    def __init__(self, graph_module: TFLiteModule) -> None:
        super().__init__()
        self.graph = graph_module
        outputs = graph_module.graph_outputs
        self.feature_index = self._head_input(outputs[3])      # input of the heatmap head's conv
        self.embedding_index = self._head_input(outputs[0])    # input of the landmark head's conv

    def _head_input(self, output: int) -> int:
        """The activation tensor read by the convolution that (through a RESHAPE at most) writes ``output``."""
        for op in reversed(self.graph.steps):
            if output in op.outputs:
                if op.kind == "RESHAPE":
                    return self._head_input(op.inputs[0])
                if op.kind == "CONV_2D":
                    return op.inputs[0]
        raise ValueError(f"no convolution head found for tensor {self.graph.names.get(output, output)}")

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x (N, 3, 256, 256) in [0, 1] -> (landmarks, presence, segmentation, heatmaps, world)."""
        return tuple(self.graph(x))

    def run(self, x: Tensor) -> LandmarkOutput:
        """All outputs plus the backbone features, for heads trained on top."""
        outs, taps = self.graph.forward_tensors(x, (self.feature_index, self.embedding_index))
        return LandmarkOutput(landmarks=outs[0].reshape(-1, NUM_LANDMARKS, 5), presence=outs[1], segmentation=outs[2],
                              heatmaps=outs[3], world=outs[4], features=taps[self.feature_index],
                              embedding=taps[self.embedding_index])


def load_landmark_net(path: str | os.PathLike[str] | None = None, use_cache: bool = True) -> BlazePoseLandmarkNet:
    """pose_landmark_full.tflite (default: found by ``blazepose_files``) as a module in eval mode."""
    module = load_module(Path(path) if path is not None else blazepose_files().landmark, use_cache=use_cache)
    return BlazePoseLandmarkNet(module).eval()


def load_detector_net(path: str | os.PathLike[str] | None = None, use_cache: bool = True) -> TFLiteModule:
    """pose_detection.tflite (default: found by ``blazepose_files``) as a module in eval mode."""
    return load_module(Path(path) if path is not None else blazepose_files().detector, use_cache=use_cache)
