"""The YOLO-pose export in Ultralytics itself (its own virtualenv: it pins torch and torchvision; `make test`
sets up .venv-ultralytics, POSEREVIEW_ULTRALYTICS_PYTHON points elsewhere): check_det_dataset accepts the
YAML from another working directory, for one subset and for three, and one epoch of a YOLOv8n-pose
network (built from its YAML, no weights downloaded) trains and validates on the export on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.annotations.datasets.test_exports_stand_alone import SUBSETS, export_to, split_project, unzip  # noqa: F401

ULTRALYTICS = Path(os.environ.get("POSEREVIEW_ULTRALYTICS_PYTHON", ".venv-ultralytics/bin/python")).absolute()

pytestmark = pytest.mark.django_db


def run_ultralytics(script: str, cwd: Path, *args: str, timeout: int = 600) -> dict:
    """Run a script under Ultralytics' virtualenv in `cwd` and parse the JSON of its last line."""
    if not ULTRALYTICS.exists():
        pytest.skip(f"Ultralytics is not installed at {ULTRALYTICS} (`make test` sets up .venv-ultralytics; or "
                    "set POSEREVIEW_ULTRALYTICS_PYTHON)")
    env = {**os.environ, "YOLO_CONFIG_DIR": str(cwd / "ultralytics-config"), "YOLO_OFFLINE": "1"}
    done = subprocess.run([str(ULTRALYTICS), "-c", textwrap.dedent(script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


CHECK = """
    import json, sys
    from ultralytics.data.utils import check_det_dataset
    data = check_det_dataset(sys.argv[1])
    print(json.dumps({"paths": {k: str(data[k]) for k in ("train", "val", "test") if data.get(k)},
                      "nc": data["nc"], "kpt_shape": data["kpt_shape"], "flip_idx": data["flip_idx"]}))
"""


@pytest.mark.parametrize("subsets", [("train",), SUBSETS], ids=["one subset", "three subsets"])
def test_ultralytics_check_det_dataset_accepts_the_yaml_from_another_directory(split_project, tmp_path, subsets):
    folder = unzip(export_to(split_project, "yolo_pose", subsets, tmp_path / "yolo.zip", include_images=True),
                   tmp_path / "unzipped" / "yolo")
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    got = run_ultralytics(CHECK, elsewhere, os.path.relpath(folder / "data.yaml", elsewhere))
    assert got["nc"] == 1 and got["kpt_shape"] == [24, 3] and sorted(got["flip_idx"]) == list(range(24))
    expected = {"train", "val"} if len(subsets) == 1 else set(SUBSETS)
    assert set(got["paths"]) == expected
    for key, path in got["paths"].items():
        resolved = Path(path)
        assert resolved.is_dir() and resolved.parent == (folder / "images").resolve(), (key, path)
        assert any(resolved.iterdir()), key


TRAIN = """
    import json, sys
    from ultralytics import YOLO
    model = YOLO("yolov8n-pose.yaml")
    model.train(data=sys.argv[1], epochs=1, imgsz=96, batch=8, device="cpu", workers=0, plots=False, amp=False,
                project=sys.argv[2], name="run", exist_ok=True, verbose=False)
    metrics = model.val(data=sys.argv[1], imgsz=96, batch=8, device="cpu", workers=0, plots=False,
                        project=sys.argv[2], name="val", exist_ok=True, verbose=False)
    print(json.dumps({"kpt_shape": list(model.model.kpt_shape), "pose_map50": float(metrics.pose.map50),
                      "weights": [str(p) for p in sorted((__import__("pathlib").Path(sys.argv[2]) / "run" / "weights")
                                                         .glob("*.pt"))]}))
"""


def test_one_epoch_of_yolov8n_pose_trains_and_validates_on_the_export(split_project, tmp_path):
    folder = unzip(export_to(split_project, "yolo_pose", SUBSETS, tmp_path / "yolo.zip", include_images=True),
                   tmp_path / "unzipped" / "yolo")
    elsewhere = tmp_path / "training"
    elsewhere.mkdir()
    got = run_ultralytics(TRAIN, elsewhere, os.path.relpath(folder / "data.yaml", elsewhere), str(tmp_path / "runs"))
    assert got["kpt_shape"] == [24, 3]  # the network was built for the export's skeleton
    assert 0.0 <= got["pose_map50"] <= 1.0  # validation ran with the YAML's own OKS sigmas
    assert any(p.endswith("last.pt") for p in got["weights"])
