"""The streamed COCO export writes the same document as the record-based export it replaced."""

import json
import zipfile

import pytest

from annotations.datasets import exporting
from annotations.datasets.exporting import build_dataset
from annotations.datasets.formats.coco import coco_text, to_coco_dict
from annotations.datasets.splitting import create_split
from annotations.models import Annotation


def without_date(doc):
    return {**doc, "info": {k: v for k, v in doc["info"].items() if k != "date_created"}}


def previous_export(project, subset, version, include_unconfirmed):
    """What the export wrote before streaming: the dict of the records, and the text fast path."""
    verified_only = not include_unconfirmed
    parsed = to_coco_dict(build_dataset(project, subset, version, verified_only=verified_only, raw_json=False))
    fast = json.loads(coco_text(build_dataset(project, subset, version, verified_only=verified_only, raw_json=True)))
    assert without_date(json.loads(json.dumps(parsed))) == without_date(fast)
    return fast


@pytest.fixture
def mixed(imported):
    """barbell-row with every kind of annotation an export meets: points in each state, one annotation
    from before the skeleton grew, one without a form label, sources other than import."""
    create_split(imported)
    rows = list(Annotation.objects.filter(project=imported).order_by("id")[:6])
    K = imported.get_skeleton().num_keypoints
    short, predicted, all_verified, unverified, unlabelled, edited = rows
    Annotation.objects.filter(pk=short.pk).update(keypoints=short.keypoints[:51], keypoint_states=["verified"] * 17)
    Annotation.objects.filter(pk=predicted.pk).update(keypoint_states=["predicted"] * 5 + ["verified"] * (K - 5),
                                                      source="model")
    Annotation.objects.filter(pk=all_verified.pk).update(keypoint_states=["verified"] * K)
    Annotation.objects.filter(pk=unverified.pk).update(keypoint_states=["unverified"] * K, source="interpolated")
    Annotation.objects.filter(pk=unlabelled.pk).update(form_label=None)
    Annotation.objects.filter(pk=edited.pk).update(source="human")
    return imported


@pytest.mark.parametrize("include_unconfirmed", [False, True])
def test_a_streamed_coco_file_equals_the_previous_export(mixed, tmp_path, include_unconfirmed):
    version = mixed.split_versions.first()
    for subset in ("all", "train", "test"):
        out = tmp_path / f"{subset}.json"
        _, summary = exporting.export(mixed, "coco", [subset], include_unconfirmed=include_unconfirmed, out_path=out)
        streamed = json.loads(out.read_bytes())
        expected = previous_export(mixed, subset, version, include_unconfirmed)
        assert without_date(streamed) == without_date(expected)
        assert summary["counts"][subset] == {"images": len(expected["images"]),
                                             "annotations": len(expected["annotations"])}
        assert streamed["info"]["subset"] == subset and streamed["annotations"]


def test_unconfirmed_points_are_unlabelled_in_the_streamed_file_unless_asked_for(mixed, tmp_path):
    kept = tmp_path / "kept.json"
    exporting.export(mixed, "coco", ["all"], out_path=tmp_path / "plain.json")
    exporting.export(mixed, "coco", ["all"], include_unconfirmed=True, out_path=kept)
    plain = {a["id"]: a for a in json.loads((tmp_path / "plain.json").read_bytes())["annotations"]}
    every = {a["id"]: a for a in json.loads(kept.read_bytes())["annotations"]}
    for ann_id, a in plain.items():
        states = a["attributes"]["keypoint_states"]
        assert a["attributes"]["verified"] == [s == "verified" for s in states]
        for k, state in enumerate(states):
            if state != "verified":
                assert a["keypoints"][3 * k: 3 * k + 3] == [0, 0, 0]
            else:
                assert a["keypoints"][3 * k: 3 * k + 3] == every[ann_id]["keypoints"][3 * k: 3 * k + 3]
        assert a["num_keypoints"] == sum(v > 0 for v in a["keypoints"][2::3])
    assert any(a != every[i] for i, a in plain.items())


