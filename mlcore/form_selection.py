"""Choosing a form classifier's configuration by clip-grouped cross-validation on its training data.

With a few clips, a feature set or model chosen on the folds it is scored on
looks better than it is. Here the choice is part of training: ``select`` runs an
inner clip-grouped CV over a small grid of ``Candidate`` configurations using
only the rows it is given, and ``fit_candidate`` then trains the chosen one on
all of them. ``form_nested_cv`` wraps both in outer folds to measure the whole
procedure on clips it never saw.

A candidate is: keypoint feature sets (``form_features``) and named extra
per-frame inputs (N, D), a head (logistic regression when ``hidden`` = 0, else
one hidden layer), an L2 strength, and a clip pooling ("none" or "mean" of the
frame probabilities of a clip) used when clip ids are known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics
from .form import clip_mean_probs
from .form_features import supported_feature_sets
from .nets.form_feature_net import FormFeatureNet
from .skeletons import Skeleton

POOLINGS = ("none", "mean")


@dataclass(frozen=True)
class Candidate:
    """One configuration: what the classifier reads, how big it is, how hard it is held back."""

    features: tuple[str, ...]
    hidden: int = 0                 # 0: logistic regression
    l2: float = 1e-2                # penalty on the squared weights (standardised inputs)
    pooling: str = "mean"           # "none" | "mean": how a clip's frames are read together
    extra: tuple[str, ...] = ()     # names of extra (N, D) inputs, in this order

    @property
    def name(self) -> str:
        head = f"mlp{self.hidden}" if self.hidden else "logreg"
        return f"{'+'.join(self.features + self.extra)}/{head}/l2={self.l2:g}/pool={self.pooling}"

    @property
    def fit_key(self) -> tuple[object, ...]:
        """Candidates equal in everything but pooling share one fitted model."""
        return (self.features, self.extra, self.hidden, self.l2)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["features"], out["extra"], out["name"] = list(self.features), list(self.extra), self.name
        return out


def default_candidates(skeleton: Skeleton, extra_names: Sequence[str] = (), spine_labelled: bool = False
                       ) -> list[Candidate]:
    """The grid the shipped training searches: small on purpose (each candidate is a chance to overfit the folds).

    Feature sets: geometry, trunk, both; with ``spine_labelled`` (people or a model placed the spine
    points, not ``spine.fill_spine``) also spine and trunk + spine; each extra input alone and with
    trunk. Heads: logistic regression with weak and strong L2, one hidden layer of 16. Poolings: both.
    Simpler candidates come first: ties go to them.
    """
    sets = supported_feature_sets(skeleton)
    combos: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    if "geometry" in sets:
        combos += [(("geometry",), ()), (("trunk",), ()), (("geometry", "trunk"), ())]
    if spine_labelled and "spine" in sets:
        combos += [(("spine",), ()), (("trunk", "spine"), ())]
    for name in extra_names:
        combos += [((), (name,))] + ([(("trunk",), (name,))] if "trunk" in sets else [])
    if not combos:
        raise ValueError(f"skeleton {skeleton.name!r} supports no form feature set and no extra inputs were given")
    heads = [(0, 1.0), (0, 1e-2), (16, 1e-2)]
    return [Candidate(features=f, extra=e, hidden=h, l2=l2, pooling=p)
            for p in POOLINGS for h, l2 in heads for f, e in combos]


@dataclass
class FormArrays:
    """What selection and fitting read. features (N, K, 3) ``pose_features``; y (N,) class indices;
    clips (N,) clip ids; extra: name -> (N, D) float arrays aligned with the rows."""

    features: np.ndarray
    y: np.ndarray
    clips: np.ndarray
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> FormArrays:
        return FormArrays(self.features[idx], self.y[idx], self.clips[idx], {k: v[idx] for k, v in self.extra.items()})


@dataclass
class FitSettings:
    """Head training: full batch, Adam, class-balanced cross-entropy + L2 on weights, fixed steps."""

    steps: int = 300
    lr: float = 0.03
    dropout: float = 0.2
    seed: int = 0


# Called with the rows a fit (or a selection) is about to see; tests use it to prove what was seen.
SeenHook = Callable[[str, FormArrays], None]


def build_candidate_net(candidate: Candidate, skeleton: Skeleton, num_classes: int, extra_dims: Mapping[str, int],
                        settings: FitSettings) -> FormFeatureNet:
    dim = int(sum(extra_dims[n] for n in candidate.extra))
    return FormFeatureNet(skeleton, candidate.features, num_classes, extra_dim=dim, hidden=candidate.hidden,
                          dropout=settings.dropout)


def raw_features(net: FormFeatureNet, data: FormArrays, candidate: Candidate) -> np.ndarray:
    """The net's unstandardised features of ``data``: (N, F) float32 (pure function of each row)."""
    extra = (torch.from_numpy(np.concatenate([np.asarray(data.extra[n], np.float32) for n in candidate.extra], 1))
             if candidate.extra else None)
    with torch.no_grad():
        out: np.ndarray = net.raw_features(torch.from_numpy(np.asarray(data.features, np.float32)), extra).numpy()
    return out


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run tiny full-batch fits on one thread (restored after): on a shared CPU more threads only spin-wait."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_head(net: FormFeatureNet, feats: np.ndarray, y: np.ndarray, num_classes: int, l2: float,
             settings: FitSettings) -> None:
    """Fit the scaler and head of ``net`` on raw features (N, F) and labels (N,), in place."""
    torch.manual_seed(settings.seed)
    x = torch.from_numpy(feats).float()
    t = torch.from_numpy(np.asarray(y)).long()
    net.fit_input_scaler(x)
    counts = np.bincount(np.asarray(y), minlength=num_classes).astype(np.float64)
    weight = torch.tensor(len(y) / (num_classes * np.maximum(counts, 1)), dtype=torch.float32)
    params = list(net.head.parameters())
    weights = [p for p in params if p.ndim > 1]
    opt = torch.optim.Adam(params, lr=settings.lr)
    net.train()
    for _ in range(settings.steps):
        penalty = torch.stack([(w ** 2).sum() for w in weights]).sum()
        loss = F.cross_entropy(net.head_logits(x), t, weight=weight) + l2 * penalty
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    net.eval()


