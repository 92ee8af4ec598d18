"""Bad input to imports: every problem is reported clearly (file, id, reason) and a failing
import leaves the database and media storage exactly as they were."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import LUMBAR_IMAGES, LUMBAR_JSON, api_client, needs_dataset

pytestmark = needs_dataset


# -- helpers -----------------------------------------------------------------------------------

def row_counts() -> dict[str, int]:
    from annotations.models import Annotation, Clip, Frame, ImportSource

    return {m.__name__: m.objects.count() for m in (Frame, Annotation, Clip, ImportSource)}


def media_files(root) -> list[str]:
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored_frames(root) -> list[str]:
    return [f for f in media_files(root) if f.startswith("frames/")]


def small_task(n_annotated: int = 3, n_unannotated: int = 2) -> dict:
    """A small CVAT task cut from the real lumbar export: the first annotated and unannotated images."""
    data = json.loads(LUMBAR_JSON.read_text())
    on_disk = set(os.listdir(LUMBAR_IMAGES))
    annotated = {a["image_id"] for a in data["annotations"]}
    keep_annotated = [im for im in data["images"] if im["id"] in annotated and im["file_name"] in on_disk][:n_annotated]
    keep_plain = [im for im in data["images"]
                  if im["id"] not in annotated and im["file_name"] in on_disk][:n_unannotated]
    images = keep_annotated + keep_plain
    ids = {im["id"] for im in images}
    data["images"] = images
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    return data


def write_task(folder: Path, data: dict, name: str = "task.json") -> tuple[Path, Path]:
    """The JSON and a folder with exactly the images it lists (copied from the dataset)."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    for im in data["images"]:
        src = LUMBAR_IMAGES / im["file_name"]
        if src.exists():
            shutil.copy(src, images / im["file_name"])
    path = folder / name
    path.write_text(json.dumps(data))  # json.dumps writes NaN as NaN, as some exporters do
    return path, images


def task_zip(path: Path, data: dict, extra: dict[str, bytes] | None = None, *, images: bool = True) -> Path:
    """A CVAT-style export zip: annotations/person_keypoints_default.json, images/..., plus `extra` entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("annotations/person_keypoints_default.json", json.dumps(data))
        if images:
            for im in data["images"]:
                src = LUMBAR_IMAGES / im["file_name"]
                if src.exists():
                    zf.write(src, f"images/{im['file_name']}")
        for name, payload in (extra or {}).items():
            zf.writestr(name, payload)
    return path


def problems_for(result_or_exc, ident, *, warnings: bool = False) -> list[dict]:
    """Problems about `ident`; without the "keypoint outside the WxH image; kept" warnings that the
    real export has on its own (points annotated beyond the far edge), unless asked for."""
    problems = result_or_exc["problems"] if isinstance(result_or_exc, dict) else result_or_exc.problems
    return [p for p in problems
            if p["id"] == ident and (warnings or not p["reason"].startswith("keypoint outside the"))]


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header is patched to declare width x height pixels."""
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, "PNG")
    raw = bytearray(buf.getvalue())
    assert raw[12:16] == b"IHDR"
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])) & 0xFFFFFFFF)
    return bytes(raw)



@pytest.fixture
def import_file(project):
    from annotations.datasets.importing import import_coco_file

    def run(path, **kwargs):
        return import_coco_file(project, path, **kwargs)

    return run


@pytest.fixture
def import_zip(project):
    from annotations.datasets.importing import import_cvat_zip

    def run(path, **kwargs):
        return import_cvat_zip(project, path, **kwargs)

    return run


@pytest.fixture
def eager_jobs(settings):
    """Jobs started over REST run inline (on commit) instead of going to a worker."""
    from webapp.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def post_import(client, slug, payload: bytes, name: str, capture, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with capture(execute=True):
        response = client.post(f"/api/projects/{slug}/jobs/",
                               {"kind": "import", "file": SimpleUploadedFile(name, payload), **fields},
                               format="multipart")
    return response


# -- structure of the file ---------------------------------------------------------------------

def test_it_reports_malformed_json_with_the_file_name(project, tmp_path, import_file):
    from annotations.core.errors import InputError

    bad = tmp_path / "broken_task.json"
    bad.write_text('{"images": [{"id": 1, "file_name": "a.jpg"},')
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_file(bad)
    assert str(info.value).startswith("broken_task.json: malformed JSON")
    assert row_counts() == before


def test_it_reports_a_file_that_is_not_utf8_json(project, tmp_path, import_file):
    from annotations.core.errors import InputError

    bad = tmp_path / "binary.json"
    bad.write_bytes(os.urandom(64) + b"\xff\xfe")
    with pytest.raises(InputError, match=r"^binary\.json: malformed JSON"):
        import_file(bad)
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}


