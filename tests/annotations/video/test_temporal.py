"""Temporal checks: a keypoint that jumps between neighbouring frames is flagged, on the timeline and
in the label-error queue."""


import numpy as np
import pytest

from annotations.models import Annotation, Clip, Frame, KeypointState
from annotations.video import temporal
from tests.conftest import api_client

K = 24
LEFT_WRIST = 9
DIAGONAL = float(np.hypot(100, 200))


def test_a_pair_jump_is_the_move_over_the_body_diagonal_and_ignores_unlabelled_points():
    a = np.array([[0, 0, 2], [10, 10, 2], [5, 5, 0]], dtype=float)
    b = np.array([[30, 40, 2], [10, 10, 1], [500, 500, 2]], dtype=float)
    jumps = temporal.pair_jumps(a, b, [0, 0, 30, 40], [0, 0, 60, 80])  # diagonals 50 and 100
    assert jumps[:2].tolist() == [50 / 75, 0.0] and np.isnan(jumps[2])


def test_a_frame_is_charged_with_the_smaller_of_its_two_neighbour_jumps():
    kp = np.zeros((4, 1, 3))
    kp[:, 0, 2] = 2
    kp[:, 0, 0] = [0, 1, 50, 2]  # frame 2 is off by ~48 px, its neighbours agree
    jumps = temporal.frame_jumps(kp, np.tile([0, 0, 30, 40], (4, 1)), np.array([True, True, True]))
    assert jumps[:, 0] == pytest.approx([1 / 50, 1 / 50, 48 / 50, 48 / 50])
    # Frame 3 has only the one (big) neighbour jump: an end of a run is judged on what it has.


def make_clip(project):
    clip = Clip.objects.create(project=project, key="jumpy_1")
    frames = []
    for i in range(7):
        frame = Frame.objects.create(project=project, clip=clip, file_name=f"jumpy_1_{i}.jpg", width=320,
                                     height=480, frame_index=i)
        kp = [0, 0, 0] * K
        for k in (0, 5, LEFT_WRIST):
            kp[3 * k:3 * k + 3] = [100 + 2 * i + k, 150 + k, 2]
        if i == 3:
            kp[3 * LEFT_WRIST + 1] += 80  # a wrist dropped on the knee in one frame
        if i == 5:
            kp[0:3] = [0, 0, 0]  # an unlabelled point does not jump
        Annotation.objects.create(project=project, frame=frame, keypoints=kp,
                                  keypoint_states=[KeypointState.VERIFIED] * K, bbox=[90, 140, 100, 200], area=2e4)
        frames.append(frame)
    return clip, frames


@pytest.mark.django_db
def test_it_flags_only_the_frame_whose_wrist_jumps(project):
    clip, frames = make_clip(project)
    report = temporal.check_clip(clip)
    assert report["flagged"] == [frames[3].pk]
    entry = report["frames"][frames[3].pk]
    assert entry["keypoints"] == ["left_wrist"] and entry["flagged"] is True
    assert entry["score"] == pytest.approx(np.hypot(2, 80) / DIAGONAL, abs=1e-4)
    assert report["frames"][frames[2].pk]["score"] == pytest.approx(2 / DIAGONAL, abs=1e-4)
    assert report["frames"][frames[2].pk]["flagged"] is False
    assert set(report["frames"]) == {f.pk for f in frames}
    # A stricter threshold flags the steady 2 px per frame drift too.
    assert len(temporal.check_clip(clip, threshold=0.005)["flagged"]) == 7


@pytest.mark.django_db
def test_the_timeline_api_marks_the_jump(project, users):
    clip, frames = make_clip(project)
    data = api_client(users["annotator"]).get(f"/api/projects/{project.slug}/clips/{clip.key}/timeline/").json()
    by_id = {f["id"]: f for f in data["frames"]}
    assert data["flagged"] == [frames[3].pk] and data["worst"][0] == frames[3].pk
    assert by_id[frames[3].pk]["jump"]["keypoints"] == ["left_wrist"]
    assert by_id[frames[2].pk]["jump"]["flagged"] is False
    assert [f["index"] for f in data["frames"]] == list(range(7))
    assert by_id[frames[0].pk]["editor"] == f"/p/{project.slug}/frames/{frames[0].pk}/edit/"
    assert by_id[frames[0].pk]["keyframe"] is True and data["threshold"] == temporal.DEFAULT_THRESHOLD


