"""A small top-down keypoint network with a SimCC head, sized to train on a CPU in minutes.

Input (N, 3, H, W) normalised RGB (RTMPose mean/std); outputs ``simcc_x``
(N, K, W*r) and ``simcc_y`` (N, K, H*r), the RTMPose ONNX contract, so the
exported model runs through ``OnnxTopDownPredictor`` like any RTMPose model.

Shape: a residual encoder down to 1/16 (8 x 6 for a 128 x 96 input, enough
context to tell near from far limbs), one upsampling step with a skip to 1/8,
a 1x1 conv to one map per keypoint, and per keypoint a shared MLP that reads
that flattened map into the two 1-D classifications. Dropout before the last
layers gives MC-dropout uncertainty at prediction time.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _Res(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.a = _conv_bn(cin, cout, stride)
        self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.b(self.a(x)) + self.skip(x))


class KeypointNet(nn.Module):
    """num_keypoints K; input_size (W, H) divisible by 16; width scales the channels."""

    def __init__(self, num_keypoints: int, input_size: tuple[int, int] = (96, 128), split_ratio: float = 2.0,
                 width: int = 32, hidden: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        w, h = input_size
        if w % 16 or h % 16:
            raise ValueError("input width and height must be multiples of 16")
        self.num_keypoints = num_keypoints
        self.input_size = (w, h)
        self.split_ratio = split_ratio
        c1, c2, c3, c4 = width, width * 2, width * 4, width * 4
        self.stem = nn.Sequential(_conv_bn(3, c1 // 2 + 8, 2), _conv_bn(c1 // 2 + 8, c1))      # 1/2
        self.s1 = nn.Sequential(_Res(c1, c1, 2), _Res(c1, c1, 1))                              # 1/4
        self.s2 = nn.Sequential(_Res(c1, c2, 2), _Res(c2, c2, 1))                              # 1/8
        self.s3 = nn.Sequential(_Res(c2, c3, 2), _Res(c3, c4, 1))                              # 1/16
        self.lateral = _conv_bn(c2, c2, 1, k=1)
        self.reduce = _conv_bn(c4, c2, 1, k=1)
        self.fuse = _Res(c2, c2, 1)
        self.to_maps = nn.Conv2d(c2, num_keypoints, 1)
        feat = (w // 8) * (h // 8)
        self.mlp = nn.Sequential(nn.Linear(feat, hidden), nn.GELU(), nn.Dropout(dropout))
        self.head_x = nn.Linear(hidden, int(round(w * split_ratio)))
        self.head_y = nn.Linear(hidden, int(round(h * split_ratio)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f2 = self.s2(self.s1(self.stem(x)))
        f3 = self.s3(f2)
        up = F.interpolate(self.reduce(f3), size=f2.shape[-2:], mode="nearest")
        maps = self.to_maps(self.fuse(self.lateral(f2) + up))          # (N, K, H/8, W/8)
        z = self.mlp(maps.flatten(2))                                   # (N, K, hidden)
        return self.head_x(z), self.head_y(z)

    def config(self) -> dict[str, Any]:
        # Read back from the layers: s1[0] is a _Res whose first conv has `width` channels, mlp is
        # (Linear(feat, hidden), GELU, Dropout(dropout)).
        first_conv = cast(nn.Conv2d, cast(_Res, self.s1[0]).a[0])
        return {"num_keypoints": self.num_keypoints, "input_size": list(self.input_size),
                "split_ratio": self.split_ratio, "width": first_conv.out_channels,
                "hidden": cast(nn.Linear, self.mlp[0]).out_features, "dropout": cast(nn.Dropout, self.mlp[2]).p}