@pytest.mark.parametrize("payload, reason", [
    ([1, 2, 3], "top level is not a JSON object"),
    ("just a string", "top level is not a JSON object"),
    ({"annotations": [], "categories": []}, "missing or invalid 'images' list"),
    ({"images": [], "categories": []}, "missing or invalid 'annotations' list"),
    ({"images": {}, "annotations": [], "categories": []}, "missing or invalid 'images' list"),
    ({"images": [], "annotations": []}, "missing or invalid 'categories' list"),
    ({"images": [], "annotations": [], "categories": [{"id": 1, "name": "box"}]},
     "no category with a 'keypoints' name list"),
])
def test_it_reports_a_top_level_that_is_not_a_coco_object(project, tmp_path, import_file, payload, reason):
    from annotations.core.errors import InputError

    path = tmp_path / "shape.json"
    path.write_text(json.dumps(payload))
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_file(path)
    assert str(info.value) == f"shape.json: {reason}"
    assert row_counts() == before


# -- bad records: reported, skipped, the rest imported -------------------------------------------

def _import_with(tmp_path, import_file, mutate, **kwargs):
    """Import the small task after `mutate(data)`; returns (data, result)."""
    data = small_task()
    mutate(data)
    path, images = write_task(tmp_path / "task", data)
    return data, import_file(path, images_dir=images, **kwargs)


def _valid_annotation_ids(data) -> set:
    return {a["id"] for a in data["annotations"]}


def test_it_reports_annotations_with_the_wrong_number_of_keypoint_values(project, tmp_path, import_file):
    from annotations.models import Annotation

    def mutate(data):
        data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:-1]  # 50 values
        data["annotations"][1]["keypoints"] = data["annotations"][1]["keypoints"] + [1, 2, 2]  # 54 values

    data, result = _import_with(tmp_path, import_file, mutate)
    first, second = data["annotations"][0]["id"], data["annotations"][1]["id"]
    expected = 3 * len(data["categories"][0]["keypoints"])
    assert problems_for(result, first) == [{"file": "task.json", "id": first, "action": "skipped",
                                            "reason": f"expected {expected} keypoint values, got {expected - 1}"}]
    assert problems_for(result, second)[0]["reason"] == f"expected {expected} keypoint values, got {expected + 3}"
    stored = set(Annotation.objects.values_list("source_annotation_id", flat=True))
    assert stored == _valid_annotation_ids(data) - {first, second}


def test_it_reports_keypoints_that_are_not_numbers(project, tmp_path, import_file):
    from annotations.models import Annotation

    def mutate(data):
        data["annotations"][0]["keypoints"][4] = "twelve"

    data, result = _import_with(tmp_path, import_file, mutate)
    bad = data["annotations"][0]["id"]
    assert [p["reason"] for p in problems_for(result, bad)] == ["keypoints are not all numbers"]
    assert not Annotation.objects.filter(source_annotation_id=bad).exists()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_it_reports_nan_and_infinite_coordinates(project, tmp_path, import_file, value):
    from annotations.models import Annotation

    def mutate(data):
        data["annotations"][0]["keypoints"][3] = value

    data, result = _import_with(tmp_path, import_file, mutate)
    bad = data["annotations"][0]["id"]
    assert problems_for(result, bad) == [{"file": "task.json", "id": bad, "action": "skipped",
                                          "reason": "NaN or infinite keypoint coordinate"}]
    assert not Annotation.objects.filter(source_annotation_id=bad).exists()
    assert Annotation.objects.count() == len(data["annotations"]) - 1


def test_it_skips_coordinates_beyond_ten_times_the_image_size(project, tmp_path, import_file):
    from annotations.models import Annotation

    def mutate(data):
        ann = data["annotations"][0]
        image = next(im for im in data["images"] if im["id"] == ann["image_id"])
        ann["keypoints"][0:3] = [-11.0 * max(image["width"], image["height"]), 50.0, 2]

    data, result = _import_with(tmp_path, import_file, mutate)
    bad = data["annotations"][0]["id"]
    x = data["annotations"][0]["keypoints"][0]
    assert problems_for(result, bad) == [{"file": "task.json", "id": bad, "action": "skipped",
                                          "reason": f"keypoint Nose at ({x:g}, 50) is more than 10 x the image "
                                                    "size away from it", "keypoint": "Nose", "point": [x, 50.0]}]
    assert not Annotation.objects.filter(source_annotation_id=bad).exists()


