"""Nested clip-grouped cross-validation of the whole form-training procedure (selection included).

Outer folds (``metrics.group_kfold``: clips whole, classes spread) hold clips out;
inside each outer training set ``form_selection.select`` chooses a configuration by
its own inner clip-grouped CV and ``fit_candidate`` trains it on the whole outer
training set; only then are the outer test clips predicted. Only outer-fold figures
are reported, each beside two constant answers on the same folds: the training
fold's majority class, and always the positive class.

Figures per outer fold and, per repeat (fold seed), over all outer test frames
pooled: frame-level (each frame's own probabilities) positive-class F1, accuracy
and macro F1; the same after the chosen clip pooling ("pooled"); clip-level accuracy
(a clip's answer = the mean of its frames' probabilities, one vote per clip).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .form import clip_mean_probs
from .form_selection import (
    Candidate,
    FitSettings,
    FormArrays,
    SeenHook,
    fit_candidate,
    pooled,
    predict_candidate,
    select,
)
from .skeletons import Skeleton

METRICS = ("f1", "accuracy", "f1_macro")


def clip_accuracy(probs: np.ndarray, y: np.ndarray, clips: Sequence[object]) -> float:
    """Share of clips whose mean frame probability (N, C) picks their label; y (N,) indices, clips (N,)."""
    clips_arr = np.asarray([str(c) for c in clips])
    mean = clip_mean_probs(probs, clips_arr.tolist())
    hits = [bool(mean[clips_arr == c][0].argmax() == np.bincount(y[clips_arr == c]).argmax())
            for c in sorted(set(clips_arr.tolist()))]
    return float(np.mean(hits)) if hits else float("nan")


def score(probs: np.ndarray, y: np.ndarray, clips: Sequence[object], classes: Sequence[str], positive: str,
          pooling: str) -> dict[str, float]:
    """Outer figures of frame probabilities (N, C) against y (N,): frame, pooled frame and clip level."""
    out: dict[str, float] = {}
    for prefix, p in (("frame", probs), ("pooled", pooled(probs, clips, pooling))):
        rep = metrics.classification_report([classes[i] for i in y], [classes[i] for i in p.argmax(1)],
                                            list(classes), positive=positive)
        out.update({f"{prefix}_{m}": float(rep[m]) for m in METRICS})
    out["clip_accuracy"] = clip_accuracy(probs, y, clips)
    return out


def constant_probs(n: int, num_classes: int, answer: int) -> np.ndarray:
    """(n, C) one-hot probabilities of one constant answer."""
    probs = np.zeros((n, num_classes))
    probs[:, answer] = 1.0
    return probs


@dataclass
class OuterFold:
    """One outer fold of one repeat: sizes, the selection made inside it, and the test figures."""

    repeat: int
    fold: int
    train_clips: list[str]
    test_clips: list[str]
    selection: dict[str, object]
    model: dict[str, float]
    majority: dict[str, float]
    always_positive: dict[str, float]


@dataclass
class NestedCVResult:
    folds: list[OuterFold] = field(default_factory=list)
    # repeat -> reading ("model" | "majority" | "always_positive") -> figures over the pooled outer test frames
    repeats: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """reading -> figure -> {mean, std over repeats (pooled folds), fold_mean, fold_std over every outer fold}."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for reading in ("model", "majority", "always_positive"):
            keys = list(next(iter(self.repeats.values()))[reading]) if self.repeats else []
            out[reading] = {}
            for key in keys:
                per_rep = np.array([r[reading][key] for r in self.repeats.values()])
                per_fold = np.array([getattr(f, reading)[key] for f in self.folds])
                out[reading][key] = {"mean": float(np.mean(per_rep)), "std": float(np.std(per_rep)),
                                     "fold_mean": float(np.nanmean(per_fold)), "fold_std": float(np.nanstd(per_fold))}
        return out

    def chosen_counts(self) -> dict[str, int]:
        """How often each candidate was chosen over all outer folds."""
        counts: dict[str, int] = {}
        for f in self.folds:
            name = str(f.selection["chosen"]["name"])  # type: ignore[index]
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def nested_cv(data: FormArrays, classes: Sequence[str], positive: str, skeleton: Skeleton,
              candidates: Sequence[Candidate], outer_folds: int = 5, inner_folds: int = 4,
              seeds: Sequence[int] = (0,), settings: FitSettings | None = None,
              seen: SeenHook | None = None, on_fold: object = None) -> NestedCVResult:
    """Measure selection + training on outer clip-grouped folds, repeated over fold seeds.

    data: every labelled frame (features (N, K, 3), y (N,), clips (N,), extra (N, D) each).
    ``seen(kind, rows)`` is called with every set of rows a selection or fit reads.
    ``on_fold(OuterFold)`` (a callable) is called after each outer fold.
    """
    num_classes, pos = len(classes), list(classes).index(positive)
    result = NestedCVResult()
    for seed in seeds:
        fold_settings = FitSettings(**{**(settings or FitSettings()).__dict__, "seed": seed})
        folds = metrics.group_kfold(data.clips, outer_folds, seed=seed, labels=data.y)
        oof = {r: np.zeros((len(data), num_classes)) for r in ("model", "majority", "always_positive")}
        pooled_oof = np.zeros((len(data), num_classes))
        for f, (tr, te) in enumerate(folds):
            train, test = data.subset(tr), data.subset(te)
            overlap = set(train.clips.tolist()) & set(test.clips.tolist())
            if overlap:
                raise AssertionError(f"outer fold {f} has clips on both sides: {sorted(overlap)}")
            sel = select(train, candidates, skeleton, num_classes, inner_folds, seed, fold_settings, seen)
            net = fit_candidate(train, sel.chosen, skeleton, num_classes, fold_settings, seen)
            probs = predict_candidate(net, test, sel.chosen)
            majority = int(np.bincount(train.y, minlength=num_classes).argmax())
            oof["model"][te] = probs
            pooled_oof[te] = pooled(probs, test.clips.tolist(), sel.chosen.pooling)
            oof["majority"][te] = constant_probs(len(te), num_classes, majority)
            oof["always_positive"][te] = constant_probs(len(te), num_classes, pos)
            fold = OuterFold(seed, f, sorted(set(train.clips.tolist())), sorted(set(test.clips.tolist())),
                             sel.to_dict(),
                             *(score(oof[r][te], test.y, test.clips.tolist(), classes, positive, sel.chosen.pooling)
                               for r in ("model", "majority", "always_positive")))
            result.folds.append(fold)
            if callable(on_fold):
                on_fold(fold)
        rep = {r: score(p, data.y, data.clips.tolist(), classes, positive, "none") for r, p in oof.items()}
        # The pooled reading uses each fold's own chosen pooling.
        pooled_rep = metrics.classification_report([classes[i] for i in data.y],
                                                   [classes[i] for i in pooled_oof.argmax(1)], list(classes),
                                                   positive=positive)
        rep["model"].update({f"pooled_{m}": float(pooled_rep[m]) for m in METRICS})
        result.repeats[seed] = rep
    return result
