"""Exports that stand alone in the tools that read them: COCO with its own OKS sigmas and only confirmed
points (pycocotools), YOLO-pose YAMLs that resolve from any working directory (Ultralytics' rule),
an RTMPose config that mmengine loads from anywhere, and CVAT both ways (CVAT COCO and CVAT XML out,
multi-subset CVAT zips in), with datumaro as the independent reader when it is installed."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import textwrap
import zipfile
from contextlib import redirect_stdout
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import yaml
from django.core.management import call_command

from tests.conftest import CORRECT_IMAGES, CORRECT_JSON

SUBSETS = ("train", "val", "test")
DATUMARO = Path(os.environ.get("POSEREVIEW_DATUMARO_PYTHON", "/tmp/dm/bin/python"))
SPINE = ("neck", "hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05")


@pytest.fixture
def split_project(imported):
    from annotations.datasets.splitting import create_split

    imported.split_version = create_split(imported)
    return imported


def export_to(project, fmt: str, subsets, path: Path, **options) -> Path:
    from annotations.datasets.exporting import export

    out, _ = export(project, fmt, list(subsets), out_path=path, **options)
    return Path(out)


def unzip(path: Path, folder: Path) -> Path:
    with zipfile.ZipFile(path) as zf:
        zf.extractall(folder)
    return folder


def run_datumaro(script: str) -> dict:
    """Run a script under datumaro's own virtualenv (it pins other numpy versions) and parse its JSON."""
    if not DATUMARO.exists():
        pytest.skip(f"datumaro is not installed at {DATUMARO} (`make test` sets up .venv-datumaro; or set "
                    "POSEREVIEW_DATUMARO_PYTHON)")
    done = subprocess.run([str(DATUMARO), "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- COCO: sigmas and confirmed points -----------------------------------------------------------

def test_a_24_point_coco_export_evaluates_in_cocoeval_with_only_the_sigmas_the_file_carries(split_project,
                                                                                             tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    path = export_to(split_project, "coco", ["train"], tmp_path / "train.json")
    category = json.loads(path.read_text())["categories"][0]
    assert len(category["keypoints"]) == len(category["sigmas"]) == 24
    assert category["sigmas"] == pytest.approx(split_project.skeleton["sigmas"])
    with redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        dt = gt.loadRes(copy.deepcopy([{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
                                        "score": 1.0} for a in gt.dataset["annotations"]]))
        evaluator = COCOeval(gt, dt, "keypoints")
        evaluator.params.kpt_oks_sigmas = np.array(category["sigmas"])  # the file's own, nothing typed in
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)


def test_heuristic_spine_points_go_out_unlabelled_unless_asked_for_and_cvat_attributes_stay(split_project, tmp_path):
    from annotations.models import Annotation

    names = split_project.skeleton["keypoints"]
    spine = names.index("spine_03")
    ann = Annotation.objects.filter(project=split_project).order_by("id").first()
    assert ann.keypoint_states[spine] == "heuristic" and ann.keypoints[3 * spine + 2] > 0
    for options, expected in (({}, [0, 0, 0]), ({"include_unconfirmed": True}, ann.keypoints[3 * spine:3 * spine + 3])):
        doc = json.loads(export_to(split_project, "coco", ["all"], tmp_path / "all.json", **options).read_text())
        out = next(a for a in doc["annotations"] if a["id"] == ann.pk)
        assert out["keypoints"][3 * spine:3 * spine + 3] == pytest.approx(expected), options
        assert out["num_keypoints"] == sum(1 for v in out["keypoints"][2::3] if v > 0)
        assert out["attributes"]["form_label"] == ann.form_label.name
        assert out["attributes"]["keypoint_states"][spine] == "heuristic"
    # every exported labelled point is one a person confirmed
    doc = json.loads(export_to(split_project, "coco", ["all"], tmp_path / "all.json").read_text())
    for a in doc["annotations"]:
        for k, state in enumerate(a["attributes"]["keypoint_states"]):
            assert a["keypoints"][3 * k + 2] == 0 or state == "verified"


def test_the_fast_json_path_unlabels_the_same_points_as_the_decoded_path(split_project):
    from annotations.datasets.exporting import build_dataset
    from annotations.datasets.formats.coco import coco_text

    raw = json.loads(coco_text(build_dataset(split_project, "all", verified_only=True, raw_json=True)))
    parsed = json.loads(coco_text(build_dataset(split_project, "all", verified_only=True, raw_json=False)))
    assert raw["annotations"] == parsed["annotations"]
    assert any(a["num_keypoints"] < 24 for a in raw["annotations"])


def test_the_export_command_writes_unconfirmed_points_only_with_include_unconfirmed(split_project, tmp_path):
    spine = split_project.skeleton["keypoints"].index("spine_01")
    labelled = {}
    for flag in ([], ["--include-unconfirmed"]):
        out = tmp_path / f"train{len(flag)}.json"
        call_command("export_coco", split_project.slug, "--split", "train", "--out", str(out), *flag,
                     stdout=io.StringIO())
        annotations = json.loads(out.read_text())["annotations"]
        labelled[bool(flag)] = sum(a["keypoints"][3 * spine + 2] > 0 for a in annotations)
    assert labelled[False] == 0 and labelled[True] > 0


def test_the_export_job_takes_include_unconfirmed_and_the_cvat_formats(split_project):
    from annotations.core.errors import InputError
    from annotations.datasets.forms import ExportForm
    from annotations.datasets.params import check_job_params

    for fmt in ("cvat_coco", "cvat_xml"):
        assert check_job_params("export", {"format": fmt, "include_unconfirmed": True})["format"] == fmt
    with pytest.raises(InputError, match="include_unconfirmed"):
        check_job_params("export", {"include_unconfirmed": "maybe"})
    form = ExportForm({"format": "cvat_xml", "subsets": ["train"], "include_unconfirmed": "on"})
    assert form.is_valid(), form.errors
    assert form.job_params()["include_unconfirmed"] is True


# -- YOLO-pose: the YAML from any working directory ------------------------------------------------

def ultralytics_paths(yaml_file: str) -> dict:
    """The dataset paths as Ultralytics' check_det_dataset (ultralytics/data/utils.py, 8.4.190) resolves them:

        path = Path(extract_dir or data.get("path") or Path(data.get("yaml_file", "")).parent)
        if not path.exists() and not path.is_absolute():
            path = (DATASETS_DIR / path).resolve()
        for k in "train", "val", "test", "minival": data[k] = str((path / data[k]).resolve())

    after refusing a YAML without `train:` or `val:` ("'val:' key missing")."""
    data = yaml.safe_load(Path(yaml_file).read_text())
    data["yaml_file"] = yaml_file  # YAML.load(file, append_filename=True)
    for key in ("train", "val"):
        if key not in data:
            raise SyntaxError(f"'{key}:' key missing")
    path = Path(data.get("path") or Path(data["yaml_file"]).parent)
    if not path.exists() and not path.is_absolute():
        path = (Path("/nonexistent/ultralytics/datasets") / path).resolve()  # DATASETS_DIR
    return {k: Path((path / data[k]).resolve()) for k in ("train", "val", "test") if data.get(k)}


@pytest.mark.parametrize("subsets", [("train",), SUBSETS], ids=["one subset", "three subsets"])
def test_the_yolo_yaml_resolves_from_another_working_directory(split_project, tmp_path, monkeypatch, subsets):
    folder = unzip(export_to(split_project, "yolo_pose", subsets, tmp_path / "yolo.zip", include_images=True),
                   tmp_path / "unzipped" / "yolo")
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    text = (folder / "data.yaml").read_text()
    data = yaml.safe_load(text)
    assert "path" not in data
    assert data["kpt_shape"] == [24, 3] and sorted(data["flip_idx"]) == list(range(24))
    # ultralytics 8.4 PoseValidator.init_metrics: one positive sigma per keypoint under kpt_oks_sigmas
    assert data["kpt_oks_sigmas"] == pytest.approx(split_project.skeleton["sigmas"])
    assert len(data["kpt_oks_sigmas"]) == data["kpt_shape"][0] and min(data["kpt_oks_sigmas"]) > 0
    # ultralytics/data/utils.py DATASET_KEY_TYPES: the types check_det_dataset insists on
    for key, types in {"train": (str, list), "val": (str, list), "test": (str, list), "names": (list, dict),
                       "kpt_shape": (list,), "flip_idx": (list,)}.items():
        assert data.get(key) is None or isinstance(data[key], types), key
    for yaml_file in (os.path.relpath(folder / "data.yaml"), str(folder / "data.yaml")):
        paths = ultralytics_paths(yaml_file)
        assert set(paths) == ({"train", "val"} if len(subsets) == 1 else set(SUBSETS))
        for key, resolved in paths.items():
            assert resolved.is_dir() and resolved.parent == (folder / "images").resolve(), (key, resolved)
            assert any(resolved.iterdir()), key
            labels = Path(str(resolved).replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"))
            assert labels.is_dir()  # Ultralytics' img2label_paths: /images/ -> /labels/
    if len(subsets) == 1:
        assert data["val"] == data["train"] == "images/train"
        assert "# val: the exported 'train' subset (Ultralytics requires a val entry)" in text
    else:
        assert [data[s] for s in SUBSETS] == [f"images/{s}" for s in SUBSETS]


# -- MMPose: a complete config, loaded from anywhere ------------------------------------------------

def test_mmengine_loads_the_rtmpose_config_from_another_directory(split_project, tmp_path, monkeypatch):
    mmengine = pytest.importorskip("mmengine")
    folder = unzip(export_to(split_project, "mmpose", SUBSETS, tmp_path / "mm.zip"), tmp_path / "unzipped" / "mm")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = mmengine.Config.fromfile(os.path.relpath(folder / "config.py"))
    root = Path(cfg.data_root)
    assert root.is_absolute() and root.resolve() == folder.resolve()
    assert Path(cfg.metainfo["from_file"]).resolve() == (folder / "metainfo.py").resolve()
    assert cfg.model.backbone.type == "CSPNeXt" and cfg.model.head.type == "RTMCCHead"
    assert cfg.model.head.out_channels == cfg.num_keypoints == 24
    assert cfg.codec.type == "SimCCLabel" and cfg.model.head.decoder == cfg.codec
    assert [t["type"] for t in cfg.train_pipeline][0] == "LoadImage"
    assert "GenerateTarget" in [t["type"] for t in cfg.train_pipeline]
    assert [t["type"] for t in cfg.val_pipeline] == ["LoadImage", "GetBBoxCenterScale", "TopdownAffine",
                                                      "PackPoseInputs"]
    assert cfg.optim_wrapper.optimizer.type == "AdamW" and cfg.param_scheduler and cfg.train_cfg.max_epochs > 0
    for loader, subset in (("train_dataloader", "train"), ("val_dataloader", "val"), ("test_dataloader", "test")):
        dataset = cfg[loader].dataset
        assert dataset.ann_file == f"annotations/{subset}.json"
        assert (Path(dataset.data_root) / dataset.ann_file).is_file()
    assert Path(cfg.val_evaluator.ann_file).is_file()
    namespace: dict = {}
    exec(compile(Path(cfg.metainfo["from_file"]).read_text(), "metainfo.py", "exec"), namespace)
    assert len(namespace["dataset_info"]["sigmas"]) == 24


def test_a_one_subset_mmpose_export_points_every_loader_at_that_subset(split_project, tmp_path):
    mmengine = pytest.importorskip("mmengine")
    folder = unzip(export_to(split_project, "mmpose", ["train"], tmp_path / "mm.zip"), tmp_path / "mm")
    cfg = mmengine.Config.fromfile(str(folder / "config.py"))
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        assert (Path(cfg[loader].dataset.data_root) / cfg[loader].dataset.ann_file).is_file(), loader


# -- CVAT out ---------------------------------------------------------------------------------------

def test_the_cvat_coco_export_has_cvats_names_and_the_form_label_and_imports_back(split_project, tmp_path, users):
    from annotations.datasets.importing import import_cvat_zip
    from annotations.models import Annotation, Project

    source = json.loads(CORRECT_JSON.read_text())
    path = export_to(split_project, "cvat_coco", SUBSETS, tmp_path / "cvat.zip", include_images=True)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        docs = {s: json.loads(zf.read(f"annotations/person_keypoints_{s}.json")) for s in ("Train", "Validation",
                                                                                             "Test")}
    assert any(n.startswith("images/Validation/") for n in names)
    for doc in docs.values():
        category, = doc["categories"]
        assert category["name"] == "human"
        assert category["keypoints"] == source["categories"][0]["keypoints"]  # 17, "Left Shoulder", ...
        for a in doc["annotations"]:
            assert a["attributes"]["form_label"] in ("correct", "lumbar_error")
            assert len(a["keypoints"]) == 3 * 17
    total = sum(len(d["annotations"]) for d in docs.values())
    assert total == Annotation.objects.filter(project=split_project).count()

    # CVAT's multi-subset zip comes back as one source per subset, the same points and labels
    again = Project.create("again", "Again", "coco17_spine", user=users["pi"])
    result = import_cvat_zip(again, path)
    assert sorted(r["source"] for r in result["sources"]) == ["cvat.zip/Test", "cvat.zip/Train", "cvat.zip/Validation"]
    assert result["new_annotations"] == total and not result["missing_images_count"]
    assert sorted(again.import_sources.values_list("name", flat=True)) == sorted(r["source"] for r in result["sources"])
    before = {a.frame.file_name: (a.keypoints[:51], a.form_label.name)
              for a in Annotation.objects.filter(project=split_project).select_related("frame", "form_label")}
    after = {a.frame.file_name: (a.keypoints[:51], a.form_label.name)
             for a in Annotation.objects.filter(project=again).select_related("frame", "form_label")}
    assert after.keys() == before.keys()
    for name, (points, label) in before.items():
        assert after[name][1] == label
        assert after[name][0] == pytest.approx(points)


def test_datumaro_reads_the_cvat_coco_export_with_form_labels(split_project, tmp_path):
    path = export_to(split_project, "cvat_coco", SUBSETS, tmp_path / "cvat.zip")
    folder = unzip(path, tmp_path / "cvat_coco")
    out = run_datumaro(f"""
        import json
        from datumaro.components.dataset import Dataset
        ds = Dataset.import_from({str(folder)!r}, "coco_person_keypoints")
        labels = ds.categories()[__import__("datumaro").AnnotationType.label]
        points = ds.categories()[__import__("datumaro").AnnotationType.points]
        form, names = [], []
        for item in ds:
            for ann in item.annotations:
                if ann.type.name == "points":
                    form.append(ann.attributes.get("form_label"))
        names = list(points.items[0].labels) if points.items else []
        print(json.dumps({{"labels": [l.name for l in labels], "subsets": sorted(ds.subsets()), "form": form,
                          "names": names}}))
    """)
    assert "human" in out["labels"]
    assert out["subsets"] == ["Test", "Train", "Validation"]
    assert out["names"][:3] == ["Nose", "Left Eye", "Right Eye"]
    assert out["form"] and set(out["form"]) <= {"correct", "lumbar_error"}


CVAT_XML_POINT_ATTRS = {"label", "source", "outside", "occluded", "points"}


def test_the_cvat_xml_export_follows_cvat_1_1_with_skeletons_and_the_form_label(split_project, tmp_path):
    from annotations.models import Annotation

    path = export_to(split_project, "cvat_xml", SUBSETS, tmp_path / "cvat.zip")
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["annotations.xml", "images/Train/", "images/Validation/", "images/Test/"]
        root = ET.fromstring(zf.read("annotations.xml"))
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    labels = root.findall("meta/project/labels/label")
    assert [t.findtext("subset") for t in root.findall("meta/project/tasks/task")] == ["Train", "Validation", "Test"]
    human = [lb for lb in labels if lb.findtext("type") == "skeleton"]
    assert [lb.findtext("name") for lb in human] == ["human"]
    attribute = human[0].find("attributes/attribute")
    assert attribute.findtext("name") == "form_label" and attribute.findtext("input_type") == "select"
    assert set(attribute.findtext("values").split("\n")) >= {"correct", "lumbar_error"}
    sublabels = [lb.findtext("name") for lb in labels if lb.findtext("parent") == "human"]
    assert sublabels == json.loads(CORRECT_JSON.read_text())["categories"][0]["keypoints"]
    assert all(lb.findtext("type") == "points" for lb in labels if lb.findtext("parent") == "human")
    images = root.findall("image")
    assert {im.get("subset") for im in images} == {"Train", "Validation", "Test"}
    assert len({im.get("id") for im in images}) == len(images)
    skeletons = root.findall("image/skeleton")
    assert len(skeletons) == Annotation.objects.filter(project=split_project).count()
    by_name = {a.frame.file_name: a for a in Annotation.objects.filter(project=split_project)
               .select_related("frame", "form_label")}
    for image in images:
        for shape in image.findall("skeleton"):
            ann = by_name[image.get("name")]
            assert shape.get("label") == "human"
            assert [p.get("label") for p in shape.findall("points")] == sublabels
            assert all(set(p.attrib) == CVAT_XML_POINT_ATTRS for p in shape.findall("points"))
            assert shape.find("attribute[@name='form_label']").text == ann.form_label.name
            for k, p in enumerate(shape.findall("points")):
                x, y, v = ann.keypoints[3 * k:3 * k + 3]
                assert p.get("outside") == ("1" if v == 0 else "0")
                assert p.get("occluded") == ("1" if v == 1 else "0")
                if v:
                    assert [float(c) for c in p.get("points").split(",")] == pytest.approx([x, y], abs=0.006)


def test_datumaro_reads_the_cvat_xml_export_by_subset_with_cvats_point_labels(split_project, tmp_path):
    """Upstream datumaro reads CVAT 1.1 XML but not yet its <skeleton> element (CVAT's own fork does):
    it reads each skeleton's points as labelled points, per subset."""
    from annotations.models import Annotation

    folder = unzip(export_to(split_project, "cvat_xml", SUBSETS, tmp_path / "cvat.zip", include_images=True),
                   tmp_path / "cvat_xml")  # datumaro's CVAT reader needs the images
    out = run_datumaro(f"""
        import json
        from datumaro.components.dataset import Dataset
        from datumaro import AnnotationType
        ds = Dataset.import_from({str(folder)!r}, "cvat")
        labels = ds.categories()[AnnotationType.label]
        points, names, items = 0, set(), {{}}
        for item in ds:
            items[item.subset] = items.get(item.subset, 0) + 1
            for ann in item.annotations:
                if ann.type.name == "points":
                    points += 1
                    names.add(labels[ann.label].name)
        form = sorted(a for a in labels[labels.find("human")[0]].attributes)
        print(json.dumps({{"items": items, "points": points, "names": sorted(names), "form": form}}))
    """)
    frames = {s: Annotation.objects.filter(project=split_project, frame__split=s).values("frame").distinct().count()
              for s in SUBSETS}
    assert out["items"] == {"Train": frames["train"], "Validation": frames["val"], "Test": frames["test"]}
    assert out["points"] == 17 * Annotation.objects.filter(project=split_project).count()
    assert out["names"] == sorted(json.loads(CORRECT_JSON.read_text())["categories"][0]["keypoints"])
    assert out["form"] == ["form_label"]  # the skeleton label declares the form label attribute


# -- CVAT in: a zip with two subsets ----------------------------------------------------------------

def test_a_cvat_zip_with_train_and_validation_subsets_imports_as_two_sources(project, tmp_path):
    from annotations.datasets.importing import import_cvat_zip
    from annotations.models import Annotation, Frame, ImportSource

    data = json.loads(CORRECT_JSON.read_text())
    halves = {"Train": data["images"][:10], "Validation": data["images"][10:16]}
    archive = tmp_path / "task.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for subset, images in halves.items():
            ids = {im["id"] for im in images}
            part = {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}
            zf.writestr(f"annotations/person_keypoints_{subset}.json", json.dumps(part))
            for im in images:
                zf.write(CORRECT_IMAGES / im["file_name"], f"images/{subset}/{im['file_name']}")
    result = import_cvat_zip(project, archive, form_label="correct")
    assert [r["source"] for r in result["sources"]] == ["task.zip/Train", "task.zip/Validation"]
    assert result["frames"] == 16 and not result["missing_images_count"] and not result["unlisted_images_count"]
    sources = {s.name: s for s in ImportSource.objects.filter(project=project)}
    assert set(sources) == {"task.zip/Train", "task.zip/Validation"}
    for subset, images in halves.items():
        frames = Frame.objects.filter(project=project, source=sources[f"task.zip/{subset}"])
        assert sorted(frames.values_list("file_name", flat=True)) == sorted(im["file_name"] for im in images)
    expected = sum(1 for a in data["annotations"] if a["image_id"] in {im["id"] for im in data["images"][:16]})
    assert Annotation.objects.filter(project=project).count() == expected == result["new_annotations"]
