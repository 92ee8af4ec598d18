"""Active learning on barbell-row: uncertainty order against random order, several seeds.

Run (in a database that holds the fully labelled project, e.g. after `setup_demo` or two
`import_coco` calls):

    .venv/bin/python bench/active_learning.py <project-slug> --seeds 0 1 2 [--rounds 9 --batch 15 ...]
    .venv/bin/python bench/active_learning.py --from-jsonl DIR     # summarise runs already made

Each (strategy, seed) runs `manage.py simulate_active_learning` in its own process and its JSON
lines are kept in DIR/<strategy>-<seed>.jsonl. Printed per strategy: the mean curve over seeds,
and the labelled frames needed to reach 95% of the final quality, per seed and for the mean curve
(keypoint model: held-out mean OKS; form classifier: held-out macro F1).
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
    for seed in args.seeds:
        for strategy in ("uncertainty", "random"):
            cmd = [sys.executable, str(REPO / "manage.py"), "simulate_active_learning", args.project, "--strategy",
                   strategy, "--seed", str(seed), "--rounds", str(args.rounds), "--batch", str(args.batch),
                   "--seed-frames", str(args.seed_frames), "--keypoint-epochs", str(args.keypoint_epochs),
                   "--keypoint-steps", str(args.keypoint_steps),
                   "--width", str(args.width), "--input-size", args.input_size]
            print("# " + " ".join(cmd[1:]), flush=True)
            with open(out / f"{strategy}-{seed}.jsonl", "w") as fh:
                subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.DEVNULL, check=True)


def summarise(folder: Path) -> None:
    runs: dict[str, dict[int, list[dict]]] = defaultdict(dict)
    for path in sorted(folder.glob("*-*.jsonl")):
        strategy, seed = path.stem.rsplit("-", 1)
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
        if rows:
            runs[strategy][int(seed)] = rows
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
            emit(name + ".curve", [[n, round(v, 4)] for n, v in mean], "labelled frames, mean over seeds",
                 seeds=sorted(curves))
            emit(name + ".frames_to_95pct_of_final", frames_to_reach(mean), "labelled frames", curve="mean over seeds")
            emit(name + ".frames_to_95pct_of_final_per_seed", {s: frames_to_reach(c) for s, c in sorted(curves.items())},
                 "labelled frames")
            emit(name + ".final", round(mean[-1][1], 4) if mean else None, metric,
                 labelled_frames=mean[-1][0] if mean else None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("project", nargs="?")
    ap.add_argument("--from-jsonl", help="only summarise the runs in this folder")
    ap.add_argument("--out", default="/tmp/active_learning_runs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
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
