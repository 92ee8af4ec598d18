"""The demo's first retrain, as `make run` does it: how long it takes and how its keypoint model compares
with untuned BlazePose on the split's held-out clips.

On a scratch database (bench/scratch_db.py) the demo project is set up as `setup_demo` does (both
barbell-row files, split seed 42), then a retrain job runs in this process with the app's default
settings (BlazePose heads when the MediaPipe extra's files are found), twice: the second run shows
what the crop store saves. The store is a fresh folder per bench run. ``BENCH_RETRAIN_HEAD`` (JSON) adds
head settings to the retrain, e.g. ``'{"members": 3}'``.

    MLCORE_MEDIAPIPE_PYTHON=$PWD/.venv-mediapipe/bin/python .venv/bin/python -m webapp.dev bench bench/demo_retrain.py

Prints one JSON object per line: {"metric", "value", "unit", ...}.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch_db import django_on_scratch_database  # noqa: E402

BENCH_DB = os.environ.get("BENCH_RETRAIN_DB", "posereview_bench_demo_retrain")
DATASET = Path(os.environ.get("POSEREVIEW_DATASET", ROOT.parent / "shared" / "datasets" / "barbell-row"))
RUNS = int(os.environ.get("BENCH_RETRAIN_RUNS", "2"))
# Head settings on top of the app's (a retrain job's keypoint_config.head), e.g. '{"members": 3}'.
HEAD = json.loads(os.environ.get("BENCH_RETRAIN_HEAD", "{}"))


def emit(metric: str, value, unit: str, **extra) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit, **extra}), flush=True)


def main() -> None:
    if not DATASET.is_dir():
        emit("skipped", f"barbell-row not found at {DATASET}", "")
        return
    os.environ.setdefault("POSEREVIEW_IMPORT_ROOTS", str(DATASET.parent))
    django_on_scratch_database(BENCH_DB, MLCORE_CROP_STORE=tempfile.mkdtemp(prefix="posereview-bench-crops-"))
    from django.core.management import call_command

    from annotations.core.jobs import start_job
    from annotations.models import ModelVersion, Project

    call_command("setup_demo", "--inline", "--dataset", str(DATASET), stdout=open(os.devnull, "w"))
    project = Project.objects.get(slug="barbell-row")
    for run in range(RUNS):
        t0 = time.time()
        params = {"chain": False, "force": True, **({"keypoint_config": {"head": HEAD}} if HEAD else {})}
        job = start_job(project, "retrain", params, None, run_now=True)
        seconds = time.time() - t0
        if job.status != "succeeded":
            emit(f"demo_retrain.run{run}.failed", job.message, "")
            return
        kp = ModelVersion.objects.get(job=job, kind="keypoints")
        training, compared = kp.metrics["training"], kp.metrics.get("untuned_blazepose") or {}
        emit(f"demo_retrain.run{run}.job_seconds", round(seconds, 1), "s", cpus=os.cpu_count(),
             keypoint_seconds=kp.metrics.get("training_seconds"), backbone=training.get("backbone"),
             cache_seconds=training.get("cache_seconds"), head_seconds=training.get("head_seconds"),
             crop_sets_from_store=training.get("crop_sets_from_store"),
             crop_sets_computed=training.get("crop_sets_computed"), train_frames=training.get("train_frames"),
             members=len(training.get("members") or [None]), test_views=training.get("test_views"))
        emit(f"demo_retrain.run{run}.heldout_mean_oks", round(kp.metrics["keypoints"]["mean_oks"], 4), "OKS",
             frames=kp.metrics["heldout_frames"], clips=len(kp.heldout_clips),
             oks_ap=round(kp.metrics["keypoints"]["oks_ap"]["AP"], 4),
             points_to_fix=round(kp.metrics["keypoints"]["points_to_fix"], 2))
        if compared.get("trained"):
            for side in ("trained", "untuned_blazepose"):
                emit(f"demo_retrain.run{run}.body17.{side}.mean_oks", round(compared[side]["mean_oks"], 4), "OKS",
                     points_to_fix=round(compared[side]["points_to_fix"], 2),
                     oks_ap=round(compared[side]["oks_ap"], 4), frames=compared["frames"])
        else:
            emit(f"demo_retrain.run{run}.untuned_comparison", compared.get("skipped", "missing"), "")


if __name__ == "__main__":
    main()
