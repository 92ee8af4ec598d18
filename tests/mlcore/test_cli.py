"""``python -m mlcore`` works end to end in a process where Django cannot be imported."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlcore import coco

from .synthetic import blob_frames, pose_coco

REPO = Path(__file__).resolve().parents[2]
BLOCK = ("import sys, runpy\n"
         "for name in ('django', 'annotations', 'webapp'):\n"
         "    sys.modules[name] = None  # any import of them now raises ImportError\n"
         "sys.argv = ['mlcore'] + sys.argv[1:]\n"
         "runpy.run_module('mlcore', run_name='__main__', alter_sys=True)\n")


def run_cli(*args, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}   # tiny models; do not fight other processes for cores
    proc = subprocess.run([sys.executable, "-c", BLOCK, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"mlcore {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def test_the_blocker_really_blocks_django():
    proc = subprocess.run([sys.executable, "-c", BLOCK.replace("runpy.run_module", "import django; runpy.run_module")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "import of django halted" in proc.stderr


def test_no_mlcore_module_imports_django_or_the_web_app():
    offenders = []
    for path in (REPO / "mlcore").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names
                          if n.split(".")[0] in ("django", "annotations", "webapp", "rest_framework", "celery")]
    assert offenders == []


def test_train_predict_and_evaluate_keypoints_from_the_command_line(tmp_path):
    data = blob_frames(tmp_path, n=12)
    coco.save_coco(data, tmp_path / "train.json")
    proc = run_cli("train", "keypoints", "--coco", tmp_path / "train.json", "--images", tmp_path / "frames",
                   "--backbone", "scratch", "--val", tmp_path / "train.json", "--out", tmp_path / "kp", "--epochs", 2,
                   "--input-size", "32x48", "--batch-size", 4, "--device", "cpu")
    report = json.loads(proc.stdout)
    assert report["epochs_run"] == 2 and report["onnx_max_abs_diff"] < 1e-4
    assert '"progress": 1.0' in proc.stderr
    run_cli("predict", "--model", tmp_path / "kp", "--coco", tmp_path / "train.json", "--images", tmp_path / "frames",
            "--out", tmp_path / "preds.json", "--mc-samples", 3)
    preds = json.loads((tmp_path / "preds.json").read_text())
    assert len(preds) == 12
    p = preds[0]
    assert len(p["keypoints"]) == 6 and len(p["keypoint_scores"]) == 2
    assert set(p["signals"]) == {"confidence", "flip", "spread", "temporal"}
    assert 0 <= p["priority"] <= 1 and p["annotation_id"] == 1 and "label_error" in p
    ev = json.loads(run_cli("evaluate", "--gt", tmp_path / "train.json", "--pred", tmp_path / "preds.json").stdout)
    kp = ev["keypoints"]
    assert kp["gt_instances"] == 12 and kp["matched"] == 12
    assert set(kp["per_keypoint_mean_error"]) == {"left_dot", "right_dot"}
    assert 0 <= kp["mean_oks"] <= 1 and "AP" in kp["oks_ap"] and "pck@0.05" in kp
    # The predictions become pseudo-labels, and a model trains on them starting from the first one.
    run_cli("pseudo-labels", "--coco", tmp_path / "train.json", "--pred", tmp_path / "preds.json",
            "--min-score", 0, "--min-keypoints", 2, "--min-box", 0, "--out", tmp_path / "pseudo.json")
    pseudo = json.loads((tmp_path / "pseudo.json").read_text())
    by_image = {q["image_id"]: q for q in preds}
    assert len(pseudo["annotations"]) == 12
    for ann in pseudo["annotations"]:
        q = by_image[ann["image_id"]]["keypoints"]
        assert ann["keypoints"] == [q[0], q[1], 2, q[3], q[4], 2]
    proc = run_cli("train", "keypoints", "--coco", tmp_path / "pseudo.json", "--images", tmp_path / "frames",
                   "--out", tmp_path / "kp2", "--backbone", "scratch", "--epochs", 1, "--input-size", "32x48",
                   "--batch-size", 4, "--init-from", tmp_path / "kp")
    assert json.loads(proc.stdout)["init_from"] == str(tmp_path / "kp")
    proc = run_cli("train", "keypoints", "--coco", tmp_path / "pseudo.json", "--images", tmp_path / "frames",
                   "--out", tmp_path / "kp3", "--backbone", "scratch", "--epochs", 1, "--init-from", tmp_path / "kp",
                   check=False)
    assert proc.returncode == 2 and "network settings" in proc.stderr


def test_train_and_predict_form_then_evaluate_it(tmp_path):
    coco.save_coco(pose_coco(20, seed=0), tmp_path / "train.json")
    coco.save_coco(pose_coco(10, seed=1), tmp_path / "val.json")
    run_cli("train", "form", "--coco", tmp_path / "train.json", "--val", tmp_path / "val.json", "--out",
            tmp_path / "form", "--epochs", 120)
    run_cli("predict", "--model", tmp_path / "form", "--coco", tmp_path / "val.json", "--out", tmp_path / "fp.json")
    preds = json.loads((tmp_path / "fp.json").read_text())
    assert len(preds) == 20
    assert set(preds[0]) >= {"image_id", "annotation_id", "form_label", "form_probs"}
    assert sum(preds[0]["form_probs"].values()) == pytest.approx(1, abs=1e-3)
    ev = json.loads(run_cli("evaluate", "--gt", tmp_path / "val.json", "--pred", tmp_path / "fp.json").stdout)
    assert ev["form"]["accuracy"] >= 0.9 and np.array(ev["form"]["confusion_matrix"]).sum() == 20
    assert "keypoints" not in ev


def test_merge_and_split_from_the_command_line(tmp_path):
    a, b = pose_coco(4, clips_per_class=2, seed=0), pose_coco(4, clips_per_class=2, seed=1)
    coco.save_coco(a, tmp_path / "a.json")
    coco.save_coco(b, tmp_path / "b.json")
    run_cli("merge", "--inputs", tmp_path / "a.json", tmp_path / "b.json", "--prefixes", "a", "b", "--out",
            tmp_path / "m.json")
    merged = json.loads((tmp_path / "m.json").read_text())
    assert [i["id"] for i in merged["images"]] == list(range(1, 17))
    counts = json.loads(run_cli("split", "--coco", tmp_path / "m.json", "--out-dir", tmp_path / "s").stdout)
    assert sum(v["images"] for v in counts.values()) == 16
    assert (tmp_path / "s" / "train_coco.json").is_file()


def test_bad_input_exits_with_status_two(tmp_path):
    (tmp_path / "empty.json").write_text("[]")
    proc = run_cli("evaluate", "--gt", tmp_path / "empty.json", "--pred", tmp_path / "empty.json", check=False)
    assert proc.returncode == 2 and "error:" in proc.stderr
