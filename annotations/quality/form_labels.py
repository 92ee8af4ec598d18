"""Suspect form labels: out-of-fold probabilities from a clip-grouped logistic regression on the pose
geometry features (mlcore.form_features), averaged with the labels of the frame's clip-mates, read by
cleanlab's find_label_issues.

Folds keep every clip whole (a clip's frames are near copies of each other; a frame-random split
would let the model remember the clip and agree with any label). A frame is flagged when cleanlab
finds its given label unlikely under the model that never saw its clip. Needs at least two labels
and as many clips as folds; otherwise it reports why it did not run.
"""

from __future__ import annotations

import numpy as np
import torch
from cleanlab.filter import find_label_issues
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from annotations.quality.records import make_flag, verified_annotations
from mlcore.form import pose_features
from mlcore.form_features import FeatureStack, supported_feature_sets

FOLDS = 5
MODEL_WEIGHT = 0.25


def features(keypoints: np.ndarray, skeleton) -> np.ndarray:
    """(N, K, 3) pixel keypoints -> (N, F): the geometry set where the skeleton allows it, else the normalised pose."""
    pose = pose_features(keypoints, skeleton)
    if "geometry" in supported_feature_sets(skeleton):
        with torch.no_grad():
            return FeatureStack(skeleton, ["geometry"])(torch.from_numpy(pose)).numpy().astype(np.float64)
    return pose.reshape(len(pose), -1).astype(np.float64)


def out_of_fold_probabilities(x: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    classes = np.unique(labels)
    probs = np.zeros((len(labels), len(classes)))
    for train, test in GroupKFold(n_splits=folds).split(x, labels, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
        model.fit(x[train], labels[train])
        p = np.full((len(test), len(classes)), 1e-6)
        p[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(x[test])
        probs[test] = p / p.sum(1, keepdims=True)
    return probs


def clip_label_shares(labels: np.ndarray, groups: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, C): each frame's leave-one-out share of every label among its clip's other frames (add-one smoothed).

    A clip is filmed in one go and carries one form, so the clip's other labels are evidence too.
    """
    out = np.ones((len(labels), n_classes))
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        counts = np.bincount(labels[rows], minlength=n_classes).astype(np.float64)
        out[rows] += counts[None, :]
        out[rows, labels[rows]] -= 1.0  # leave the frame's own label out
    return out / out.sum(1, keepdims=True)


def form_label_flags(project) -> tuple[list[dict], dict]:
    """Flags {frame, file_name, annotation, version, kind: form_label, keypoints: [], reason, score} and a summary."""
    skeleton = project.get_skeleton()
    K = project.num_keypoints
    anns = [a for a in verified_annotations(project).filter(instance=0, form_label__isnull=False)]
    label_names = dict(project.form_labels.values_list("id", "name"))
    groups = np.array([a.frame.clip_id for a in anns])
    labels = np.array([a.form_label_id for a in anns])
    if len(set(labels.tolist())) < 2 or len(set(groups.tolist())) < FOLDS:
        return [], {"checked": False, "reason": f"needs two form labels and {FOLDS} clips with labelled frames"}
    kps = np.array([a.padded_keypoints(K)[0][:3 * K] for a in anns], dtype=np.float64).reshape(len(anns), K, 3)
    x = np.nan_to_num(features(kps, skeleton))
    classes, y = np.unique(labels, return_inverse=True)
    # The model's out-of-fold view of the pose, and what the rest of the clip says.
    model = out_of_fold_probabilities(x, y, groups)
    probs = MODEL_WEIGHT * model + (1 - MODEL_WEIGHT) * clip_label_shares(y, groups, len(classes))
    issues = find_label_issues(y, probs, return_indices_ranked_by="self_confidence")
    flags = []
    for i in issues:
        given, likely = label_names[int(classes[y[i]])], label_names[int(classes[int(np.argmax(probs[i]))])]
        reason = (f"form label {given!r} looks wrong: a model that never saw this clip, with the labels of "
                  f"the clip's other frames, gives it {probs[i, y[i]]:.0%} and {likely!r} {probs[i].max():.0%}")
        flags.append(make_flag(anns[i], "form_label", [], reason, 1.0 - probs[i, y[i]]))
    accuracy = float((model.argmax(1) == y).mean())
    return flags, {"checked": True, "frames": len(anns), "clips": len(set(groups.tolist())),
                   "out_of_fold_accuracy": round(accuracy, 3), "suspects": len(flags)}