@pytest.mark.parametrize("fraction", [0.03, 0.2, 5.0])
def test_it_keeps_negative_coordinates_with_a_warning_per_point(project, tmp_path, import_file, fraction):
    from annotations.models import Annotation

    holder = {}

    def mutate(data):
        ann = data["annotations"][0]
        image = next(im for im in data["images"] if im["id"] == ann["image_id"])
        holder["size"] = f"{image['width']}x{image['height']}"
        holder["x"] = -round(fraction * image["width"], 2)
        ann["keypoints"][0:3] = [holder["x"], 40.0, 1]

    data, result = _import_with(tmp_path, import_file, mutate)
    ann_id = data["annotations"][0]["id"]
    warnings = problems_for(result, ann_id, warnings=True)
    assert {"file": "task.json", "id": ann_id, "action": "kept", "keypoint": "Nose", "point": [holder["x"], 40.0],
            "reason": f"keypoint outside the {holder['size']} image: Nose at ({holder['x']:g}, 40); kept"} in warnings
    stored = Annotation.objects.get(source_annotation_id=ann_id)
    assert stored.keypoints[0:3] == [holder["x"], 40.0, 1]
    assert Annotation.objects.count() == len(data["annotations"])


@pytest.mark.parametrize("size", [10**15, 2**31, 100_001])
def test_an_absurd_image_size_is_a_problem_for_that_image_not_a_database_error(project, tmp_path, import_file,
                                                                                size):
    from annotations.models import Frame

    def mutate(data):
        data["images"][-1]["width"] = size  # an image nobody annotated

    data, result = _import_with(tmp_path, import_file, mutate)
    reported = [(p["id"], p["action"]) for p in result["problems"] if "invalid size" in p["reason"]]
    assert reported == [(data["images"][-1]["id"], "skipped")]
    assert not Frame.objects.filter(file_name=data["images"][-1]["file_name"]).exists()
    assert Frame.objects.count() == len(data["images"]) - 1


@pytest.mark.parametrize("bbox", [[0, 0, 1e200, 1e200], [0, 0, True, 5]])
def test_an_absurd_box_is_reported_and_its_annotation_skipped(project, tmp_path, import_file, bbox):
    from annotations.models import Annotation

    def mutate(data):
        data["annotations"][0]["bbox"] = bbox

    data, result = _import_with(tmp_path, import_file, mutate)
    bad = data["annotations"][0]["id"]
    assert problems_for(result, bad) == [{"file": "task.json", "id": bad, "action": "skipped",
                                          "reason": f"invalid bbox {bbox!r}"}]
    assert not Annotation.objects.filter(source_annotation_id=bad).exists()


def test_an_absurd_area_is_replaced_by_the_box_area(project, tmp_path, import_file):
    from annotations.models import Annotation

    def mutate(data):
        data["annotations"][0]["area"] = 1e300

    data, result = _import_with(tmp_path, import_file, mutate)
    ann = data["annotations"][0]
    stored = Annotation.objects.get(source_annotation_id=ann["id"])
    assert stored.area == pytest.approx(ann["bbox"][2] * ann["bbox"][3])


@pytest.mark.parametrize("flag", [3, -1, 0.5])
def test_it_reports_visibility_flags_outside_0_1_2(project, tmp_path, import_file, flag):
    from annotations.models import Annotation

    def mutate(data):
        data["annotations"][0]["keypoints"][2] = flag

    data, result = _import_with(tmp_path, import_file, mutate)
    bad = data["annotations"][0]["id"]
    assert [p["reason"] for p in problems_for(result, bad)] == ["visibility flags must be 0, 1 or 2"]
    assert set(Annotation.objects.values_list("source_annotation_id", flat=True)) == _valid_annotation_ids(data) - {bad}


def test_it_reports_annotations_of_unknown_image_ids(project, tmp_path, import_file):
    from annotations.models import Annotation

    holder = {}

    def mutate(data):
        holder["unknown"] = max(im["id"] for im in data["images"]) + 1000
        data["annotations"][0]["image_id"] = holder["unknown"]

    data, result = _import_with(tmp_path, import_file, mutate)
    bad = data["annotations"][0]["id"]
    assert problems_for(result, bad) == [{"file": "task.json", "id": bad, "action": "skipped",
                                          "reason": f"unknown image id {holder['unknown']}"}]
    assert Annotation.objects.count() == len(data["annotations"]) - 1


