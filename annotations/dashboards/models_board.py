"""Models dashboard: per version quality on held-out clips, the trend over versions, the learning curves."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from annotations.dashboards.charts import bar, dataset, line, table
from annotations.models import ModelKind, ModelStatus, ModelVersion, SimulationRun


def _versions(project, kind: str):
    return list(ModelVersion.objects.filter(project=project, kind=kind, status=ModelStatus.READY)
                .exclude(metrics={}).order_by("number"))


def _num(v, digits: int = 4):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return round(v, digits) if np.isfinite(v) and v >= 0 else None


def versions_trend(project) -> dict:
    """One row per version number: keypoint OKS-AP, mean OKS, PCK; form F1 and accuracy."""
    kp = {v.number: v for v in _versions(project, ModelKind.KEYPOINTS)}
    fm = {v.number: v for v in _versions(project, ModelKind.FORM)}
    rows = []
    for n in sorted(set(kp) | set(fm)):
        k = kp[n].metrics.get("keypoints", {}) if n in kp else {}
        f = fm[n].metrics.get("form", {}) if n in fm else {}
        v = kp[n] if n in kp else fm[n]
        rows.append([n, v.get_source_display(), bool((n in kp and kp[n].is_active) or (n in fm and fm[n].is_active)),
                     v.training_frames, v.metrics.get("heldout_frames"),
                     _num((k.get("oks_ap") or {}).get("AP")), _num(k.get("mean_oks")), _num(k.get("pck@0.05")),
                     _num(k.get("pck@0.1")), _num(k.get("mean_pixel_error"), 2), _num(f.get("f1")),
                     _num(f.get("f1_macro")), _num(f.get("accuracy"))])
    columns = ["version", "source", "active", "training_frames", "heldout_frames", "oks_ap", "mean_oks",
               "pck@0.05", "pck@0.1", "mean_pixel_error", "form_f1_positive", "form_f1_macro", "form_accuracy"]
    labels = [f"v{r[0]}" for r in rows]
    sets = [dataset(name, [r[columns.index(col)] for r in rows], i)
            for i, (name, col) in enumerate([("OKS-AP", "oks_ap"), ("mean OKS", "mean_oks"), ("PCK@0.1", "pck@0.1"),
                                             ("form macro F1", "form_f1_macro"), ("form accuracy", "form_accuracy")])]
    return table("Quality over versions (held-out clips)", columns, rows,
                 line(labels, sets, y_title="quality (0-1)", y_max=1.0),
                 "each version measured on the held-out (test) clips of its split version" if rows
                 else "no model has been trained or measured yet")


def keypoint_errors(project) -> dict:
    """Mean pixel error per keypoint (every point of the skeleton, spine included) for recent versions."""
    names = list(project.skeleton["keypoints"])
    versions = _versions(project, ModelKind.KEYPOINTS)
    shown = versions[-3:]
    active = next((v for v in versions if v.is_active), None)
    if active is not None and active not in shown:
        shown = [active, *shown[-2:]]
    rows = []
    for v in versions:
        per = v.metrics.get("keypoints", {}).get("per_keypoint_mean_error", {})
        rows.append([f"v{v.number}", *[_num(per.get(n), 2) for n in names]])
    sets = [dataset(f"v{v.number}" + (" (active)" if v.is_active else ""),
                    [_num(v.metrics.get("keypoints", {}).get("per_keypoint_mean_error", {}).get(n), 2) for n in names],
                    i) for i, v in enumerate(shown)]
    missing = [n for n in names if all(r[1 + names.index(n)] is None for r in rows)]
    note = ("points without a value had no verified label on the held-out clips: " + ", ".join(missing)
            if rows and missing else "")
    return table("Mean error per keypoint (pixels, held-out clips)", ["version", *names], rows,
                 bar(names, sets, x_title="pixels", horizontal=True, every_label=True), note)


def _form_version(project):
    versions = _versions(project, ModelKind.FORM)
    return next((v for v in versions if v.is_active), versions[-1] if versions else None), versions


def form_confusion(project) -> dict:
    """Confusion matrix of the active (else latest) form model on its held-out clips; CSV: every version."""
    chosen, versions = _form_version(project)
    rows = []
    for v in versions:
        f = v.metrics.get("form", {})
        labels = f.get("labels", [])
        for i, t in enumerate(labels):
            for j, p in enumerate(labels):
                rows.append([f"v{v.number}", t, p, f["confusion_matrix"][i][j]])
    if chosen is None or not chosen.metrics.get("form"):
        return table("Form confusion matrix", ["version", "true", "predicted", "frames"], rows, bar([], []),
                     "no form classifier measured yet")
    f = chosen.metrics["form"]
    labels = f["labels"]
    sets = [dataset(f"predicted {p}", [f["confusion_matrix"][i][j] for i in range(len(labels))], j)
            for j, p in enumerate(labels)]
    return table(f"Form confusion matrix of v{chosen.number}", ["version", "true", "predicted", "frames"], rows,
                 bar([f"true {t}" for t in labels], sets, stacked=True, y_title="held-out frames"),
                 f"v{chosen.number}: accuracy {f['accuracy']:.2f}, macro F1 {f['f1_macro']:.2f} on {f['n']} frames")


def form_f1(project) -> dict:
    versions = _versions(project, ModelKind.FORM)
    labels = sorted({lab for v in versions for lab in v.metrics.get("form", {}).get("f1_per_label", {})})
    rows = [[f"v{v.number}", *[_num(v.metrics.get("form", {}).get("f1_per_label", {}).get(lab)) for lab in labels],
             _num(v.metrics.get("form", {}).get("f1_macro"))] for v in versions]
    sets = [dataset(f"F1 {lab}", [r[1 + i] for r in rows], i) for i, lab in enumerate(labels)]
    sets.append(dataset("macro F1", [r[-1] for r in rows], len(labels)))
    return table("Form F1 per label over versions", ["version", *[f"f1_{lab}" for lab in labels], "f1_macro"], rows,
                 bar([r[0] for r in rows], sets, y_title="F1"), "" if rows else "no form classifier measured yet")


def learning_curve(project) -> dict:
    """Quality against the number of verified frames each version was trained on."""
    kp = _versions(project, ModelKind.KEYPOINTS)
    fm = _versions(project, ModelKind.FORM)
    rows = [[v.training_frames, "keypoints", f"v{v.number}", _num(v.metrics.get("keypoints", {}).get("mean_oks"))]
            for v in kp if v.source == "trained"]
    rows += [[v.training_frames, "form", f"v{v.number}", _num(v.metrics.get("form", {}).get("f1_macro"))]
             for v in fm]
    rows.sort(key=lambda r: (r[1], r[0]))
    sets = [dataset("keypoints: mean OKS", [{"x": r[0], "y": r[3]} for r in rows if r[1] == "keypoints"], 0),
            dataset("form: macro F1", [{"x": r[0], "y": r[3]} for r in rows if r[1] == "form"], 1)]
    return table("Active-learning curve: quality against verified frames", ["training_frames", "model", "version",
                                                                            "quality"], rows,
                 line(None, sets, x_title="verified frames trained on", y_title="quality", linear_x=True, y_max=1.0),
                 "models trained here, measured on held-out clips" if rows else "no model trained here yet")


def simulation_runs(project) -> list[SimulationRun]:
    """The finished runs of the most recent simulation set-up (same batch, seed set and training settings)."""
    runs = list(SimulationRun.objects.filter(project=project, finished=True).order_by("-created_at"))
    if not runs:
        return []
    key = _setup(runs[0])
    return [r for r in runs if _setup(r) == key]


def _setup(run: SimulationRun) -> str:
    # Strategy, seed and held-out fold vary within one experiment; the rest defines it.
    p = {k: v for k, v in (run.params or {}).items() if k not in ("strategy", "seed", "heldout_fold")}
    return repr((run.batch, run.seed_frames, sorted(p.items())))


def _simulation(project, part: str, metric: str, title: str, y_title: str) -> dict:
    runs = simulation_runs(project)
    rows = [[r.strategy, r.seed, (r.params or {}).get("heldout_fold", 0), rd["round"], rd["labelled_frames"],
             _num((rd.get(part) or {}).get(metric))] for r in runs for rd in r.rounds]
    by: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for strategy, _seed, _fold, _round, n, value in rows:
        if value is not None:
            by[strategy][n].append(value)
    sets = []
    for i, strategy in enumerate(sorted(by)):
        # A run is one (seed, held-out fold) pair; the curve is the mean over them.
        count = sum(1 for r in runs if r.strategy == strategy)
        sets.append(dataset(f"{strategy} (mean of {count} run{'s' if count != 1 else ''})",
                            [{"x": n, "y": round(float(np.mean(v)), 4)} for n, v in sorted(by[strategy].items())],
                            i))
    folds = sorted({", ".join(r.heldout_clips) for r in runs})
    note = (f"simulate_active_learning: batch {runs[0].batch}, seed set {runs[0].seed_frames} frames, "
            f"held-out clips {' | '.join(folds)}" if runs else
            "run `manage.py simulate_active_learning` to measure the loop")
    return table(title, ["strategy", "seed", "heldout_fold", "round", "labelled_frames", metric], rows,
                 line(None, sets, x_title="labelled frames", y_title=y_title, linear_x=True), note)


def simulation_keypoints(project) -> dict:
    return _simulation(project, "keypoints", "mean_oks", "Simulated loop: keypoint model", "held-out mean OKS")


def simulation_form(project) -> dict:
    return _simulation(project, "form", "f1_macro", "Simulated loop: form classifier", "held-out macro F1")


CHARTS = {
    "versions_trend": versions_trend,
    "keypoint_errors": keypoint_errors,
    "form_confusion": form_confusion,
    "form_f1": form_f1,
    "learning_curve": learning_curve,
    "simulation_keypoints": simulation_keypoints,
    "simulation_form": simulation_form,
}
