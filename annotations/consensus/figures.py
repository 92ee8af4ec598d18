"""How much people agree across a project's finished consensus frames: Krippendorff's alpha of their
form labels, and the mean pairwise OKS per keypoint."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from django.db.models import Count

from annotations.consensus.building import krippendorff_alpha
from annotations.models import ConsensusFrame, ConsensusVote

FINISHED = (ConsensusFrame.Status.AGREED, ConsensusFrame.Status.DISPUTED)


def summary(project) -> dict:
    """{people, threshold, frames (per status), form_alpha, oks_per_keypoint {name: mean or None}}."""
    counts = dict(ConsensusFrame.objects.filter(project=project).values_list("status").annotate(n=Count("id")))
    labels: dict[int, list[str]] = defaultdict(list)
    for consensus_id, label in (ConsensusVote.objects.filter(
            project=project, status=ConsensusVote.Status.SUBMITTED, consensus__status__in=FINISHED)
            .exclude(form_label="").values_list("consensus_id", "form_label")):
        labels[consensus_id].append(label)
    names = project.skeleton["keypoints"]
    per_kpt: list[list[float]] = [[] for _ in names]
    for values in ConsensusFrame.objects.filter(project=project, status__in=FINISHED).values_list(
            "oks_per_keypoint", flat=True):
        for k, v in enumerate(values[:len(names)]):
            if v is not None:
                per_kpt[k].append(v)
    return {"people": project.consensus_people, "threshold": project.consensus_threshold,
            "frames": {s.value: counts.get(s.value, 0) for s in ConsensusFrame.Status},
            "form_alpha": krippendorff_alpha(list(labels.values())),
            "oks_per_keypoint": {n: round(float(np.mean(v)), 4) if v else None for n, v in zip(names, per_kpt)}}


def votes_of(cf: ConsensusFrame) -> list[dict]:
    """The submitted votes of a consensus frame: each person's keypoints and form label."""
    return [{"user": v.user.get_username(), "keypoints": v.keypoints, "keypoint_states": v.keypoint_states,
             "form_label": v.form_label or None, "submitted_at": v.submitted_at.isoformat()}
            for v in cf.votes.filter(status=ConsensusVote.Status.SUBMITTED).select_related("user")
            if v.submitted_at is not None]
