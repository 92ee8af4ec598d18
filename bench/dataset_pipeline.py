"""Dataset pipeline throughput at 100k annotated frames: import, split, COCO export, peak memory.

Scales barbell-row synthetically: every annotated frame is repeated under new clip ids
(so clips stay whole) with keypoints jittered by a few pixels; images are referenced in
place (symlinks to the real frames), not copied. pycocotools' own load time of the same
JSON is printed as the import's yardstick; the COCO export of all 100k annotations (unconfirmed
points unlabelled, the default, and with them kept) is printed beside orjson.dumps of the
same document (the written file loaded back), its yardstick, and their ratio; then the whole
`manage.py export_coco --split all` command, Django start-up included. Each stage runs in a
fresh process so its peak memory is its own. Prints one JSON object per line: {"metric", "value", "unit"}.

    make bench            # all benchmarks
    .venv/bin/python -m webapp.dev bench bench/dataset_pipeline.py
Environment: BENCH_FRAMES (default 100000), DATABASE_URL (a scratch database is created next to
it, named BENCH_DB, default posereview_bench). BENCH_EXPORT_ONLY=1: only the export stage, against the
BENCH_DB an earlier run left (no rebuild), for repeating export measurements.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch_db import scratch_database  # noqa: E402

DATASET = Path(os.environ.get("POSEREVIEW_DATASET", ROOT.parent / "shared" / "datasets" / "barbell-row"))
BENCH_DB = os.environ.get("BENCH_DB", "posereview_bench")


def emit(metric: str, value, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit}), flush=True)


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def build_synthetic(n_frames: int, out_dir: Path) -> tuple[Path, Path]:
    """A CVAT-style COCO file with n_frames annotated frames, and a folder of image symlinks."""
    rng = random.Random(0)
    sources = []
    for name, folder in (("correct_n2_3_7_100.json", "correct"), ("lumbar_3_7_dell_111.json", "lumbar")):
        data = json.loads((DATASET / "annotations" / name).read_text())
        images = {i["id"]: i for i in data["images"]}
        for ann in data["annotations"]:
            img = images[ann["image_id"]]
            if (DATASET / "images" / folder / img["file_name"]).exists():
                sources.append((img, ann, DATASET / "images" / folder / img["file_name"]))
        category = data["categories"][0]
    images_dir = out_dir / "images"
    images_dir.mkdir()
    images, annotations = [], []
    for n in range(n_frames):
        img, ann, path = sources[n % len(sources)]
        clip = f"{900000 + n // 40}_{n % 7}"  # 40 frames per synthetic clip
        name = f"{clip}_{n}.jpg"
        os.symlink(path, images_dir / name)
        kp = list(ann["keypoints"])
        for i in range(0, len(kp), 3):
            if kp[i + 2] > 0:
                kp[i] = round(max(kp[i] + rng.uniform(-3, 3), 0), 2)
                kp[i + 1] = round(max(kp[i + 1] + rng.uniform(-3, 3), 0), 2)
        images.append({**img, "id": n + 1, "file_name": name})
        annotations.append({**ann, "id": n + 1, "image_id": n + 1, "keypoints": kp})
    path = out_dir / "synthetic.json"
    path.write_text(json.dumps({"licenses": [], "info": {}, "categories": [category], "images": images,
                                "annotations": annotations}))
    return path, images_dir


def stage(name: str, *args: str) -> None:
    """Run one stage in a fresh process (its output lines pass through)."""
    subprocess.run([sys.executable, __file__, "--stage", name, *args], check=True, cwd=ROOT)


def run_stage(name: str, args: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    if name == "pycocotools":
        from pycocotools.coco import COCO

        t = time.perf_counter()
        COCO(args[0])
        emit("pycocotools_load_s", round(time.perf_counter() - t, 3), "s")
        return
    import django

    django.setup()
    from annotations.datasets import exporting, importing, splitting
    from annotations.models import Project

    if name == "import":
        project = Project.create("bench", "Bench", "coco17_spine")
        t = time.perf_counter()
        result = importing.import_coco_file(project, args[0], images_dir=args[1], form_label="correct")
        elapsed = time.perf_counter() - t
        emit("import_annotated_frames", result["annotated"], "frames")
        emit("import_s", round(elapsed, 3), "s")
        emit("import_frames_per_s", round(result["annotated"] / elapsed), "frames/s")
        emit("import_peak_rss_mb", peak_mb(), "MB")
    elif name == "split":
        project = Project.objects.get(slug="bench")
        t = time.perf_counter()
        version = splitting.create_split(project)
        elapsed = time.perf_counter() - t
        emit("split_clips", sum(s["clips"] for s in version.summary["subsets"].values()), "clips")
        emit("split_s", round(elapsed, 3), "s")
        emit("split_train_frames", version.summary["subsets"]["train"]["frames"], "frames")
        emit("split_peak_rss_mb", peak_mb(), "MB")
    elif name == "export":
        import orjson

        project = Project.objects.get(slug="bench")
        out = Path(args[0])
        for include_unconfirmed in (False, True):
            t = time.perf_counter()
            _, summary = exporting.export(project, "coco", ["all"], out_path=out,
                                          include_unconfirmed=include_unconfirmed)
            elapsed = time.perf_counter() - t
            suffix = "_include_unconfirmed" if include_unconfirmed else ""
            if not include_unconfirmed:
                emit("export_peak_rss_mb", peak_mb(), "MB")  # before the yardstick loads the document
            emit("export_annotations" + suffix, summary["counts"]["all"]["annotations"], "annotations")
            emit("export_coco_all_s" + suffix, round(elapsed, 3), "s")
            doc = orjson.loads(out.read_bytes())
            t = time.perf_counter()
            orjson.dumps(doc)
            dump = time.perf_counter() - t
            del doc
            emit("export_yardstick_orjson_dumps_s" + suffix, round(dump, 3), "s")
            emit("export_ratio_to_dumps" + suffix, round(elapsed / dump, 2), "x")
        emit("export_bytes", out.stat().st_size, "bytes")
    elif name == "export_command":
        t = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "export_coco", "bench", "--split", "all", "--out", args[0]],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        emit("export_coco_command_s", round(time.perf_counter() - t, 3), "s")

def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--stage":
        run_stage(sys.argv[2], sys.argv[3:])
        return
    n = int(os.environ.get("BENCH_FRAMES", 100_000))
    os.environ["POSEREVIEW_DEV"] = "1"
    if os.environ.get("BENCH_EXPORT_ONLY"):
        os.environ["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + BENCH_DB
        with tempfile.TemporaryDirectory(prefix="posereview-bench-") as tmp:
            stage("export", str(Path(tmp) / "all.json"))
        return
    os.environ["DATABASE_URL"] = scratch_database(BENCH_DB)
    with tempfile.TemporaryDirectory(prefix="posereview-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["MEDIA_ROOT"] = str(tmp / "media")
        path, images_dir = build_synthetic(n, tmp)
        emit("synthetic_json_bytes", path.stat().st_size, "bytes")
        stage("pycocotools", str(path))
        stage("import", str(path), str(images_dir))
        stage("split")
        stage("export", str(tmp / "all.json"))
        stage("export_command", str(tmp / "all.json"))
        stage("pycocotools", str(tmp / "all.json"))


if __name__ == "__main__":
    main()
