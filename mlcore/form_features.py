"""Named per-frame feature sets for form classifiers, computed in torch from normalised poses.

Every set maps the classifier input (N, K, 3) (``form.pose_features``: x, y in trunk
lengths from the pelvis, every pose mirrored to face right, and a labelled flag) to
(N, F) features, inside the model graph so the ONNX file still takes keypoints.
Because the input is already mirrored to face right and left/right pairs are merged,
every set is flip-invariant; because the unit is the trunk length, every set is
scale-invariant.

- ``geometry``: segment directions, joint cosines and offsets (``nets.pose_geometry``).
- ``trunk``: the body in the trunk's own frame: where head, arms, knees and feet sit
  along and across the hip-to-shoulder line, limb lengths in trunk lengths (a rounded
  back shortens the hip-shoulder chord against the thigh and shin), the hip-hinge and
  head angles and the trunk's lean.
- ``spine``: the curvature of the spine chain hip - spine_01..05 - neck: each spine
  point's signed distance from the hip-neck chord, the turning between consecutive
  segments and the chain's length over its chord. Only meaningful where the spine
  points are labelled by people (or a model trained on them): points placed by
  ``spine.fill_spine`` lie on the chord, so their curvature is 0 and carries nothing.

Extra per-frame vectors from elsewhere (image features of the trunk, back-contour
curvature from a silhouette: (N, D) arrays) are not computed here; they join a
candidate as named extra inputs (``form_selection.Candidate.extra``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .nets.pose_geometry import POINTS, PoseGeometry, geometry_supported
from .skeletons import Skeleton

SPINE_CHAIN = ("hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05", "neck")
# Points placed in the trunk frame (along, across the hip -> shoulder axis).
TRUNK_FRAME_POINTS = ("ear", "nose", "elbow", "wrist", "knee", "ankle")
# Segment lengths (to, from) in trunk lengths.
LENGTHS = (("knee", "hip"), ("ankle", "knee"), ("elbow", "shoulder"), ("wrist", "elbow"), ("ear", "shoulder"))


def _unit(v: torch.Tensor) -> torch.Tensor:
    """Unit vectors along the last axis (..., 2); zero vectors stay (almost) zero."""
    out: torch.Tensor = v / (torch.linalg.vector_norm(v, dim=-1, keepdim=True) + 1e-6)
    return out


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """z of the 2-D cross product: (..., 2), (..., 2) -> (...)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


class TrunkFrame(nn.Module):
    """(N, K, 3) -> (N, F): the pose seen from the trunk (hip origin, hip -> shoulder axis).

    F = 2 per trunk-frame point + 1 per length + 4 (hip cosine, head cosine, lean cos, lean sin)
    + 1 (share of labelled body points). Features of unlabelled points are 0.
    """

    def __init__(self, skeleton: Skeleton) -> None:
        super().__init__()
        self.body = PoseGeometry(skeleton)          # reuses its merged left/right body points
        order = {name: p for p, name in enumerate(POINTS)}
        self.frame_points = [order[n] for n in TRUNK_FRAME_POINTS]
        self.lengths = [(order[a], order[b]) for a, b in LENGTHS]
        self.hip, self.shoulder, self.knee, self.ear = order["hip"], order["shoulder"], order["knee"], order["ear"]
        self.num_features = 2 * len(TRUNK_FRAME_POINTS) + len(LENGTHS) + 5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xy, ok = self.body.body_points(x)  # (N, P, 2), (N, P)
        hip, sh = xy[:, self.hip], xy[:, self.shoulder]
        trunk_ok = ok[:, self.hip] * ok[:, self.shoulder]            # (N,)
        axis = _unit(sh - hip) * trunk_ok[:, None]                   # (N, 2)
        normal = torch.stack([-axis[:, 1], axis[:, 0]], -1)
        feats = []
        for p in self.frame_points:
            rel = (xy[:, p] - hip) * (ok[:, p] * trunk_ok)[:, None]
            feats += [(rel * axis).sum(-1, keepdim=True), (rel * normal).sum(-1, keepdim=True)]
        for a, b in self.lengths:
            valid = ok[:, a] * ok[:, b]
            feats.append((torch.linalg.vector_norm(xy[:, a] - xy[:, b], dim=-1) * valid)[:, None])
        for a, v, c in ((self.shoulder, self.hip, self.knee), (self.ear, self.shoulder, self.hip)):
            valid = ok[:, a] * ok[:, v] * ok[:, c]
            cos = (_unit(xy[:, a] - xy[:, v]) * _unit(xy[:, c] - xy[:, v])).sum(-1)
            feats.append((cos * valid)[:, None])
        feats += [axis[:, :1], axis[:, 1:]]                          # lean of the trunk in the image
        feats.append(ok.mean(-1, keepdim=True))
        return torch.cat(feats, dim=-1)


