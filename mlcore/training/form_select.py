"""The shipped form training: choose a configuration by inner clip-grouped CV, then fit it on everything.

Selection is part of training, so an outer cross-validation of ``train_form``
(``form_nested_cv``) measures the whole procedure, choice included, on clips
it never saw. The chosen configuration and every candidate's inner score go
into the model's report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..form_features import SPINE_CHAIN
from ..form_selection import Candidate, FitSettings, FormArrays, Selection, default_candidates, fit_candidate, select
from ..nets.form_feature_net import FormFeatureNet
from ..skeletons import Skeleton
from .common import ProgressFn, no_progress


def spine_labelled(keypoints: np.ndarray, skeleton: Skeleton) -> bool:
    """True when some pose (N, K, 3) has a spine-chain point marked visible (v = 2).

    ``spine.fill_spine`` places its guesses with v = 1, and a guess on the straight
    hip-neck line is a function of the body points: it adds nothing to learn from.
    """
    idx = [skeleton.keypoints.index(n) for n in SPINE_CHAIN[1:-1] if n in skeleton.keypoints]
    return bool(idx) and bool((np.asarray(keypoints)[:, idx, 2] >= 2).any())


@dataclass
class SelectedModel:
    """What ``train_selected`` returns: the fitted net, the selection and the extra inputs it reads."""

    net: FormFeatureNet
    selection: Selection
    extra_inputs: list[tuple[str, int]]     # (name, width) in the order of the ``extra`` input columns

    def extra_matrix(self, extra: Mapping[str, np.ndarray] | None, n: int) -> np.ndarray | None:
        """The (N, D) ``extra`` input for n rows, or None when the chosen configuration reads none."""
        if not self.extra_inputs:
            return None
        if extra is None or any(name not in extra for name, _ in self.extra_inputs):
            raise ValueError(f"this classifier reads extra inputs {[nm for nm, _ in self.extra_inputs]}")
        cols = [np.asarray(extra[name], np.float32).reshape(n, -1) for name, _ in self.extra_inputs]
        return np.concatenate(cols, axis=1)


def train_selected(features: np.ndarray, y: np.ndarray, clip_ids: Sequence[str], num_classes: int,
                   skeleton: Skeleton, keypoints: np.ndarray | None = None,
                   extra: Mapping[str, np.ndarray] | None = None, candidates: Sequence[Candidate] | None = None,
                   inner_folds: int = 4, steps: int = 300, seed: int = 0,
                   progress: ProgressFn = no_progress) -> SelectedModel:
    """Select by inner clip-grouped CV on these rows, then fit the choice on all of them.

    features (N, K, 3) ``pose_features``; y (N,) class indices; clip_ids (N,); keypoints (N, K, 3)
    in pixels (only to tell whether spine points are labelled); extra: name -> (N, D).
    """
    extra = {k: np.asarray(v, np.float32).reshape(len(y), -1) for k, v in (extra or {}).items()}
    data = FormArrays(np.asarray(features, np.float32), np.asarray(y), np.asarray([str(c) for c in clip_ids]), extra)
    if candidates is None:
        spine = keypoints is not None and spine_labelled(keypoints, skeleton)
        candidates = default_candidates(skeleton, sorted(extra), spine_labelled=spine)
    settings = FitSettings(steps=steps, seed=seed)
    progress(0.0, f"choosing among {len(candidates)} configurations by {inner_folds}-fold clip-grouped CV")
    selection = select(data, candidates, skeleton, num_classes, inner_folds, seed, settings)
    progress(0.9, f"chose {selection.chosen.name} (inner macro F1 {selection.score:.3f}); fitting on all rows")
    net = fit_candidate(data, selection.chosen, skeleton, num_classes, settings)
    return SelectedModel(net, selection, [(n, int(extra[n].shape[1])) for n in selection.chosen.extra])