@pytest.mark.django_db
def test_flagged_frames_go_to_the_label_error_queue(project, users, monkeypatch):
    calls = []
    monkeypatch.setattr(temporal.queues, "set_priorities", lambda project, queue, scores, signals=None:
                        calls.append((project, queue, scores, signals)))
    clip, frames = make_clip(project)

    response = api_client(users["reviewer"]).post(f"/api/projects/{project.slug}/clips/{clip.key}/temporal/", {},
                                                  format="json")
    assert response.status_code == 200 and response.json()["queue"] == "fed"
    [(got_project, queue, scores, signals)] = calls
    assert (got_project, queue, list(scores)) == (project, "label_error", [frames[3].pk])
    assert signals[frames[3].pk]["jump_keypoints"] == ["left_wrist"]
    assert signals[frames[3].pk]["jump"] == scores[frames[3].pk] > temporal.DEFAULT_THRESHOLD


@pytest.mark.django_db
def test_a_queue_that_refuses_the_flags_does_not_lose_the_check(project, users, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("queue down")

    monkeypatch.setattr(temporal.queues, "set_priorities", refuse)
    clip, frames = make_clip(project)
    response = api_client(users["reviewer"]).post(f"/api/projects/{project.slug}/clips/{clip.key}/temporal/", {},
                                                  format="json")
    assert response.status_code == 200
    assert response.json()["queue"] == "failed: RuntimeError: queue down"
    assert response.json()["flagged"] == [frames[3].pk]
    # Only reviewers feed the queue; annotators may look.
    url = f"/api/projects/{project.slug}/clips/{clip.key}/temporal/"
    assert api_client(users["annotator"]).post(url, {}, format="json").status_code == 403
    assert api_client(users["annotator"]).get(url + "?threshold=0.5").json()["flagged"] == []


@pytest.mark.django_db
def test_the_real_label_error_queue_takes_the_flagged_frame(project, users):
    pytest.importorskip("annotations.review.queues")
    from annotations import models

    if not hasattr(models, "QueueItem"):
        pytest.skip("the review queue models are not here yet")
    clip, frames = make_clip(project)
    assert temporal.check_and_feed(clip)["queue"] == "fed"
    item = models.QueueItem.objects.get(frame=frames[3], queue="label_error")
    assert item.signals["jump_keypoints"] == ["left_wrist"] and item.priority == pytest.approx(
        np.hypot(2, 80) / DIAGONAL, abs=1e-4)


@pytest.mark.django_db
def test_a_later_check_takes_out_the_jump_it_no_longer_sees_but_keeps_other_signals(project, users):
    from annotations import models
    from annotations.review import queues

    clip, frames = make_clip(project)
    assert temporal.check_and_feed(clip)["queue"] == "fed"
    # Another frame of the clip is in the queue for a model's reason, not a jump.
    queues.set_priorities(project, "label_error", {frames[1].pk: 0.9}, {frames[1].pk: {"label_error": 0.9}})
    fixed = Annotation.objects.get(frame=frames[3])
    fixed.keypoints[3 * LEFT_WRIST + 1] -= 80  # a reviewer puts the wrist back
    fixed.save()

    report = temporal.check_and_feed(clip)
    assert report["flagged"] == [] and report["queue"] == "nothing flagged" and report["queue_cleared"] == 1
    assert models.QueueItem.objects.get(frame=frames[3], queue="label_error").done_at is not None
    assert models.QueueItem.objects.get(frame=frames[1], queue="label_error").done_at is None
    # Checking again changes nothing more.
    assert temporal.check_and_feed(clip)["queue_cleared"] == 0
