"""Annotation quality on a copy of barbell-row: label checks against injected errors, and simulated
annotators of known accuracy answering gold honeypots.

A scratch database gets barbell-row imported (bench/label_checks.py's set-up: both tasks, form labels
from the task; the shared dataset files are never changed). Two parts (BENCH_QUALITY_PARTS, default
"annotators,checks"):

annotators: every verified frame is marked gold (annotations.gold.marking, the PI's action) and the
honeypot rate set to 1, so every claim of the "uncertain" queue serves a gold frame blind. Simulated
annotators then work through the real code: annotations.gold.serving.claim_next serves the frame,
annotations.gold.attempts.create_draft saves their points and label, attempts.submit scores them, and
annotations.gold.accuracy.per_annotator reports their mean OKS and form agreement. Each annotator places
every gold point with Gaussian noise of `noise` x sqrt(gold area) px per coordinate, leaves a point out
with probability `miss`, places a left/right pair crossed with probability `swap`, and picks the other
form label with probability `wrong_label`. Their true accuracy is the expectation of the same OKS over all
gold frames, worked out in closed form (not sampled): for a point with gold position g, an answer centred
on g + mu with isotropic noise s^2 per coordinate has
    E[exp(-|d|^2 t)] = exp(-t |mu|^2 / (1 + 2 t s^2)) / (1 + 2 t s^2),  t = 1 / (2 area (2 sigma)^2),
mu = 0, or the partner's offset when crossed; a missed point scores 0. The measured figure after 10, 25
and 50 gold frames is compared with it, for BENCH_ANNOTATOR_REPEATS (default 5) independent people per
profile (each served their own random 50 frames).

checks: errors are injected into the verified annotations (bench/label_checks.py's inject: left/right
swaps, points moved by 10-30 % of the box diagonal, wrong form labels) at each of BENCH_QUALITY_RATES
(default 0.02,0.05,0.1) per annotation, for each of BENCH_QUALITY_SEEDS (comma-separated; default the
45 held-out seeds 2,4,6,7,8, 101-120 and 201-220: the checks' thresholds were tuned on seeds 1, 3, 5 and
11-40, never on these), and every check is scored (per seed, as bench/label_checks.py prints), then
pooled over the seeds per rate. Precision is also given over the "new" flags only: those not raised on
the untouched data (4 flags there since the pair and partner refinements of
annotations/quality/pose_checks.py, 15 before them, 25 before the first ones; some may be real errors of
the dataset, which the raw precision counts as false).

Prints one JSON object per line.

    .venv/bin/python -m webapp.dev bench bench/annotation_quality.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.label_checks import DATASET, emit, inject, score, setup_project  # noqa: E402
from bench.scratch_db import django_on_scratch_database  # noqa: E402

BENCH_DB = os.environ.get("BENCH_QUALITY_DB", "posereview_bench_annotation_quality")
PARTS = os.environ.get("BENCH_QUALITY_PARTS", "annotators,checks").split(",")
RATES = [float(r) for r in os.environ.get("BENCH_QUALITY_RATES", "0.02,0.05,0.1").split(",")]
HELD_OUT_SEEDS = [2, 4, 6, 7, 8, *range(101, 121), *range(201, 221)]
SEEDS = [int(s) for s in os.environ.get("BENCH_QUALITY_SEEDS", ",".join(map(str, HELD_OUT_SEEDS))).split(",")]
REPEATS = int(os.environ.get("BENCH_ANNOTATOR_REPEATS", "5"))
GOLD_FRAMES = int(os.environ.get("BENCH_GOLD_FRAMES", "50"))
CHECKPOINTS = (10, 25, GOLD_FRAMES)
TOLERANCE = 0.05
QUEUE = "uncertain"
# name: noise (share of sqrt(gold area), per coordinate), miss, swap (per labelled pair), wrong_label
PROFILES = {
    "careful": (0.01, 0.0, 0.0, 0.02),
    "typical": (0.03, 0.02, 0.03, 0.05),
    "hurried": (0.06, 0.05, 0.08, 0.10),
    "poor": (0.10, 0.12, 0.15, 0.25),
}


def expected_oks(gold: np.ndarray, area: float, sigmas: np.ndarray, pairs: list[tuple[int, int]],
                 noise: float, miss: float, swap: float) -> float:
    """The mean per-keypoint OKS a profile is expected to score on one gold pose (K, 3), in closed form."""
    labelled = gold[:, 2] > 0
    t = 1.0 / (2.0 * (area + np.spacing(1)) * (2 * sigmas) ** 2)  # (K,)
    s2 = (noise ** 2) * area
    shrink = 1.0 + 2.0 * t * s2
    offset2 = np.zeros(len(gold))
    crossable = np.zeros(len(gold), dtype=bool)
    for a, b in pairs:
        if labelled[a] and labelled[b]:
            crossable[a] = crossable[b] = True
            offset2[a] = offset2[b] = float(((gold[a, :2] - gold[b, :2]) ** 2).sum())
    straight = 1.0 / shrink
    crossed = np.exp(-t * offset2 / shrink) / shrink
    p_swap = np.where(crossable, swap, 0.0)
    per_point = (1.0 - miss) * ((1.0 - p_swap) * straight + p_swap * crossed)
    return float(per_point[labelled].mean())


def answer(gold: np.ndarray, area: float, pairs: list[tuple[int, int]], profile: tuple, rng) -> np.ndarray:
    """A simulated person's points (K, 3) for a gold pose (K, 3): crossed pairs, noise, missed points."""
    noise, miss, swap, _ = profile
    labelled = gold[:, 2] > 0
    out = gold.copy()
    for a, b in pairs:
        if labelled[a] and labelled[b] and rng.random() < swap:
            out[[a, b], :2] = out[[b, a], :2]
    out[:, :2] += rng.normal(0.0, noise * np.sqrt(area), size=(len(gold), 2))
    out[:, 2] = np.where(labelled, 2, 0)
    gone = labelled & (rng.random(len(gold)) < miss)
    out[gone] = 0
    out[~labelled] = 0
    return out


