"""A form classifier over named feature sets: features -> standardise -> linear or one hidden layer.

The feature sets (``form_features``) are fixed functions of the pose, so training
computes them once and fits only the head; the whole module (features, scaler,
head) is what is exported, so the ONNX graph takes normalised keypoints
(N, K, 3) and, when the configuration uses extra per-frame vectors, a second
input ``extra`` (N, D).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..form_features import FeatureStack
from ..skeletons import Skeleton


class FormFeatureNet(nn.Module):
    """(N, K, 3) keypoints [+ (N, D) extra] -> (N, C) logits.

    hidden = 0 gives (multinomial) logistic regression on the standardised features;
    hidden > 0 one ReLU layer of that width with dropout.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, skeleton: Skeleton, feature_sets: Sequence[str], num_classes: int, extra_dim: int = 0,
                 hidden: int = 0, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = FeatureStack(skeleton, feature_sets)
        self.extra_dim = int(extra_dim)
        f = self.features.num_features + self.extra_dim
        if f == 0:
            raise ValueError("a form classifier needs at least one feature set or extra input")
        self.num_features = f
        self.register_buffer("mean", torch.zeros(f))
        self.register_buffer("std", torch.ones(f))
        self.head: nn.Module
        if hidden > 0:
            self.head = nn.Sequential(nn.Linear(f, hidden), nn.ReLU(), nn.Dropout(dropout),
                                      nn.Linear(hidden, num_classes))
        else:
            self.head = nn.Linear(f, num_classes)

    def raw_features(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Unstandardised features (N, F) of keypoints x (N, K, 3) and extra (N, D)."""
        feats: torch.Tensor = self.features(x)
        if self.extra_dim:
            if extra is None or extra.shape[-1] != self.extra_dim:
                raise ValueError(f"this classifier needs extra inputs of width {self.extra_dim}")
            feats = torch.cat([feats, extra.to(feats.dtype)], dim=-1)
        return feats

    @torch.no_grad()
    def fit_input_scaler(self, feats: torch.Tensor) -> None:
        """Set the standardisation from training features (N, F) (``raw_features`` of the training poses)."""
        self.mean.copy_(feats.mean(0))
        self.std.copy_(feats.std(0).clamp(min=1e-3) if len(feats) > 1 else torch.ones_like(self.std))

    def head_logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(N, F) raw features -> (N, C) logits."""
        out: torch.Tensor = self.head((feats - self.mean) / self.std)
        return out

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.head_logits(self.raw_features(x, extra))