def test_it_reports_duplicate_image_ids_and_keeps_the_first(project, tmp_path, import_file):
    from annotations.models import Frame

    holder = {}

    def mutate(data):
        first, last = data["images"][0], data["images"][-1]
        holder["dup_id"], holder["first"], holder["skipped"] = first["id"], first["file_name"], last["file_name"]
        last["id"] = first["id"]

    data, result = _import_with(tmp_path, import_file, mutate)
    assert problems_for(result, holder["dup_id"]) == [
        {"file": "task.json", "id": holder["dup_id"], "action": "skipped",
         "reason": "duplicate image id; later entry skipped"}]
    names = set(Frame.objects.values_list("file_name", flat=True))
    assert holder["first"] in names and holder["skipped"] not in names
    assert len(names) == len(data["images"]) - 1
    # the image folder still holds the skipped entry's file: it is reported as not listed
    assert holder["skipped"] in result["unlisted_images"]


def test_it_reports_duplicate_annotation_ids_and_keeps_the_first(project, tmp_path, import_file):
    from annotations.models import Annotation

    holder = {}

    def mutate(data):
        a, b = data["annotations"][0], data["annotations"][1]
        holder["dup"], holder["kept_image"], holder["lost_image"] = a["id"], a["image_id"], b["image_id"]
        b["id"] = a["id"]

    data, result = _import_with(tmp_path, import_file, mutate)
    assert problems_for(result, holder["dup"]) == [{"file": "task.json", "id": holder["dup"], "action": "skipped",
                                                    "reason": "duplicate annotation id; later entry skipped"}]
    assert Annotation.objects.count() == len(data["annotations"]) - 1
    kept = Annotation.objects.get(source_annotation_id=holder["dup"])
    assert kept.frame.source_image_id == holder["kept_image"]
    assert not Annotation.objects.filter(frame__source_image_id=holder["lost_image"]).exists()


def test_it_reports_unknown_form_labels_in_the_file_and_imports_without_one(project, tmp_path, import_file):
    from annotations.models import Annotation

    def mutate(data):
        data["annotations"][0]["attributes"]["form_label"] = "wobbly_knees"
        data["annotations"][1]["attributes"]["form_label"] = "correct"

    data, result = _import_with(tmp_path, import_file, mutate)
    bad, good = data["annotations"][0]["id"], data["annotations"][1]["id"]
    [problem] = problems_for(result, bad)
    assert (problem["file"], problem["reason"]) == ("task.json",
                                                    "unknown form label 'wobbly_knees'; imported without a label")
    assert Annotation.objects.get(source_annotation_id=bad).form_label is None
    assert Annotation.objects.get(source_annotation_id=good).form_label.name == "correct"


def test_it_rejects_an_unknown_form_label_for_the_whole_import(project, tmp_path, import_file):
    from annotations.core.errors import InputError

    path, images = write_task(tmp_path / "task", small_task())
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_file(path, images_dir=images, form_label="squat_depth")
    assert str(info.value) == "unknown form label 'squat_depth'; this project has ['correct', 'lumbar_error']"
    assert row_counts() == before


# -- images: missing, unlisted, corrupt, bombs -------------------------------------------------

def test_it_reports_missing_and_unlisted_images_of_the_real_export(project, import_file):
    from annotations.models import Frame

    data = json.loads(LUMBAR_JSON.read_text())
    listed = {im["file_name"] for im in data["images"]}
    on_disk = {n for n in os.listdir(LUMBAR_IMAGES) if n.endswith(".jpg")}
    assert listed - on_disk and on_disk - listed  # the dataset's own mess, kept on purpose

    result = import_file(LUMBAR_JSON, images_dir=LUMBAR_IMAGES, form_label="lumbar_error")
    assert result["missing_images"] == sorted(listed - on_disk)
    assert result["missing_images_count"] == len(listed - on_disk)
    assert result["unlisted_images"] == sorted(on_disk - listed)
    assert result["unlisted_images_count"] == len(on_disk - listed)
    # frames whose image is missing are kept (their size is in the file), without an image
    for name in listed - on_disk:
        frame = Frame.objects.get(file_name=name)
        assert not frame.has_image
    # unlisted images do not become frames
    assert not Frame.objects.filter(file_name__in=on_disk - listed).exists()
    assert Frame.objects.count() == len(listed)


def test_it_keeps_a_frame_without_its_image_when_the_jpg_is_corrupt(project, tmp_path, import_file, media_in_tmp):
    from annotations.models import Annotation, Frame

    data = small_task()
    path, images = write_task(tmp_path / "task", data)
    victim = data["images"][0]
    (images / victim["file_name"]).write_bytes(os.urandom(4096))
    result = import_file(path, images_dir=images, copy_images=True)

    problems = problems_for(result, victim["id"])
    assert len(problems) == 1
    assert problems[0]["file"] == "task.json"
    assert problems[0]["reason"].startswith(f"{victim['file_name']}: not a readable image")
    assert problems[0]["reason"].endswith("frame kept without its image")
    frame = Frame.objects.get(file_name=victim["file_name"])
    assert not frame.has_image
    assert Annotation.objects.filter(frame=frame).count() == sum(
        1 for a in data["annotations"] if a["image_id"] == victim["id"])
    # the good images were copied, the corrupt one was not
    expected = sorted(f"frames/{project.slug}/{im['file_name']}" for im in data["images"][1:])
    assert stored_frames(media_in_tmp) == expected


