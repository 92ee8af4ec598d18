"""Several trainings of the keypoint heads answering together: the mean of their heatmap probabilities.

A training with ``HeadTrainConfig.members`` > 1 trains its heads (and the backbone's last stage, when
that trains) once per member, each early-stopped on a different clip-grouped inner fold of the training
clips, so the members differ in the data they saw and in the epoch they stopped at. Their heatmaps are
averaged as probabilities, the way top-down pose ensembles are: ``mean_probability_logits`` returns the
log of the mean, which any softmax decoder (``heads.decode_heatmaps``) reads as the mean heatmap.

Members that carry a trained stage read the backbone's frontier (``tail.FrontierNet``), computed once
per crop; each runs its own copy of the stage, then its heads. Members of heads alone read the
backbone's features.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .heads import KeypointHeads
from .tail import STAGE_STARTS, BackboneTail, FrontierNet, TailHeads, with_stage


def mean_probability_logits(logits: list[Tensor]) -> Tensor:
    """Heatmap logits of several members, each (N, K, H, W) -> (N, K, H, W) log of their mean softmax
    probabilities over each map."""
    n, k, h, w = logits[0].shape
    log_probs = torch.stack([torch.log_softmax(x.reshape(n, k, h * w), dim=-1) for x in logits])
    return (torch.logsumexp(log_probs, dim=0) - math.log(len(logits))).reshape(n, k, h, w)


class HeadsEnsemble(nn.Module):
    """Members (``KeypointHeads``, or ``TailHeads`` on the packed frontier) -> the mean of their heatmaps:
    features (N, F) -> log mean probabilities (N, K, 64, 64)."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, features: Tensor) -> Tensor:
        return mean_probability_logits([m(features) for m in self.members])


def member_module(net: Any, heads: KeypointHeads, stage: dict[str, Tensor] | None, stages: int) -> nn.Module:
    """One member as it answers: its heads, under its own copy of the backbone's last ``stages`` stages
    (weights ``stage``, as ``BackboneTail.tuned_weights`` names them) when it trained them."""
    if not stage:
        return heads.eval()
    tail = BackboneTail(with_stage(net, stage), first=STAGE_STARTS[stages])  # zero offsets: the tuned weights
    return TailHeads(tail, heads, frozen=True).eval()


class PoseNetWithEnsemble(nn.Module):
    """BlazePose backbone + an ensemble: crop (N, 3, 256, 256) in [0, 1] -> (heatmaps, presence, landmarks),
    as ``heads.PoseNetWithHeads``; presence and landmarks are BlazePose's own."""

    def __init__(self, net: Any, ensemble: HeadsEnsemble, stages: int | None) -> None:
        super().__init__()
        self.net = net
        self.frontier = FrontierNet(net, STAGE_STARTS[stages]) if stages else None
        self.ensemble = ensemble

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out = (self.frontier or self.net).run(x)
        heatmaps: Tensor = self.ensemble(out.features)
        return heatmaps, out.presence, out.landmarks.reshape(x.shape[0], -1)