def fit_candidate(data: FormArrays, candidate: Candidate, skeleton: Skeleton, num_classes: int,
                  settings: FitSettings | None = None, seen: SeenHook | None = None) -> FormFeatureNet:
    """Train ``candidate`` on every row of ``data``; returns the net (eval mode, cpu)."""
    settings = settings or FitSettings()
    if seen is not None:
        seen("fit", data)
    net = build_candidate_net(candidate, skeleton, num_classes, {k: v.shape[1] for k, v in data.extra.items()},
                              settings)
    with one_torch_thread():
        fit_head(net, raw_features(net, data, candidate), data.y, num_classes, candidate.l2, settings)
    return net


def predict_candidate(net: FormFeatureNet, data: FormArrays, candidate: Candidate) -> np.ndarray:
    """Frame probabilities (N, C) of a fitted candidate net (no pooling)."""
    with torch.no_grad():
        out: np.ndarray = torch.softmax(net.head_logits(torch.from_numpy(raw_features(net, data, candidate))),
                                        -1).numpy()
    return out


def pooled(probs: np.ndarray, clips: Sequence[object], pooling: str) -> np.ndarray:
    """Frame probabilities (N, C) read with a pooling: "none" as they are, "mean" their clip's mean."""
    if pooling == "none":
        return probs
    if pooling == "mean":
        return clip_mean_probs(probs, clips)
    raise ValueError(f"unknown pooling {pooling!r}; choose from {POOLINGS}")


def inner_clip_folds(data: FormArrays, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Clip-grouped folds of ``data`` whose every training part holds every class: at most k, at least 2.

    Fewer folds are tried when k leaves a class out of some training part; [] when even 2 do.
    """
    classes = set(data.y.tolist())
    for n in range(min(k, len(set(data.clips.tolist()))), 1, -1):
        folds = metrics.group_kfold(data.clips, n, seed=seed, labels=data.y)
        if len(classes) > 1 and all(set(data.y[tr].tolist()) == classes for tr, _ in folds):
            return folds
    return []


@dataclass
class Selection:
    """The chosen candidate, its inner score and every candidate's score (inner out-of-fold macro F1)."""

    chosen: Candidate
    score: float
    scores: dict[str, float]
    inner_folds: int
    inner_clips: int

    def to_dict(self) -> dict[str, object]:
        return {"chosen": self.chosen.to_dict(), "inner_score": None if np.isnan(self.score) else round(self.score, 4),
                "inner_metric": "macro F1 of out-of-fold frames (after the candidate's pooling)",
                "inner_folds": self.inner_folds, "inner_clips": self.inner_clips,
                "inner_scores": {k: round(v, 4) for k, v in self.scores.items()}}


def select(data: FormArrays, candidates: Sequence[Candidate], skeleton: Skeleton, num_classes: int,
           inner_folds: int = 4, seed: int = 0, settings: FitSettings | None = None,
           seen: SeenHook | None = None) -> Selection:
    """Pick the candidate with the best inner clip-grouped CV score, using the rows of ``data`` only.

    Inner folds: ``metrics.group_kfold`` over data's clips (stratified by label, no clip in two
    folds); every candidate's out-of-fold frame probabilities are pooled as it says and scored
    once over all inner folds (macro F1). Ties go to the earlier candidate.
    """
    if not candidates:
        raise ValueError("no candidates to select from")
    settings = settings or FitSettings(seed=seed)
    if seen is not None:
        seen("select", data)
    n_clips = len(set(data.clips.tolist()))
    folds = inner_clip_folds(data, inner_folds, seed)
    if not folds:       # too few clips of some class to hold one out: nothing to choose on
        return Selection(candidates[0], float("nan"), {}, 0, n_clips)
    k = len(folds)
    oof: dict[tuple[object, ...], np.ndarray] = {}
    for cand in candidates:
        if cand.fit_key in oof:
            continue
        probs = np.zeros((len(data), num_classes))
        for tr, va in folds:
            net = fit_candidate(data.subset(tr), cand, skeleton, num_classes, settings, seen)
            probs[va] = predict_candidate(net, data.subset(va), cand)
        oof[cand.fit_key] = probs
    labels = list(range(num_classes))
    scores: dict[str, float] = {}
    for cand in candidates:
        pred = pooled(oof[cand.fit_key], data.clips.tolist(), cand.pooling).argmax(1)
        scores[cand.name] = float(metrics.classification_report(data.y.tolist(), pred.tolist(), labels)["f1_macro"])
    best = max(range(len(candidates)), key=lambda i: (scores[candidates[i].name], -i))
    return Selection(candidates[best], scores[candidates[best].name], scores, k, n_clips)