def test_it_skips_a_frame_whose_corrupt_image_is_its_only_size(project, tmp_path, import_file):
    from annotations.models import Frame

    data = small_task()
    victim = data["images"][-1]  # unannotated
    del victim["width"], victim["height"]
    path, images = write_task(tmp_path / "task", data)
    (images / victim["file_name"]).write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    result = import_file(path, images_dir=images)
    [problem] = problems_for(result, victim["id"])
    assert problem["reason"].startswith(f"{victim['file_name']}: not a readable image")
    assert not Frame.objects.filter(file_name=victim["file_name"]).exists()
    assert Frame.objects.count() == len(data["images"]) - 1


@pytest.mark.parametrize("size, reason", [
    ((20000, 20000), "decompression bomb"),  # beyond Pillow's own hard limit
    ((8000, 8000), "8000x8000 image exceeds 50,000,000 pixels"),  # below Pillow's, above ours
])
def test_it_reports_a_decompression_bomb_image(project, tmp_path, import_file, media_in_tmp, size, reason):
    from annotations.models import Frame

    data = small_task()
    victim = data["images"][0]
    victim["file_name"] = victim["file_name"].replace(".jpg", ".png")
    path, images = write_task(tmp_path / "task", data)
    bomb = png_declaring(*size)
    assert len(bomb) < 200
    (images / victim["file_name"]).write_bytes(bomb)
    result = import_file(path, images_dir=images, copy_images=True)
    [problem] = problems_for(result, victim["id"])
    assert problem["file"] == "task.json"
    assert problem["reason"].startswith(f"{victim['file_name']}: {reason}")
    assert not Frame.objects.get(file_name=victim["file_name"]).has_image
    assert f"frames/{project.slug}/{victim['file_name']}" not in stored_frames(media_in_tmp)


# -- zips ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["../escape.jpg", "images/../../escape.jpg", "/etc/escape.jpg",
                                   "C:/windows/escape.jpg", "..\\escape.jpg"])
def test_it_refuses_a_zip_with_entries_that_escape_the_archive(project, tmp_path, import_zip, media_in_tmp, entry):
    from annotations.core.errors import InputError

    archive = task_zip(tmp_path / "export.zip", small_task(), {entry: b"\xff\xd8\xff"})
    with zipfile.ZipFile(archive) as zf:
        assert entry in zf.namelist()  # zipfile kept the hostile name as written
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_zip(archive)
    assert str(info.value) == "export.zip: refused, 1 unsafe entries"
    assert info.value.problems == [{"file": "export.zip", "id": entry,
                                    "reason": "path escapes the archive (absolute or '..')"}]
    assert row_counts() == before
    assert stored_frames(media_in_tmp) == []
    assert not (tmp_path.parent / "escape.jpg").exists()


def test_it_refuses_a_zip_with_a_symbolic_link(project, tmp_path, import_zip, media_in_tmp):
    from annotations.core.errors import InputError

    data = small_task()
    archive = task_zip(tmp_path / "links.zip", data)
    link = zipfile.ZipInfo("images/secret.jpg")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_zip(archive)
    assert str(info.value) == "links.zip: refused, 1 unsafe entries"
    assert info.value.problems == [{"file": "links.zip", "id": "images/secret.jpg", "reason": "symbolic link"}]
    assert row_counts() == before
    assert stored_frames(media_in_tmp) == []


def test_it_refuses_a_zip_bomb(project, tmp_path, import_zip, media_in_tmp):
    from annotations.core.errors import InputError

    data = small_task()
    archive = task_zip(tmp_path / "bomb.zip", data, {"images/padding.jpg": b"\0" * (8 * 1024**2)})
    with zipfile.ZipFile(archive) as zf:
        info_ = zf.getinfo("images/padding.jpg")
        assert info_.file_size / info_.compress_size > 200
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_zip(archive)
    assert str(info.value) == "bomb.zip: refused, 1 unsafe entries"
    assert info.value.problems == [{"file": "bomb.zip", "id": "images/padding.jpg",
                                    "reason": "compression ratio suggests a zip bomb"}]
    assert row_counts() == before
    assert stored_frames(media_in_tmp) == []


