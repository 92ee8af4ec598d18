"""Form classifiers over one normalised pose: a graph convolution network and an MLP baseline.

Input (N, K, 3): x, y in trunk lengths from the pelvis (``pose.normalise_pose``)
and a labelled flag; output (N, C) class logits. The GCN mixes each joint with
its skeleton neighbours (normalised adjacency with self loops, Kipf & Welling),
then reads every joint's features in place (flatten, not pooling) because
which joint bends matters for form, not just that something bends.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import torch
from torch import nn


def normalised_adjacency(num_keypoints: int, links: Iterable[tuple[int, int]]) -> npt.NDArray[np.float32]:
    """D^-1/2 (A + I) D^-1/2 for an undirected skeleton; (K, K) float32."""
    a = np.eye(num_keypoints, dtype=np.float64)
    for i, j in links:
        a[i, j] = a[j, i] = 1.0
    d = 1.0 / np.sqrt(a.sum(axis=1))
    out: npt.NDArray[np.float32] = (a * d[:, None] * d[None, :]).astype(np.float32)
    return out


class GraphConv(nn.Module):
    adj: torch.Tensor

    def __init__(self, cin: int, cout: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("adj", adjacency)
        self.lin = nn.Linear(cin, cout)
        self.norm = nn.LayerNorm(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:      # (N, K, Cin) -> (N, K, Cout)
        return torch.relu(self.norm(torch.matmul(self.adj, self.lin(x))))


class FormGCN(nn.Module):
    def __init__(self, num_keypoints: int, links: Iterable[tuple[int, int]], num_classes: int, hidden: int = 32,
                 layers: int = 3, dropout: float = 0.3, in_features: int = 3) -> None:
        super().__init__()
        adj = torch.from_numpy(normalised_adjacency(num_keypoints, links))
        dims = [in_features] + [hidden] * layers
        self.convs = nn.ModuleList(GraphConv(a, b, adj) for a, b in itertools.pairwise(dims))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(num_keypoints * hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = conv(x)
        out: torch.Tensor = self.head(x)
        return out


class FormMLP(nn.Module):
    def __init__(self, num_keypoints: int, num_classes: int, hidden: int = 64, dropout: float = 0.3,
                 in_features: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(num_keypoints * in_features, hidden), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class WithSoftmax(nn.Module):
    """Wraps a logits network so the exported graph outputs probabilities."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # keypoints (N, K, 3)[, extra (N, D)] -> (N, C)
        return torch.softmax(self.net(*inputs), dim=-1)
