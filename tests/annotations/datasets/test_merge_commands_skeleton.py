"""Merge jobs, the management commands' JSON output, clip patterns and growing skeletons."""

import io
import json

import pytest
from django.core.management import call_command

from annotations.core.jobs import start_job
from annotations.datasets import exporting
from annotations.datasets.importing import import_coco_data, import_coco_file
from annotations.models import Annotation, Clip, Frame, Job, Project
from annotations.review.editing import save_edit
from tests.conftest import CORRECT_IMAGES, CORRECT_JSON, LUMBAR_IMAGES, LUMBAR_JSON, needs_dataset

# Jobs report progress through the second ("jobstate") connection.
pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def run_command(*args) -> dict:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@needs_dataset
def test_import_coco_creates_the_project_and_prints_the_summary(db):
    summary = run_command("import_coco", "cli", str(LUMBAR_JSON), "--images", str(LUMBAR_IMAGES),
                          "--form-label", "lumbar_error", "--create")
    assert {"frames", "annotated", "clips", "missing_images", "unlisted_images", "revisions",
            "conflicts"} <= set(summary)
    source = json.loads(LUMBAR_JSON.read_text())
    assert summary["frames"] == len(source["images"])
    assert summary["annotated"] == len({a["image_id"] for a in source["annotations"]})
    assert summary["missing_images"] == ["53445_5_2.jpg"] and len(summary["unlisted_images"]) == 4
    assert Project.objects.get(slug="cli").skeleton_preset == "coco17_spine"


@needs_dataset
def test_split_and_export_commands_write_a_loadable_split(imported, tmp_path):
    split = run_command("split", imported.slug, "--seed", "7")
    assert split["split_version"] == 1
    out = tmp_path / "val.json"
    summary = run_command("export_coco", imported.slug, "--split", "val", "--out", str(out))
    exported = json.loads(out.read_text())
    assert len(exported["images"]) == summary["counts"]["val"]["images"] == split["subsets"]["val"]["annotations"]


@needs_dataset
def test_a_merge_job_renumbers_ids_and_leaves_out_unannotated_frames(project, users):
    other = Project.create("other", "Other", "coco17_spine", user=users["pi"])
    import_coco_file(project, CORRECT_JSON, images_dir=CORRECT_IMAGES, form_label="correct")
    import_coco_file(other, LUMBAR_JSON, images_dir=LUMBAR_IMAGES, form_label="lumbar_error")
    target = Project.create("merged", "Merged", "coco17_spine", user=users["pi"])
    job = start_job(project, "merge", {"projects": ["demo", "other"], "into": "merged"}, users["pi"], run_now=True)
    assert job.status == Job.Status.SUCCEEDED, job.message
    with job.result_file.open("rb") as fh:
        merged = json.load(fh)
    assert len(merged["images"]) == 210 and len(merged["annotations"]) == 210
    assert sorted(i["id"] for i in merged["images"]) == list(range(1, 211))
    assert sorted(a["id"] for a in merged["annotations"]) == list(range(1, 211))
    labels = [a["attributes"]["form_label"] for a in merged["annotations"]]
    assert labels.count("correct") == 102 and labels.count("lumbar_error") == 108
    assert Frame.objects.filter(project=target).count() == 210  # no unlabelled pool in a merge
    assert Annotation.objects.filter(project=target, form_label__name="lumbar_error").count() == 108


def test_a_merge_needs_read_access_to_every_source(project, users):
    Project.create("secret", "Secret", "coco17_spine", user=users["outsider"])
    job = start_job(project, "merge", {"projects": ["demo", "secret"]}, users["pi"], run_now=True)
    assert job.status == Job.Status.FAILED and "secret" in job.message


def test_a_project_clip_pattern_decides_clip_and_frame_index(project):
    project.clip_pattern = r"^(?P<clip>[a-z]+-\d+)-f(?P<frame>\d+)$"
    project.save()
    data = {
        "images": [{"id": 1, "file_name": "squat-3-f0007.png", "width": 100, "height": 100},
                   {"id": 2, "file_name": "oddname.png", "width": 100, "height": 100}],
        "annotations": [],
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose"]}],
    }
    import_coco_data(project, data, source_name="pattern.json", image_files={})
    frame = Frame.objects.select_related("clip").get(project=project, file_name="squat-3-f0007.png")
    assert frame.clip.key == "squat-3" and frame.frame_index == 7
    odd = Frame.objects.select_related("clip").get(project=project, file_name="oddname.png")
    assert odd.clip.key == "oddname" and odd.frame_index is None
    assert Clip.objects.filter(project=project).count() == 2


@needs_dataset
def test_a_skeleton_that_gains_keypoints_keeps_every_stored_annotation(imported, users):
    before = Annotation.objects.filter(project=imported).count()
    imported.add_keypoints(["left_big_toe", "right_big_toe"], [0.079, 0.079])
    imported.refresh_from_db()
    assert imported.num_keypoints == 26
    doc = json.loads(open(exporting.cached_coco_file(imported, "all")[0]).read())
    assert doc["categories"][0]["keypoints"][-2:] == ["left_big_toe", "right_big_toe"]
    assert len(doc["annotations"]) == before
    assert all(len(a["keypoints"]) == 78 and a["keypoints"][-6:] == [0, 0, 0, 0, 0, 0] for a in doc["annotations"])
    # an old annotation is edited in the grown skeleton: the new point is placed and verified
    ann = Annotation.objects.filter(project=imported).first()
    kp, _ = ann.padded_keypoints(26)
    kp[72:75] = [50, 60, 2]
    saved = save_edit(ann.pk, users["annotator"], {"keypoints": kp}, ann.version)
    assert saved.keypoints[72:75] == [50, 60, 2] and saved.keypoint_states[24] == "verified"
    # flip pairs of the new points are found by name
    skeleton = imported.get_skeleton()
    assert (skeleton.index("left_big_toe"), skeleton.index("right_big_toe")) in skeleton.flip_pairs
