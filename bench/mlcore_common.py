"""Shared helpers for the mlcore benchmarks (barbell-row, clip-grouped folds).

Every benchmark prints one JSON object per line: {"metric", "value", "unit", ...}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlcore import coco  # noqa: E402

FOLDS, FOLD_SEED = 5, 0


def dataset_root() -> Path:
    return Path(os.environ.get("POSEREVIEW_DATASET", REPO / ".." / "shared" / "datasets" / "barbell-row"))


def load_barbell() -> tuple[dict, Path]:
    """The 210 annotated frames of both CVAT tasks, merged, with form labels; and the images folder."""
    root = dataset_root()
    files = [root / "annotations" / "correct_n2_3_7_100.json", root / "annotations" / "lumbar_3_7_dell_111.json"]
    merged = coco.merge_coco([coco.load_coco(f) for f in files], form_labels=["correct", "lumbar_error"],
                             file_prefixes=["correct", "lumbar"])
    return merged, root / "images"


def emit(metric: str, value, unit: str = "", **extra) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit, **extra}), flush=True)


def out_dir() -> Path:
    d = Path(os.environ.get("MLCORE_BENCH_OUT", "/tmp/mlcore_bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d