def annotators(project) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotations.gold import accuracy, attempts, marking, serving
    from annotations.models import GoldFrame, Membership, Role
    from annotations.quality.records import verified_annotations

    pi = project.memberships.get(role=Role.PI).user
    frames = list(verified_annotations(project).filter(instance=0).values_list("frame_id", flat=True))
    result = marking.mark(project, frames, pi)
    marking.set_rate(project, 1.0)
    golds = list(GoldFrame.objects.filter(project=project, active=True))
    emit("gold_frames", len(golds), "frames", refused=len(result["refused"]))
    sigmas = np.asarray(project.skeleton["sigmas"], dtype=float)
    pairs = [tuple(p) for p in project.skeleton["flip_pairs"]]
    K = len(sigmas)
    labels = list(project.form_labels.values_list("name", flat=True))
    gold_pose = {g.frame_id: (np.asarray(g.keypoints, dtype=float).reshape(K, 3), g.area, g.form_label)
                 for g in golds}
    errors: dict[str, list[float]] = {name: [] for name in PROFILES}
    User = get_user_model()
    for name, profile in PROFILES.items():
        truth = float(np.mean([expected_oks(kp, area, sigmas, pairs, *profile[:3])
                               for kp, area, _ in gold_pose.values()]))
        labelled_gold = [lab for _, _, lab in gold_pose.values() if lab]
        truth_form = 1.0 - profile[3] if labelled_gold else None
        for rep in range(REPEATS):
            rng = np.random.default_rng(1000 * rep + len(name))
            user = User.objects.create_user(f"{name}-{rep}", password="x")
            Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
            with connection.cursor() as cur:  # the honeypot's frame is drawn by PostgreSQL's random()
                cur.execute("SELECT setseed(%s)", [(rep * 7 + len(name)) / 100.0])
            measured = {}
            for n in range(1, GOLD_FRAMES + 1):
                item = serving.claim_next(project, QUEUE, user)
                if item is None:
                    emit("gold_frames_ran_out", n - 1, "frames", annotator=user.username)
                    break
                attempt = attempts.open_attempt(item.frame, user)
                assert attempt is not None, "the claim served a frame that is not a honeypot"
                kp, area, gold_label = gold_pose[item.frame_id]
                pts = answer(kp, area, pairs, profile, rng)
                label = gold_label or None
                if gold_label and rng.random() < profile[3]:
                    label = next(x for x in labels if x != gold_label)
                data = {"keypoints": [round(float(v), 2) for v in pts.reshape(-1)], "form_label": label}
                attempts.submit(attempts.create_draft(attempt, user, data), user)
                if n in CHECKPOINTS:
                    row = accuracy.per_annotator(project, user.username)[0]
                    measured[n] = (row["mean_oks"], row["form_agreement"])
            final = measured.get(GOLD_FRAMES, (None, None))
            if final[0] is not None:
                errors[name].append(abs(final[0] - truth))
            emit("annotator_accuracy", final[0], "mean OKS", annotator=user.username, profile=name,
                 truth=round(truth, 4), error=round(final[0] - truth, 4) if final[0] is not None else None,
                 **{f"after_{n}": m[0] for n, m in measured.items()},
                 form_agreement=final[1], form_truth=truth_form)
        errs = errors[name]
        emit("annotator_accuracy_error", round(max(errs), 4) if errs else None, "max |measured - truth|",
             profile=name, truth=round(truth, 4), people=len(errs), gold_frames_each=GOLD_FRAMES,
             within_tolerance=sum(e <= TOLERANCE for e in errs), tolerance=TOLERANCE,
             mean_abs_error=round(float(np.mean(errs)), 4) if errs else None)


def pooled(tallies: list[dict], rate: float) -> None:
    for kind in ("swap", "displacement", "form"):
        found, injected, true, flags, true_new, new = np.sum([t[kind] for t in tallies], axis=0).tolist()
        emit(f"{kind}_pooled", round(found / injected, 3) if injected else None, "recall", rate=rate,
             seeds=SEEDS, found=found, injected=injected,
             precision=round(true / flags, 3) if flags else None, flags=flags,
             precision_new_flags=round(true_new / new, 3) if new else None, new_flags=new)


def checks_part(project) -> None:
    from annotations.models import Annotation
    from annotations.quality import checks
    from annotations.quality.records import verified_annotations

    ids = list(verified_annotations(project).values_list("pk", flat=True))
    originals = {a.pk: (list(a.keypoints), list(a.bbox), a.form_label_id)
                 for a in Annotation.objects.filter(pk__in=ids)}
    clean = checks.check_labels(project)["flags"]
    baseline = frozenset((f["annotation"], f["kind"], tuple(f["keypoints"])) for f in clean)
    emit("annotations", len(ids), "annotations")
    emit("flags_before_injection", len(clean), "flags")
    for rate in RATES:
        tallies = []
        for seed in SEEDS:
            truth = inject(project, originals, seed, rate)
            tallies.append(score(checks.check_labels(project)["flags"], truth, seed, rate, baseline))
        pooled(tallies, rate)


def main() -> None:
    if not DATASET.is_dir():
        emit("skipped", f"barbell-row not found at {DATASET}", "")
        return
    django_on_scratch_database(BENCH_DB)
    project = setup_project()
    if "annotators" in PARTS:  # first: the gold is frozen from the untouched labels
        annotators(project)
    if "checks" in PARTS:
        checks_part(project)


if __name__ == "__main__":
    main()