def spine_supported(skeleton: Skeleton) -> bool:
    """True when the skeleton names the whole spine chain (hip, spine_01..05, neck)."""
    return all(n in skeleton.keypoints for n in SPINE_CHAIN)


class SpineCurvature(nn.Module):
    """(N, K, 3) -> (N, F): bend of the spine chain hip - spine_01..05 - neck, in trunk lengths.

    F = 5 signed distances of spine_01..05 from the hip-neck chord (positive = towards the
    back's convex side in a right-facing pose) + 5 turning sines between consecutive segments
    + 1 (chain length / chord length - 1) + 1 (share of labelled chain points).
    Where any chain point is unlabelled every feature but the last is 0.
    """

    def __init__(self, skeleton: Skeleton) -> None:
        super().__init__()
        if not spine_supported(skeleton):
            raise ValueError(f"skeleton {skeleton.name!r} lacks the spine chain {SPINE_CHAIN}")
        self.index = [skeleton.keypoints.index(n) for n in SPINE_CHAIN]
        self.num_features = 5 + 5 + 1 + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chain = x[:, self.index]                                     # (N, 7, 3)
        xy, flag = chain[..., :2], chain[..., 2]
        valid = flag.prod(-1, keepdim=True)                          # (N, 1)
        chord = xy[:, -1] - xy[:, 0]                                 # (N, 2)
        length = torch.linalg.vector_norm(chord, dim=-1, keepdim=True) + 1e-6
        across = _cross(chord[:, None], xy[:, 1:-1] - xy[:, :1]) / length       # (N, 5)
        seg = _unit(xy[:, 1:] - xy[:, :-1])                          # (N, 6, 2)
        turn = _cross(seg[:, :-1], seg[:, 1:])                       # (N, 5)
        arc = torch.linalg.vector_norm(xy[:, 1:] - xy[:, :-1], dim=-1).sum(-1, keepdim=True)
        feats = torch.cat([across, turn, arc / length - 1.0], -1) * valid
        return torch.cat([feats, flag.mean(-1, keepdim=True)], -1)


class PoseGeometryFeatures(nn.Module):
    """``nets.pose_geometry.PoseGeometry`` under this module's interface: (N, K, 3) -> (N, 34)."""

    def __init__(self, skeleton: Skeleton) -> None:
        super().__init__()
        self.geometry = PoseGeometry(skeleton)
        self.num_features = self.geometry.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.geometry(x)
        return out


# name -> (supported(skeleton), build(skeleton) -> module with ``num_features``)
FEATURE_SETS: dict[str, tuple[Callable[[Skeleton], bool], Callable[[Skeleton], nn.Module]]] = {
    "geometry": (geometry_supported, PoseGeometryFeatures),
    "trunk": (geometry_supported, TrunkFrame),
    "spine": (spine_supported, SpineCurvature),
}


def supported_feature_sets(skeleton: Skeleton) -> list[str]:
    """Names of the keypoint feature sets the skeleton allows, in registry order."""
    return [name for name, (ok, _) in FEATURE_SETS.items() if ok(skeleton)]


class FeatureStack(nn.Module):
    """Several named feature sets side by side: (N, K, 3) -> (N, sum F); none gives (N, 0)."""

    def __init__(self, skeleton: Skeleton, names: Sequence[str]) -> None:
        super().__init__()
        unknown = [n for n in names if n not in FEATURE_SETS]
        if unknown:
            raise ValueError(f"unknown feature sets {unknown}; choose from {sorted(FEATURE_SETS)}")
        self.names = list(names)
        self.sets = nn.ModuleList(FEATURE_SETS[n][1](skeleton) for n in names)
        widths: list[int] = [m.num_features for m in self.sets]  # type: ignore[misc]
        self.num_features = sum(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.names:                                           # a candidate of extra inputs only
            return x.new_zeros((x.shape[0], 0))
        return torch.cat([m(x) for m in self.sets], dim=-1)
