"""Import of the real barbell-row CVAT exports: counts, pool, spine points, re-import, conflicts."""

import json

import pytest

from annotations.datasets.importing import import_coco_file
from annotations.models import Annotation, Clip, Frame, FrameStatus, Revision
from annotations.review.editing import save_edit
from tests.conftest import CORRECT_JSON, LUMBAR_JSON


def source_counts(path):
    data = json.loads(path.read_text())
    annotated = {a["image_id"] for a in data["annotations"]}
    return len(data["images"]), len(annotated)


def test_it_imports_the_real_files_with_the_dataset_counts(imported):
    correct, lumbar = imported.import_results
    assert correct["annotated"] == source_counts(CORRECT_JSON)[1] == 102
    assert lumbar["annotated"] == source_counts(LUMBAR_JSON)[1] == 108
    annotated = Frame.objects.filter(project=imported, annotations__isnull=False).distinct()
    assert annotated.count() == 210
    assert annotated.filter(annotations__form_label__name="correct").count() == 102
    assert annotated.filter(annotations__form_label__name="lumbar_error").count() == 108
    assert Clip.objects.filter(project=imported, frames__annotations__isnull=False).distinct().count() == 19


def test_it_keeps_unannotated_frames_as_the_unlabelled_pool(imported):
    listed = source_counts(CORRECT_JSON)[0] + source_counts(LUMBAR_JSON)[0]
    assert Frame.objects.filter(project=imported).count() == listed
    pool = Frame.objects.filter(project=imported, annotations__isnull=True)
    assert pool.count() == listed - 210
    assert set(pool.values_list("status", flat=True)) == {FrameStatus.UNLABELLED}


def test_it_reports_the_missing_and_unlisted_lumbar_images(imported):
    _, lumbar = imported.import_results
    assert lumbar["missing_images"] == ["53445_5_2.jpg"]
    assert lumbar["unlisted_images"] == ["52729_1_7.jpg", "52729_1_8.jpg", "52729_1_9.jpg", "52730_7_8.jpg"]
    frame = Frame.objects.get(project=imported, file_name="53445_5_2.jpg")
    assert not frame.has_image  # kept and reported, not dropped


def test_it_maps_title_case_names_and_fills_spine_points_as_heuristic(imported):
    data = json.loads(CORRECT_JSON.read_text())
    src = data["annotations"][0]
    image = next(i for i in data["images"] if i["id"] == src["image_id"])
    ann = Annotation.objects.get(frame__file_name=image["file_name"], project=imported)
    skeleton = imported.get_skeleton()
    # "Left Shoulder" in the file lands on left_shoulder of the project skeleton.
    i = skeleton.index("left_shoulder")
    j = data["categories"][0]["keypoints"].index("Left Shoulder")
    assert ann.keypoints[3 * i:3 * i + 2] == pytest.approx(src["keypoints"][3 * j:3 * j + 2], abs=0.01)
    assert ann.keypoint_states[:17] == ["verified"] * 17
    spine = [skeleton.index(n) for n in ("neck", "hip", "spine_01", "spine_03", "spine_05")]
    assert all(ann.keypoint_states[k] == "heuristic" for k in spine)
    assert all(ann.keypoints[3 * k + 2] == 1 for k in spine)


def test_it_takes_the_clip_and_frame_index_from_the_file_name(imported):
    frame = Frame.objects.select_related("clip").get(project=imported, file_name="52701_11_14.jpg")
    assert frame.clip.key == "52701_11" and frame.frame_index == 14


def test_a_second_import_of_the_same_file_changes_nothing(imported, project):
    before = dict(Annotation.objects.filter(project=project).values_list("id", "updated_at"))
    again = import_coco_file(project, LUMBAR_JSON, images_dir=LUMBAR_JSON.parent.parent / "images" / "lumbar",
                             form_label="lumbar_error")
    assert again["new_frames"] == 0 and again["new_annotations"] == 0 and again["revisions"] == 0
    assert again["unchanged"] == 108
    assert dict(Annotation.objects.filter(project=project).values_list("id", "updated_at")) == before
    assert Revision.objects.filter(project=project).count() == 0


def newer_export(folder, change):
    """Write a changed copy of the lumbar export; `change(data)` edits it in place."""
    data = json.loads((folder / "lumbar.json").read_text())
    change(data)
    path = folder / "lumbar_newer.json"
    path.write_text(json.dumps(data))
    return path, data