def test_it_refuses_a_zip_entry_that_inflates_beyond_its_declared_size(project, tmp_path, import_zip):
    """A forged header (small declared size, big payload) must not get past the extractor."""
    from annotations.core.errors import InputError

    data = small_task()
    archive = task_zip(tmp_path / "forged.zip", data, {"images/zz.bin": os.urandom(300_000)})
    raw = bytearray(archive.read_bytes())
    # Patch the declared uncompressed size of the last entry in both the local and central headers.
    local = raw.rfind(b"PK\x03\x04")
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, local + 22, 1000)
    struct.pack_into("<I", raw, central + 24, 1000)
    archive.write_bytes(bytes(raw))
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_zip(archive)
    assert str(info.value).startswith("forged.zip: entry 'images/zz.bin' ")
    assert [p["id"] for p in info.value.problems] == ["images/zz.bin"]
    assert row_counts() == before


def test_it_reports_a_zip_entry_with_corrupt_data(project, tmp_path, import_zip):
    from annotations.core.errors import InputError

    data = small_task()
    archive = task_zip(tmp_path / "crc.zip", data, {"images/zz.bin": os.urandom(4000)})
    raw = bytearray(archive.read_bytes())
    central = raw.rfind(b"PK\x01\x02")
    local = raw.rfind(b"PK\x03\x04")
    crc = struct.unpack_from("<I", raw, central + 16)[0] ^ 0xFFFF
    struct.pack_into("<I", raw, central + 16, crc)
    struct.pack_into("<I", raw, local + 14, crc)
    archive.write_bytes(bytes(raw))
    before = row_counts()
    with pytest.raises(InputError) as info:
        import_zip(archive)
    assert str(info.value).startswith("crc.zip: entry 'images/zz.bin' is corrupt or unreadable (Bad CRC-32")
    assert [p["id"] for p in info.value.problems] == ["images/zz.bin"]
    assert row_counts() == before


def test_it_reports_a_file_that_is_not_a_zip(project, tmp_path, import_zip):
    from annotations.core.errors import InputError

    fake = tmp_path / "export.zip"
    fake.write_bytes(b"PK\x03\x04" + os.urandom(100))
    with pytest.raises(InputError, match=r"^export\.zip: not a valid zip file"):
        import_zip(fake)
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}


def test_it_reports_and_skips_non_image_files_in_a_zip(project, tmp_path, import_zip, media_in_tmp):
    from annotations.models import Frame

    data = small_task()
    stray = sorted(set(os.listdir(LUMBAR_IMAGES)) - {im["file_name"] for im in data["images"]})[0]
    archive = task_zip(tmp_path / "extras.zip", data, {"README.txt": b"hello", "images/thumbs.db": b"\0" * 10,
                                                       "scripts/run.sh": b"rm -rf /",
                                                       f"images/{stray}": (LUMBAR_IMAGES / stray).read_bytes()})
    result = import_zip(archive)
    assert result["unlisted_images"] == [stray] and result["unlisted_images_count"] == 1
    assert result["missing_images"] == []
    skipped = sorted(p["id"] for p in result["problems"] if p["reason"] == "not an image or annotation file; skipped")
    assert skipped == sorted(["README.txt", "images/thumbs.db", "scripts/run.sh"])
    assert all(p["file"] == "extras.zip" for p in result["problems"])
    assert Frame.objects.count() == len(data["images"])
    assert stored_frames(media_in_tmp) == sorted(f"frames/{project.slug}/{im['file_name']}" for im in data["images"])


def test_it_refuses_a_zip_without_an_annotation_file_or_with_two_for_one_subset(project, tmp_path, import_zip):
    from annotations.core.errors import InputError

    data = small_task()
    archive = task_zip(tmp_path / "two.zip", data, {"more/person_keypoints_default.json": json.dumps(data).encode()})
    with pytest.raises(InputError) as info:
        import_zip(archive)
    assert str(info.value).startswith("two.zip: two annotation JSONs for the same subset")
    archive = tmp_path / "none.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("images/readme.txt", "no annotations here")
    with pytest.raises(InputError) as info:
        import_zip(archive)
    assert str(info.value) == "none.zip: no annotation JSON in the zip"
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}


def test_it_keeps_a_frame_without_its_image_when_a_zipped_jpg_is_corrupt(project, tmp_path, import_zip,
                                                                        media_in_tmp):
    from annotations.models import Frame

    data = small_task()
    victim = data["images"][1]
    archive = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("annotations/instances.json", json.dumps(data))
        for im in data["images"]:
            payload = os.urandom(2048) if im is victim else (LUMBAR_IMAGES / im["file_name"]).read_bytes()
            zf.writestr(f"images/{im['file_name']}", payload)
    result = import_zip(archive)
    [problem] = problems_for(result, victim["id"])
    assert problem["file"] == "corrupt.zip"
    assert problem["reason"].startswith(f"{victim['file_name']}: not a readable image")
    assert not Frame.objects.get(file_name=victim["file_name"]).has_image
    assert Frame.objects.count() == len(data["images"])
    assert f"frames/{project.slug}/{victim['file_name']}" not in stored_frames(media_in_tmp)
    assert len(stored_frames(media_in_tmp)) == len(data["images"]) - 1