def test_a_streamed_zip_of_subsets_equals_the_previous_export(mixed, tmp_path):
    version = mixed.split_versions.first()
    out = tmp_path / "export.zip"
    _, summary = exporting.export(mixed, "coco", ["train", "val", "test"], out_path=out)
    assert summary["extension"] == ".zip"
    with zipfile.ZipFile(out) as zf:
        for subset in ("train", "val", "test"):
            doc = json.loads(zf.read(f"annotations/{subset}.json"))
            assert without_date(doc) == without_date(previous_export(mixed, subset, version, False))


def test_the_cached_download_is_the_streamed_export(mixed):
    version = mixed.split_versions.first()
    path, _ = exporting.cached_coco_file(mixed, "val", include_unconfirmed=True)
    assert without_date(json.loads(path.read_bytes())) == without_date(previous_export(mixed, "val", version, True))


def test_chunks_mixing_full_and_short_rows_are_written_each_as_stored(mixed, tmp_path, monkeypatch):
    """Rows decoded a chunk at a time by numpy and rows decoded one by one (shorter than the skeleton)
    meet in the same chunks; each is written as the record-based export writes it."""
    from annotations.datasets import coco_stream

    monkeypatch.setattr(coco_stream, "CHUNK", 3)
    short = list(Annotation.objects.filter(project=mixed).order_by("id"))[7:13:2]
    for ann in short:
        Annotation.objects.filter(pk=ann.pk).update(keypoints=ann.keypoints[:51],
                                                    keypoint_states=ann.keypoint_states[:17])
    for include_unconfirmed in (False, True):
        out = tmp_path / "all.json"
        exporting.export(mixed, "coco", ["all"], out_path=out, include_unconfirmed=include_unconfirmed)
        expected = previous_export(mixed, "all", mixed.split_versions.first(), include_unconfirmed)
        assert without_date(json.loads(out.read_bytes())) == without_date(expected)
        K = mixed.get_skeleton().num_keypoints
        assert all(len(a["keypoints"]) == 3 * K for a in json.loads(out.read_bytes())["annotations"])


def test_flags_stay_integers_and_coordinates_keep_their_exact_values(mixed, tmp_path):
    """PostgreSQL writes the texts around the points and numpy/orjson the points: v is an int (0, 1, 2),
    every coordinate parses back to the stored double, the area stays a float."""
    first = Annotation.objects.filter(project=mixed).order_by("id")[6]
    odd = [0.1 + 0.2, 1e-7, 123456.78901234567, 1e20, 2.0 / 3.0, 5e-324]
    kp = list(first.keypoints)
    for i, value in enumerate(odd):
        kp[3 * i], kp[3 * i + 1], kp[3 * i + 2] = value, -value, 2
    Annotation.objects.filter(pk=first.pk).update(keypoints=kp, area=1234.0)
    stored = {a.pk: a for a in Annotation.objects.filter(project=mixed)}
    out = tmp_path / "all.json"
    exporting.export(mixed, "coco", ["all"], include_unconfirmed=True, out_path=out)
    for a in json.loads(out.read_bytes())["annotations"]:
        ann = stored[a["id"]]
        assert all(type(v) is int and v in (0, 1, 2) for v in a["keypoints"][2::3])
        padded = list(ann.keypoints) + [0] * (len(a["keypoints"]) - len(ann.keypoints))  # rows made before K grew
        assert [float(x) for x in a["keypoints"]] == [float(x) for x in padded]
        assert type(a["area"]) is float and a["area"] == ann.area
    written = {a["id"]: a for a in json.loads(out.read_bytes())["annotations"]}[first.pk]
    assert written["keypoints"][:3] == [0.1 + 0.2, -(0.1 + 0.2), 2] and written["area"] == 1234.0