def test_a_newer_export_with_one_moved_keypoint_makes_exactly_one_revision(imported, project, lumbar_copy):
    def move(data):
        data["annotations"][5]["keypoints"][0] += 7.5  # the nose of one annotation moved
        data["annotations"].append({**data["annotations"][0], "id": 10_000,
                                    "image_id": next(i["id"] for i in data["images"]
                                                     if i["id"] not in {a["image_id"] for a in data["annotations"]})})

    path, data = newer_export(lumbar_copy, move)
    result = import_coco_file(project, path, images_dir=lumbar_copy / "images", form_label="lumbar_error",
                              source_name="lumbar_3_7_dell_111.json")
    assert result["revisions"] == 1
    assert result["new_annotations"] == 1
    assert result["unchanged"] == 107
    assert result["new_frames"] == 0
    revision = Revision.objects.get(project=project)
    assert revision.kind == "import"
    assert revision.after["keypoints"][0] == pytest.approx(revision.before["keypoints"][0] + 7.5, abs=0.01)
    assert Annotation.objects.filter(project=project).count() == 211


def test_a_newer_export_never_overwrites_a_correction_made_here(imported, project, lumbar_copy, users):
    data = json.loads(LUMBAR_JSON.read_text())
    target = data["annotations"][3]
    image = next(i for i in data["images"] if i["id"] == target["image_id"])
    ann = Annotation.objects.get(project=project, frame__file_name=image["file_name"])
    kp, _ = ann.padded_keypoints(project.num_keypoints)
    kp[0] += 3
    corrected = save_edit(ann.pk, users["annotator"], {"keypoints": kp}, ann.version)

    def move(d):
        d["annotations"][3]["keypoints"][0] += 11

    path, _ = newer_export(lumbar_copy, move)
    result = import_coco_file(project, path, images_dir=lumbar_copy / "images", form_label="lumbar_error")
    assert result["revisions"] == 0
    assert [c["annotation_id"] for c in result["conflicts"]] == [ann.pk]
    assert result["conflicts"][0]["file_name"] == image["file_name"]
    ann.refresh_from_db()
    assert ann.keypoints == corrected.keypoints and ann.version == corrected.version
    conflict = Revision.objects.get(project=project, kind="import_conflict")
    assert conflict.after["keypoints"][0] == pytest.approx(target["keypoints"][0] + 11, abs=0.01)


def test_a_zip_export_imports_with_its_images_copied(project, tmp_path, settings):
    import zipfile

    from annotations.datasets.importing import import_cvat_zip

    data = json.loads(LUMBAR_JSON.read_text())
    keep = [i for i in data["images"] if i["file_name"].startswith("52701_11_")]
    ids = {i["id"] for i in keep}
    data = {**data, "images": keep, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}
    archive = tmp_path / "task.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("annotations/person_keypoints_default.json", json.dumps(data))
        for image in keep:
            zf.write(LUMBAR_JSON.parent.parent / "images" / "lumbar" / image["file_name"],
                     f"images/default/{image['file_name']}")
    result = import_cvat_zip(project, archive, form_label="lumbar_error")
    assert (result["frames"] == len(keep)
            and result["annotated"] == len(ids & {a["image_id"] for a in data["annotations"]}))
    frame = Frame.objects.filter(project=project).first()
    assert frame.image and not frame.source_path
    with frame.open_image() as fh:
        assert fh.read(2) == b"\xff\xd8"  # a JPEG, copied into media storage


def test_a_project_with_labelled_annotations_can_be_deleted_but_a_label_in_use_cannot(imported):
    from django.db.models import RestrictedError

    from annotations.models import FormLabel, Project

    with pytest.raises(RestrictedError):
        FormLabel.objects.get(project=imported, name="correct").delete()
    imported.delete()
    assert not Project.objects.filter(slug="demo").exists()
    assert Annotation.objects.count() == 0 and Frame.objects.count() == 0


def test_a_plain_coco_file_imports_with_its_own_form_labels_and_clip_ids(imported, tmp_path):
    """Our own export (plain COCO, lower-case names, attributes.form_label, images[].clip_id) round-trips."""
    from annotations.datasets.exporting import export
    from annotations.models import Project

    path, _ = export(imported, "coco", ["all"], out_path=tmp_path / "all.json")
    data = json.loads(path.read_text())
    data["images"][0]["clip_id"] = "relabelled_clip"
    path.write_text(json.dumps(data))
    target = Project.create("copy", "Copy", "coco17_spine")
    result = import_coco_file(target, path)  # no --form-label: each annotation carries its own
    assert result["annotated"] == 210 and result["unmapped_keypoints"] == []
    assert [p for p in result["problems"] if p["action"] == "skipped"] == []
    labels = Annotation.objects.filter(project=target).values_list("form_label__name", flat=True)
    assert sorted(set(labels)) == ["correct", "lumbar_error"] and list(labels).count("correct") == 102
    assert Frame.objects.get(project=target, file_name=data["images"][0]["file_name"]).clip.key == "relabelled_clip"
    # the spine points came from the file this time, so nothing is re-guessed
    assert result["heuristic_points"] == 0