def test_it_reports_a_decompression_bomb_inside_a_zip(project, tmp_path, import_zip, media_in_tmp):
    from annotations.models import Frame

    data = small_task()
    victim = data["images"][0]
    victim["file_name"] = victim["file_name"].replace(".jpg", ".png")
    archive = task_zip(tmp_path / "pixels.zip", data, {f"images/{victim['file_name']}": png_declaring(20000, 20000)})
    result = import_zip(archive)
    [problem] = problems_for(result, victim["id"])
    assert problem["reason"].startswith(f"{victim['file_name']}: decompression bomb")
    assert not Frame.objects.get(file_name=victim["file_name"]).has_image


# -- failures in the middle: nothing half-written ---------------------------------------------------

def test_it_leaves_database_and_media_as_they_were_when_writing_fails_midway(project, tmp_path, import_file,
                                                                            media_in_tmp, monkeypatch):
    from annotations.datasets import import_annotations, import_frames
    from annotations.models import Annotation

    # A first import that succeeds: the state that must survive the failing one.
    first = small_task(n_annotated=2, n_unannotated=1)
    path, images = write_task(tmp_path / "first", first, "first.json")
    import_file(path, images_dir=images, copy_images=True)
    before_rows = row_counts()
    before_media = media_files(media_in_tmp)
    before_annotations = sorted(Annotation.objects.values_list("id", "keypoints", "version"))
    assert before_rows["Annotation"] == len(first["annotations"])

    # A larger, changed export of the same task whose writing fails after the images were copied.
    second = small_task(n_annotated=4, n_unannotated=3)
    for ann in second["annotations"]:
        ann["keypoints"][0] += 5.0
    path, images = write_task(tmp_path / "second", second, "first.json")
    copied = []
    real_store = import_frames.FrameImport._store_image

    def store_and_remember(self, *args):
        name = real_store(self, *args)
        copied.append(name)
        return name

    def fail(self, *args, **kwargs):
        raise RuntimeError("disk full while writing annotations")

    monkeypatch.setattr(import_frames.FrameImport, "_store_image", store_and_remember)
    monkeypatch.setattr(import_annotations.AnnotationImport, "write", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(path, images_dir=images, copy_images=True)

    assert copied, "the failure must come after some images were copied"
    assert row_counts() == before_rows
    assert sorted(Annotation.objects.values_list("id", "keypoints", "version")) == before_annotations
    assert media_files(media_in_tmp) == before_media


def test_it_removes_copied_images_when_a_zip_import_fails_midway(project, tmp_path, import_zip, media_in_tmp,
                                                                  monkeypatch):
    from annotations.datasets import import_annotations

    def fail(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(import_annotations.AnnotationImport, "write", fail)
    archive = task_zip(tmp_path / "midway.zip", small_task())
    with pytest.raises(RuntimeError):
        import_zip(archive)
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}
    assert stored_frames(media_in_tmp) == []


# -- over REST -----------------------------------------------------------------------------------

@pytest.mark.django_db(databases=["default", "jobstate"])
def test_it_answers_400_with_a_message_for_an_oversized_upload(project, users, settings, media_in_tmp,
                                                               django_capture_on_commit_callbacks):
    from annotations.models import Job

    settings.POSEREVIEW_MAX_UPLOAD_BYTES = 1000
    payload = json.dumps(small_task()).encode()
    assert len(payload) > 1000
    response = post_import(api_client(users["pi"]), project.slug, payload, "big_task.json",
                           django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["detail"] == (f"big_task.json: {len(payload):,} bytes exceeds the upload limit of "
                                         "1,000 bytes")
    assert Job.objects.count() == 0
    assert media_files(media_in_tmp) == []
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_it_fails_a_rest_import_of_malformed_json_with_the_file_name(project, users, eager_jobs,
                                                                      django_capture_on_commit_callbacks):
    from annotations.models import Job

    response = post_import(api_client(users["pi"]), project.slug, b'{"images": [', "cvat_task.json",
                           django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.message.startswith("cvat_task.json: malformed JSON")
    assert job.traceback == ""  # bad input is not a crash
    detail = api_client(users["pi"]).get(f"/api/jobs/{job.pk}/").json()
    assert detail["status"] == "failed" and detail["message"] == job.message
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_it_fails_a_rest_import_of_a_hostile_zip_listing_each_entry(project, users, tmp_path, eager_jobs,
                                                                     media_in_tmp, django_capture_on_commit_callbacks):
    from annotations.models import Job

    archive = task_zip(tmp_path / "hostile.zip", small_task(), {"../../etc/cron.d/x": b"* * * * * root true",
                                                                "images/bomb.jpg": b"\0" * (4 * 1024**2)})
    response = post_import(api_client(users["pi"]), project.slug, archive.read_bytes(), "hostile.zip",
                           django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.message == "hostile.zip: refused, 2 unsafe entries"
    assert sorted((p["id"], p["reason"]) for p in job.result["problems"]) == [
        ("../../etc/cron.d/x", "path escapes the archive (absolute or '..')"),
        ("images/bomb.jpg", "compression ratio suggests a zip bomb"),
    ]
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}
    assert stored_frames(media_in_tmp) == []


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_it_fails_a_rest_import_with_an_unknown_form_label(project, users, eager_jobs,
                                                            django_capture_on_commit_callbacks):
    from annotations.models import Job

    payload = json.dumps(small_task()).encode()
    response = post_import(api_client(users["pi"]), project.slug, payload, "task.json",
                           django_capture_on_commit_callbacks, form_label="half_rep")
    assert response.status_code == 202  # the label is checked by the job, before it writes anything
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.message == "unknown form label 'half_rep'; this project has ['correct', 'lumbar_error']"
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_it_reports_record_problems_in_the_result_of_a_rest_import(project, users, eager_jobs,
                                                                    django_capture_on_commit_callbacks):
    from annotations.models import Job

    data = small_task()
    data["annotations"][0]["keypoints"][5] = 7
    bad = data["annotations"][0]["id"]
    response = post_import(api_client(users["pi"]), project.slug, json.dumps(data).encode(), "task.json",
                           django_capture_on_commit_callbacks)
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED
    assert {"file": "task.json", "id": bad, "action": "skipped",
            "reason": "visibility flags must be 0, 1 or 2"} in job.result["problems"]
    assert job.result["new_annotations"] == len(data["annotations"]) - 1
    # no images were sent: every listed image is reported missing
    assert job.result["missing_images"] == sorted(im["file_name"] for im in data["images"])


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_it_fails_a_rest_import_that_breaks_midway_and_keeps_its_traceback(project, users, tmp_path, eager_jobs,
                                                                           media_in_tmp, monkeypatch,
                                                                           django_capture_on_commit_callbacks):
    from annotations.datasets import import_annotations
    from annotations.models import Job

    def fail(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_annotations.AnnotationImport, "write", fail)
    archive = task_zip(tmp_path / "task.zip", small_task())
    response = post_import(api_client(users["pi"]), project.slug, archive.read_bytes(), "task.zip",
                           django_capture_on_commit_callbacks)
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.message == "RuntimeError: disk full"
    assert "RuntimeError: disk full" in job.traceback
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}
    assert stored_frames(media_in_tmp) == []


def test_it_shows_an_unknown_form_label_on_the_import_form(project, users, client):
    from annotations.models import Job

    client.force_login(users["pi"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(f"/p/{project.slug}/jobs/import/",
                           {"file": SimpleUploadedFile("t.json", b"{}"), "form_label": "half_rep"}, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("form_label" in m and "half_rep" in m for m in messages), messages
    assert Job.objects.count() == 0


def test_it_names_the_malformed_annotation_file_inside_a_zip(project, tmp_path, import_zip, media_in_tmp):
    from annotations.core.errors import InputError

    archive = tmp_path / "cvat_export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("annotations/person_keypoints_default.json", '{"images": [}')
        zf.write(LUMBAR_IMAGES / sorted(os.listdir(LUMBAR_IMAGES))[0], "images/frame.jpg")
    with pytest.raises(InputError, match=r"^person_keypoints_default\.json: malformed JSON"):
        import_zip(archive)
    assert row_counts() == {"Frame": 0, "Annotation": 0, "Clip": 0, "ImportSource": 0}
    assert media_files(media_in_tmp) == []


def test_it_shows_an_oversized_upload_on_the_project_page_without_starting_a_job(project, users, client, settings,
                                                                                  media_in_tmp):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.models import Job

    settings.POSEREVIEW_MAX_UPLOAD_BYTES = 10
    client.force_login(users["pi"])
    response = client.post(f"/p/{project.slug}/jobs/import/",
                           {"file": SimpleUploadedFile("huge.json", b'{"images": []}' * 10)}, follow=True)
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "huge.json: 140 bytes exceeds the upload limit of 10 bytes"]
    assert Job.objects.count() == 0
    assert media_files(media_in_tmp) == []
