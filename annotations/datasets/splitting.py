"""Clip-grouped, label-stratified, deterministic train/val/test splits, stable as clips are added.

Whole clips only: every frame of a clip lands in one subset, so no frame of a test clip is
ever trained on. Clips are stratified by their form label (the majority label of their
annotations; clips without any form one more stratum). A new split version keeps every
assignment of its parent and places only clips the parent did not have.
"""

from __future__ import annotations

import random
from collections import Counter

from django.db import connection, transaction
from django.db.models import Count

from annotations.core.copying import ANALYZE_AFTER_ROWS, analyze
from annotations.core.errors import InputError
from annotations.models import Annotation, Clip, ClipSplit, Frame, SplitVersion, Subset

SUBSETS = (Subset.TRAIN.value, Subset.VAL.value, Subset.TEST.value)
DEFAULT_RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}


def validate_ratios(ratios: dict) -> dict[str, float]:
    try:
        out = {s: float(ratios.get(s, 0.0)) for s in SUBSETS}
    except (TypeError, ValueError) as exc:
        raise InputError(f"split ratios must be numbers: {exc}") from exc
    if any(v < 0 for v in out.values()) or abs(sum(out.values()) - 1.0) > 1e-6:
        raise InputError(f"split ratios must be non-negative and sum to 1, got {out}")
    return out


def target_counts(n: int, ratios: dict[str, float]) -> dict[str, int]:
    """Largest-remainder apportionment of n clips to subsets (ties: test, val, train)."""
    exact = {s: n * ratios[s] for s in SUBSETS}
    counts = {s: int(exact[s]) for s in SUBSETS}
    order = sorted(SUBSETS, key=lambda s: (-(exact[s] - counts[s]), -SUBSETS.index(s)))
    for s in order[: n - sum(counts.values())]:
        counts[s] += 1
    return counts


def assign_clips(clip_labels: dict[str, str | None], ratios: dict[str, float], seed: int,
                 existing: dict[str, str] | None = None) -> dict[str, str]:
    """{clip key: subset} for every clip in clip_labels.

    Clips in `existing` keep their subset; new clips of each label stratum fill the subsets
    furthest below their share of that stratum. Deterministic in (clips, ratios, seed, existing).
    """
    existing = existing or {}
    out = {k: v for k, v in existing.items() if k in clip_labels}
    strata: dict[str | None, list[str]] = {}
    for key, label in clip_labels.items():
        strata.setdefault(label, []).append(key)
    for label in sorted(strata, key=lambda x: (x is None, x or "")):
        keys = sorted(strata[label])
        new = [k for k in keys if k not in out]
        if not new:
            continue
        random.Random(f"{seed}:{label}").shuffle(new)
        have = Counter(out[k] for k in keys if k in out)
        targets = target_counts(len(keys), ratios)
        for key in new:
            # the subset with the largest shortfall against its target; ties by ratio, then name order
            subset = max(SUBSETS, key=lambda s: (targets[s] - have[s], ratios[s], -SUBSETS.index(s)))
            out[key] = subset
            have[subset] += 1
    return out


def clip_labels(project) -> dict[str, str | None]:
    """{clip key: majority form label of its annotations, or None}."""
    labels: dict[str, str | None] = {key: None for key in
                                     Clip.objects.filter(project=project).values_list("key", flat=True)}
    rows = (Annotation.objects.filter(project=project, form_label__isnull=False)
            .values("frame__clip__key", "form_label__name").annotate(n=Count("id"))
            .order_by("frame__clip__key", "-n", "form_label__name"))
    seen = set()
    for row in rows:
        key = row["frame__clip__key"]
        if key not in seen:
            labels[key] = row["form_label__name"]
            seen.add(key)
    return labels


def create_split(project, *, ratios: dict | None = None, seed: int = 42, fresh: bool = False, user=None,
                 job=None) -> SplitVersion:
    """A new split version: the parent's assignments kept (unless fresh), new clips placed."""
    ratios = validate_ratios(ratios or DEFAULT_RATIOS)
    with transaction.atomic():
        parent = None if fresh else SplitVersion.current(project)
        existing = {}
        if parent:
            existing = dict(ClipSplit.objects.filter(version=parent).values_list("clip__key", "subset"))
        labels = clip_labels(project)
        assignment = assign_clips(labels, ratios, seed, existing)
        number = (SplitVersion.objects.filter(project=project).order_by("-number").values_list("number", flat=True)
                  .first() or 0) + 1
        version = SplitVersion.objects.create(project=project, number=number, parent=parent, seed=seed,
                                              ratios=ratios, created_by=user)
        clip_ids = dict(Clip.objects.filter(project=project).values_list("key", "id"))
        ClipSplit.objects.bulk_create(
            [ClipSplit(version=version, clip_id=clip_ids[k], subset=s) for k, s in assignment.items()], batch_size=5000)
        with connection.cursor() as cur:
            # Frame.split mirrors the newest version, for fast filtering in queues and pages.
            cur.execute(
                f"UPDATE {Frame._meta.db_table} f SET split = cs.subset FROM {ClipSplit._meta.db_table} cs "
                "WHERE cs.version_id = %s AND f.clip_id = cs.clip_id AND f.split IS DISTINCT FROM cs.subset",
                [version.pk],
            )
        if len(assignment) - len(existing) >= ANALYZE_AFTER_ROWS // 10:
            analyze(ClipSplit, Frame)
        version.summary = split_summary(project, version, labels, assignment, existing)
        version.save(update_fields=["summary"])
    if job:
        job.report(1.0, f"split v{version.number}: " + ", ".join(
            f"{s} {version.summary['subsets'][s]['clips']} clips" for s in SUBSETS))
    return version


def split_summary(project, version, labels, assignment, existing) -> dict:
    frame_rows = (Frame.objects.filter(project=project, clip__split_assignments__version=version)
                  .values("clip__split_assignments__subset").annotate(n=Count("id", distinct=True)))
    frames = {r["clip__split_assignments__subset"]: r["n"] for r in frame_rows}
    anns = (Annotation.objects.filter(project=project, frame__clip__split_assignments__version=version)
            .values("frame__clip__split_assignments__subset", "form_label__name").annotate(n=Count("id")))
    per_label: dict[str, dict] = {s: {} for s in SUBSETS}
    for r in anns:
        per_label[r["frame__clip__split_assignments__subset"]][r["form_label__name"] or "unlabelled"] = r["n"]
    subsets = {
        s: {
            "clips": sum(1 for v in assignment.values() if v == s),
            "frames": frames.get(s, 0),
            "annotations": sum(per_label[s].values()),
            "annotations_by_label": per_label[s],
            "clips_by_label": dict(Counter(str(labels[k]) for k, v in assignment.items() if v == s)),
        }
        for s in SUBSETS
    }
    return {"subsets": subsets, "kept": len(existing), "assigned": len(assignment) - len(existing)}
