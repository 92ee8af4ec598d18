"""Label checks over a project's verified annotations: the command's JSON lines, the label-error queue
they feed, and a reviewer's dismissal that holds until the annotation changes."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.models import Annotation, Clip, Frame, FrameStatus, KeypointState, Queue, QueueItem
from annotations.quality import checks
from annotations.review.editing import save_edit
from tests.conftest import api_client
from tests.mlcore.test_label_checks import clip as steady_clip

K = 24


def make_clip(project, n=8, key="row_1", status=FrameStatus.ANNOTATED):
    """A clip of n verified frames holding the steady hand-made pose (17 COCO points, spine unlabelled)."""
    kps, boxes = steady_clip(n)
    clip = Clip.objects.create(project=project, key=key)
    anns = []
    for i in range(n):
        frame = Frame.objects.create(project=project, clip=clip, file_name=f"{key}_{i}.jpg", width=400, height=500,
                                     frame_index=3 * i, status=status)
        flat = kps[i].reshape(-1).tolist() + [0, 0, 0] * (K - 17)
        anns.append(Annotation.objects.create(project=project, frame=frame, keypoints=flat,
                                              keypoint_states=[KeypointState.VERIFIED] * K,
                                              bbox=boxes[i].tolist(), area=float(boxes[i, 2] * boxes[i, 3])))
    return clip, anns


def swap_knees(ann):
    kp = list(ann.keypoints)
    kp[39:42], kp[42:45] = kp[42:45], kp[39:42]
    ann.keypoints = kp
    ann.save()


def run_command(*args):
    out = StringIO()
    call_command("check_labels", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.django_db
def test_a_clean_clip_raises_nothing(project):
    make_clip(project)
    report = checks.check_labels(project)
    assert report["flags"] == [] and report["summary"]["annotations_checked"] == 8


@pytest.mark.django_db
def test_the_command_prints_one_json_line_per_flag_then_a_summary(project):
    _clip, anns = make_clip(project)
    swap_knees(anns[4])
    lines = run_command(project.slug)
    flags, summary = lines[:-1], lines[-1]
    swap = [f for f in flags if f["kind"] == "swap"]
    assert swap == [{"frame": anns[4].frame_id, "file_name": "row_1_4.jpg", "annotation": anns[4].pk, "kind": "swap",
                     "keypoints": ["left_knee", "right_knee"], "reason": swap[0]["reason"],
                     "score": swap[0]["score"]}]
    assert "left_knee and right_knee look swapped" in swap[0]["reason"]
    assert set(summary) == {"summary"} and summary["summary"]["by_kind"]["swap"] == 1
    assert summary["summary"]["flags"] == len(flags)


@pytest.mark.django_db
def test_the_command_names_an_unknown_project_or_check(project):
    with pytest.raises(CommandError, match="no project 'nope'"):
        run_command("nope")
    with pytest.raises(CommandError, match="'kinds': unknown check 'colour'"):
        run_command(project.slug, "--kinds", "colour")


@pytest.mark.django_db
def test_unverified_frames_are_not_checked(project):
    _clip, anns = make_clip(project, status=FrameStatus.PREANNOTATED)
    swap_knees(anns[4])
    assert checks.check_labels(project)["summary"]["annotations_checked"] == 0


@pytest.mark.django_db
def test_flags_feed_the_label_error_queue_with_their_reasons(project):
    _clip, anns = make_clip(project)
    swap_knees(anns[4])
    report = checks.check_and_feed(project)
    assert report["summary"]["queue"] == {"queued": 1, "cleared": 0}
    item = QueueItem.objects.get(frame_id=anns[4].frame_id, queue=Queue.LABEL_ERROR)
    # Crossed knees also cross the thighs (bone lengths) and leave both knees off their track.
    assert item.is_open and "swap" in item.signals["label_check_kinds"]
    swap = [f for f in item.signals["label_checks"] if f["kind"] == "swap"]
    assert swap[0]["keypoints"] == ["left_knee", "right_knee"] and "look swapped" in swap[0]["reason"]
    # Fixed: the next run takes the frame out of the queue.
    swap_knees(anns[4])
    assert checks.check_and_feed(project)["summary"]["queue"] == {"queued": 0, "cleared": 1}
    item.refresh_from_db()
    assert not item.is_open and "label_checks" not in item.signals


@pytest.mark.django_db
def test_the_queue_keeps_other_signals_of_a_flagged_frame(project):
    _clip, anns = make_clip(project)
    from annotations.review import queues

    queues.set_priorities(project, Queue.LABEL_ERROR, {anns[4].frame_id: 7.5}, {anns[4].frame_id: {"model": 0.9}})
    swap_knees(anns[4])
    checks.check_and_feed(project)
    item = QueueItem.objects.get(frame_id=anns[4].frame_id, queue=Queue.LABEL_ERROR)
    assert item.signals["model"] == 0.9 and item.priority == 7.5 and "swap" in item.signals["label_check_kinds"]


@pytest.mark.django_db
def test_a_dismissed_flag_stays_dismissed_until_the_annotation_changes(project, users):
    _clip, anns = make_clip(project)
    swap_knees(anns[4])
    checks.check_and_feed(project, kinds=["swap"])
    client = api_client(users["reviewer"])
    url = f"/api/projects/{project.slug}/label-checks/dismiss/"
    response = client.post(url, {"frame": anns[4].frame_id, "kind": "swap", "keypoints": ["left_knee", "right_knee"]},
                           format="json")
    assert response.status_code == 200, response.content
    assert response.json()["open"] is False
    # Raised again? Not on the same version of the annotation.
    report = checks.check_and_feed(project, kinds=["swap"])
    assert report["flags"] == [] and report["summary"]["dismissed"] == 1
    item = QueueItem.objects.get(frame_id=anns[4].frame_id, queue=Queue.LABEL_ERROR)
    assert not item.is_open and item.signals["dismissed_checks"][0]["by"] == "reviewer"
    # Someone edits the annotation (still swapped, the nose moved a pixel): the flag is back.
    ann = Annotation.objects.get(pk=anns[4].pk)
    save_edit(ann.pk, users["annotator"], {"keypoints": [v + 1 if i == 0 else v for i, v in enumerate(ann.keypoints)]},
              ann.version)
    report = checks.check_and_feed(project, kinds=["swap"])
    assert [f["kind"] for f in report["flags"]] == ["swap"]
    item.refresh_from_db()
    assert item.is_open


@pytest.mark.django_db
def test_dismissing_needs_a_reviewer_and_an_existing_flag(project, users):
    _clip, anns = make_clip(project)
    url = f"/api/projects/{project.slug}/label-checks/dismiss/"
    body = {"frame": anns[4].frame_id, "kind": "swap", "keypoints": ["left_knee", "right_knee"]}
    assert api_client(users["annotator"]).post(url, body, format="json").status_code == 403
    response = api_client(users["reviewer"]).post(url, body, format="json")
    assert response.status_code == 400 and "'kind'" in response.json()["detail"]
    response = api_client(users["reviewer"]).post(url, {**body, "frame": "x"}, format="json")
    assert response.status_code == 400 and "'frame'" in response.json()["detail"]
    response = api_client(users["reviewer"]).post(url, {**body, "keypoints": "left_knee"}, format="json")
    assert response.status_code == 400 and "'keypoints'" in response.json()["detail"]


@pytest.mark.django_db
def test_the_api_lists_flags_and_starts_a_job(project, users):
    _clip, anns = make_clip(project)
    swap_knees(anns[4])
    client = api_client(users["reviewer"])
    url = f"/api/projects/{project.slug}/label-checks/"
    data = client.get(url, {"kinds": "swap"}).json()
    assert [f["kind"] for f in data["flags"]] == ["swap"]
    assert client.get(url, {"kinds": "nope"}).status_code == 400
    assert api_client(users["annotator"]).get(url).status_code == 403
    response = client.post(url, {"kinds": ["swap", "bone_length"]}, format="json")
    assert response.status_code == 202 and response.json()["kind"] == "check_labels"


@pytest.mark.django_db
def test_the_job_handler_feeds_the_queue(project, users):
    from annotations.models import Job
    from annotations.quality.jobs import run_check_labels

    _clip, anns = make_clip(project)
    swap_knees(anns[4])
    job = Job.objects.create(project=project, kind=Job.Kind.CHECK_LABELS, params={"kinds": ["swap"]},
                             created_by=users["reviewer"])
    result = run_check_labels(job)
    assert result["summary"]["by_kind"] == {"swap": 1} and job.message == "1 flags on 1 frames"
    assert QueueItem.objects.filter(frame_id=anns[4].frame_id, queue=Queue.LABEL_ERROR, done_at=None).exists()


@pytest.mark.django_db
def test_suspect_form_labels_come_from_clip_grouped_out_of_fold_probabilities(imported):
    from annotations.quality.form_labels import form_label_flags

    # One frame of a "correct" clip relabelled as a lumbar error, as a slip of the label key would.
    wrong = Annotation.objects.filter(project=imported, frame__file_name__contains="52723_8_").order_by("pk")[3]
    wrong.form_label = imported.form_labels.get(name="lumbar_error")
    wrong.save()
    flags, summary = form_label_flags(imported)
    assert summary["checked"] is True and summary["clips"] >= 5 and summary["frames"] > 150
    assert all(f["kind"] == "form_label" and "looks wrong" in f["reason"] for f in flags)
    assert wrong.pk in {f["annotation"] for f in flags}
    assert "'lumbar_error' looks wrong" in next(f["reason"] for f in flags if f["annotation"] == wrong.pk)
    assert np.isfinite(summary["out_of_fold_accuracy"])
