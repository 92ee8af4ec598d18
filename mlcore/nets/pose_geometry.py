"""Body geometry of one normalised pose, and a form classifier that reads it.

Lumbar rounding in a side-view row shows in how the trunk, thighs, shins,
arms and head are oriented and in the angles between them, not in where each
joint sits relative to the pelvis. With a few clips to learn from, a model that
must discover those angles from raw coordinates overfits to the clips it sees;
handing it the angles (as unit directions and cosines, which export to plain
ONNX ops) generalises to unseen clips. Measured on barbell-row in
bench/mlcore_form.py.

Left/right pairs are merged into their midpoint (or the labelled one), because
in a side view the near and far limb are hard to tell apart and a row moves
both sides together. Everything is computed in torch from the (N, K, 3)
classifier input, so the exported graph still takes normalised keypoints.
"""

from __future__ import annotations

import torch
from torch import nn

from ..skeletons import Skeleton

# Body points used, each the midpoint of a left/right pair or a single point.
POINTS = {
    "shoulder": ("left_shoulder", "right_shoulder"), "hip": ("left_hip", "right_hip"),
    "knee": ("left_knee", "right_knee"), "ankle": ("left_ankle", "right_ankle"),
    "elbow": ("left_elbow", "right_elbow"), "wrist": ("left_wrist", "right_wrist"),
    "ear": ("left_ear", "right_ear"), "nose": ("nose",),
}
# Segment directions (to, from): trunk, thigh, shin, upper arm, forearm, neck/head, bar (wrist) to knee.
SEGMENTS = [("shoulder", "hip"), ("knee", "hip"), ("ankle", "knee"), ("elbow", "shoulder"), ("wrist", "elbow"),
            ("ear", "shoulder"), ("nose", "shoulder"), ("wrist", "knee")]
# Joint angles (a, vertex, c) as cosines: hip hinge, knee bend, elbow bend, head against trunk.
JOINTS = [("shoulder", "hip", "knee"), ("hip", "knee", "ankle"), ("shoulder", "elbow", "wrist"),
          ("ear", "shoulder", "hip")]
# Offsets (to, from) kept as x, y in trunk lengths: hips and shoulders over the feet, bar against the knees.
OFFSETS = [("hip", "ankle"), ("shoulder", "ankle"), ("wrist", "knee")]


def geometry_supported(skeleton: Skeleton) -> bool:
    """True when the skeleton names every body point the geometry reads (COCO-17 names)."""
    names = set(skeleton.keypoints)
    return all(any(n in names for n in pair) for pair in POINTS.values())


class PoseGeometry(nn.Module):
    """(N, K, 3) normalised keypoints + labelled flag -> (N, F) geometric features.

    F = 3 per segment (unit direction x, y and a labelled flag) + 1 per joint (cosine) + 2 per offset.
    A feature whose points are not labelled is 0 (and its segment flag 0).
    """

    members: torch.Tensor

    def __init__(self, skeleton: Skeleton) -> None:
        super().__init__()
        if not geometry_supported(skeleton):
            raise ValueError(f"skeleton {skeleton.name!r} lacks the body points the geometry reads "
                             f"({sorted(n for pair in POINTS.values() for n in pair)})")
        index = {n: i for i, n in enumerate(skeleton.keypoints)}
        # (P, K) weights: each body point is an average over its labelled members.
        members = torch.zeros(len(POINTS), skeleton.num_keypoints)
        for p, pair in enumerate(POINTS.values()):
            for name in pair:
                if name in index:
                    members[p, index[name]] = 1.0
        self.register_buffer("members", members)
        order = {name: p for p, name in enumerate(POINTS)}
        self.segments = [(order[a], order[b]) for a, b in SEGMENTS]
        self.joints = [(order[a], order[b], order[c]) for a, b, c in JOINTS]
        self.offsets = [(order[a], order[b]) for a, b in OFFSETS]
        self.num_features = 3 * len(SEGMENTS) + len(JOINTS) + 2 * len(OFFSETS)

    def body_points(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, K, 3) -> xy (N, P, 2), labelled (N, P)."""
        flag = x[..., 2]                                        # (N, K)
        weight = self.members[None] * flag[:, None, :]          # (N, P, K)
        count = weight.sum(-1)                                  # (N, P)
        xy = torch.matmul(weight, x[..., :2]) / count.clamp(min=1.0)[..., None]
        return xy, (count > 0).float()

    @staticmethod
    def _unit(v: torch.Tensor) -> torch.Tensor:
        norm: torch.Tensor = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
        return v / (norm + 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xy, ok = self.body_points(x)
        feats: list[torch.Tensor] = []
        for a, b in self.segments:
            valid = (ok[:, a] * ok[:, b])[:, None]
            feats += [self._unit(xy[:, a] - xy[:, b]) * valid, valid]
        for a, v, c in self.joints:
            valid = ok[:, a] * ok[:, v] * ok[:, c]
            cos = (self._unit(xy[:, a] - xy[:, v]) * self._unit(xy[:, c] - xy[:, v])).sum(-1)
            feats.append((cos * valid)[:, None])
        for a, b in self.offsets:
            feats.append((xy[:, a] - xy[:, b]) * (ok[:, a] * ok[:, b])[:, None])
        return torch.cat(feats, dim=-1)


class FormGeometryMLP(nn.Module):
    """Form classifier over ``PoseGeometry``: standardised features -> one hidden layer -> (N, C) logits.

    The standardisation (mean, std per feature) is fitted on the training poses by
    ``fit_input_scaler`` and stored as buffers, so it travels in the checkpoint and the ONNX graph.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, skeleton: Skeleton, num_classes: int, hidden: int = 32, dropout: float = 0.3) -> None:
        super().__init__()
        self.geometry = PoseGeometry(skeleton)
        f = self.geometry.num_features
        self.register_buffer("mean", torch.zeros(f))
        self.register_buffer("std", torch.ones(f))
        self.head = nn.Sequential(nn.Linear(f, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    @torch.no_grad()
    def fit_input_scaler(self, x: torch.Tensor) -> None:
        """Set the standardisation from training poses x (N, K, 3)."""
        g = self.geometry(x)
        self.mean.copy_(g.mean(0))
        self.std.copy_(g.std(0).clamp(min=1e-3) if len(g) > 1 else torch.ones_like(self.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head((self.geometry(x) - self.mean) / self.std)
        return out
