"""Active learning on barbell-row: uncertainty order against random order, several seeds.

Run (in a database that holds the fully labelled project, e.g. after `setup_demo` or two
`import_coco` calls):

    .venv/bin/python bench/active_learning.py <project-slug> --seeds 0 1 2 [--folds 0 1 2 3 4] [--rounds 8 ...]
    .venv/bin/python bench/active_learning.py --from-jsonl DIR     # summarise runs already made

Each (held-out fold, seed, strategy) runs `manage.py simulate_active_learning` in its own process
and its JSON lines are kept in DIR/<strategy>-fold<F>-seed<S>.jsonl (runs already there are kept,
not repeated). Printed per strategy: the mean curve over runs, and the labelled frames needed to
reach 95% of the final quality, per run and for the mean curve (keypoint model: held-out mean
OKS; form classifier: held-out macro F1).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METRICS = (("keypoints", "mean_oks"), ("keypoints", "oks_ap"), ("keypoints", "pck@0.1"), ("form", "f1_macro"),
           ("form", "accuracy"))


def emit(metric: str, value, unit: str = "", **extra) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit, **extra}), flush=True)


def frames_to_reach(curve: list[tuple[int, float]], share: float = 0.95) -> int | None:
    """Labelled frames of the first point reaching `share` of the last point's value."""
    if not curve:
        return None
    final = curve[-1][1]
    return next(n for n, v in curve if v >= share * final)


def run_all(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for fold in args.folds:
        for seed in args.seeds:
            for strategy in ("uncertainty", "random"):
                run_one(args, out / f"{strategy}-fold{fold}-seed{seed}.jsonl", strategy, fold, seed)


def run_one(args, path: Path, strategy: str, fold: int, seed: int) -> None:
    if path.is_file() and sum(1 for line in path.open() if line.startswith("{")) >= args.rounds:
        return  # made already
    cmd = [sys.executable, str(REPO / "manage.py"), "simulate_active_learning", args.project, "--strategy",
           strategy, "--seed", str(seed), "--heldout-fold", str(fold), "--rounds", str(args.rounds),
           "--batch", str(args.batch), "--seed-frames", str(args.seed_frames),
           "--keypoint-epochs", str(args.keypoint_epochs), "--keypoint-steps", str(args.keypoint_steps),
           "--width", str(args.width), "--input-size", args.input_size]
    print("# " + " ".join(cmd[1:]), flush=True)
    with open(path, "w") as fh:
        subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.DEVNULL, check=True)


def summarise(folder: Path) -> None:
    runs: dict[str, dict[str, list[dict]]] = defaultdict(dict)
    for path in sorted(folder.glob("*-fold*-seed*.jsonl")):
        strategy, run = path.stem.split("-", 1)
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
        if rows:
            runs[strategy][run] = rows
    for strategy, by_run in runs.items():  # a run still going (or cut short) would truncate the mean curve
        longest = max(len(rows) for rows in by_run.values())
        runs[strategy] = {run: rows for run, rows in by_run.items() if len(rows) == longest}
    for strategy, by_seed in sorted(runs.items()):
        for part, metric in METRICS:
            curves = {seed: [(r["labelled_frames"], r[part][metric]) for r in rows if r[part].get(metric) is not None]
                      for seed, rows in by_seed.items()}
            points = defaultdict(list)
            for curve in curves.values():
                for n, v in curve:
                    points[n].append(v)
            mean = [(n, sum(v) / len(v)) for n, v in sorted(points.items()) if len(v) == len(curves)]
            name = f"active_learning.{strategy}.{part}.{metric}"
            emit(name + ".curve", [[n, round(v, 4)] for n, v in mean], "labelled frames, mean over runs",
                 runs=sorted(curves))
            emit(name + ".frames_to_95pct_of_final", frames_to_reach(mean), "labelled frames", curve="mean over runs")
            emit(name + ".frames_to_95pct_of_final_per_run", {s: frames_to_reach(c) for s, c in sorted(curves.items())},
                 "labelled frames")
            emit(name + ".final", round(mean[-1][1], 4) if mean else None, metric,
                 labelled_frames=mean[-1][0] if mean else None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("project", nargs="?")
    ap.add_argument("--from-jsonl", help="only summarise the runs in this folder")
    ap.add_argument("--out", default="/tmp/active_learning_runs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", type=int, nargs="+", default=[0], help="held-out clip-grouped folds (of 5)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--seed-frames", type=int, default=10)
    ap.add_argument("--keypoint-epochs", type=int, default=40)
    ap.add_argument("--keypoint-steps", type=int, default=200)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--input-size", default="48x64")
    args = ap.parse_args()
    if args.from_jsonl:
        summarise(Path(args.from_jsonl))
        return
    if not args.project:
        ap.error("give the project slug, or --from-jsonl DIR")
    run_all(args)
    summarise(Path(args.out))


if __name__ == "__main__":
    main()
