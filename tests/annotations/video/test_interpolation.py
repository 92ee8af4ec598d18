"""Filling frames between keyframes: linear, per keypoint, visibility-aware, never over a person's work."""

import numpy as np
import pytest

from annotations.models import Annotation, Clip, Frame, FrameStatus, Job, KeypointState, Revision
from annotations.video.interpolation import interpolate_clip, lerp_keypoints
from tests.annotations.video.video_builders import eager_jobs  # noqa: F401
from tests.conftest import api_client

K = 24  # coco17_spine
V, U = KeypointState.VERIFIED.value, KeypointState.UNVERIFIED.value


def test_lerp_fills_only_points_labelled_at_both_ends():
    a = np.array([[100, 200, 2], [10, 10, 2], [0, 0, 0], [50, 60, 1]], dtype=float)
    b = np.array([[200, 100, 2], [0, 0, 0], [30, 30, 2], [70, 80, 2]], dtype=float)
    out = lerp_keypoints(a, b, 0.25)
    assert out.tolist() == [[125, 175, 2], [0, 0, 0], [0, 0, 0], [55, 65, 1]]


def make_clip(project, n=11, timestamps=None, key="clip_1"):
    clip = Clip.objects.create(project=project, key=key)
    return clip, [Frame.objects.create(project=project, clip=clip, file_name=f"{key}_{i}.jpg", width=320, height=480,
                                       frame_index=i, timestamp=None if timestamps is None else timestamps[i])
                  for i in range(n)]


def keypoints(x0, y0, labelled=(0, 5, 9)):
    """Points at (x0 + 10 k, y0 + 5 k) for the labelled indices, the rest unlabelled."""
    kp = [0, 0, 0] * K
    for k in labelled:
        kp[3 * k:3 * k + 3] = [x0 + 10 * k, y0 + 5 * k, 2]
    return kp


def label(frame, kp, states=None, **extra):
    return Annotation.objects.create(project=frame.project, frame=frame, keypoints=kp,
                                     keypoint_states=states or [V] * K, bbox=extra.pop("bbox", [0, 0, 100, 200]),
                                     area=20000, **extra)


@pytest.mark.django_db
def test_it_fills_between_two_keyframes_and_keeps_a_human_annotation_between_them(project, users):
    clip, frames = make_clip(project)
    label(frames[0], keypoints(100, 200), bbox=[90, 190, 100, 200])
    label(frames[10], keypoints(200, 100, labelled=(0, 5, 7)), bbox=[190, 90, 120, 240])
    human = label(frames[6], keypoints(1, 1), human_edited=True, source="human")

    result = interpolate_clip(project, clip, start_frame=frames[0].pk, end_frame=frames[10].pk, user=users["annotator"])
    assert (result["pairs"], result["created"], result["updated"], result["kept"]) == (1, 8, 0, 1)
    assert result["frames"] == [f.pk for f in frames[1:6] + frames[7:10]]

    mid = Annotation.objects.get(frame=frames[4])
    assert mid.source == "interpolated" and mid.keypoint_states == [U] * K
    # t = 0.4: point 0 from (100, 200) to (200, 100), point 5 likewise; 9 and 7 are labelled at one end only.
    assert mid.keypoints[0:3] == [140, 160, 2]
    assert mid.keypoints[15:18] == [190, 185, 2]
    assert mid.keypoints[21:24] == [0, 0, 0] and mid.keypoints[27:30] == [0, 0, 0]
    assert mid.num_keypoints == 2
    assert mid.bbox == [130, 150, 108, 216] and mid.area == pytest.approx(108 * 216)
    assert Frame.objects.get(pk=frames[4].pk).status == FrameStatus.PREANNOTATED
    untouched = Annotation.objects.get(pk=human.pk)
    assert (untouched.keypoints, untouched.version, untouched.source) == (keypoints(1, 1), 1, "human")
    rev = Revision.objects.get(annotation=mid)
    assert (rev.kind, rev.user, rev.before, rev.note) == ("edit", users["annotator"], None, "interpolated")


@pytest.mark.django_db
def test_without_chosen_frames_it_fills_between_every_pair_of_consecutive_keyframes(project):
    clip, frames = make_clip(project)
    for i, x in ((0, 100), (4, 140), (10, 260)):
        label(frames[i], keypoints(x, 100, labelled=(0,)))
    result = interpolate_clip(project, clip)
    assert (result["pairs"], result["created"], result["kept"]) == (2, 8, 0)
    xs = [Annotation.objects.get(frame=f).keypoints[0] for f in frames]
    assert xs == [100, 110, 120, 130, 140, 160, 180, 200, 220, 240, 260]


@pytest.mark.django_db
def test_running_it_again_refreshes_its_own_fills_but_not_ones_a_person_touched(project, users):
    clip, frames = make_clip(project, n=5)
    label(frames[0], keypoints(100, 100))
    last = label(frames[4], keypoints(140, 100))
    interpolate_clip(project, clip)
    # A person verifies one point of frame 2's fill; then the last keyframe is corrected.
    touched = Annotation.objects.get(frame=frames[2])
    touched.keypoint_states = [V] + [U] * (K - 1)
    touched.save()
    last.keypoints = keypoints(180, 100)
    last.save()

    result = interpolate_clip(project, clip)
    assert (result["created"], result["updated"], result["kept"]) == (0, 2, 1)
    assert Annotation.objects.get(frame=frames[1]).keypoints[0:3] == [120, 100, 2]  # refreshed: 100 + 0.25 * 80
    assert Annotation.objects.get(frame=frames[1]).version == 2
    assert Annotation.objects.get(frame=frames[2]).keypoints[0:3] == [120, 100, 2]  # kept from the first run
    assert Annotation.objects.filter(frame__clip=clip).count() == 5


@pytest.mark.django_db
def test_it_interpolates_in_time_for_variable_frame_rates(project):
    # Frames 0-3 at 0, 0.1, 0.5, 1.0 s: frame 2 is at half the time, not two thirds of the frames.
    clip, frames = make_clip(project, n=4, timestamps=[0.0, 0.1, 0.5, 1.0])
    label(frames[0], keypoints(0, 0, labelled=(0,)))
    label(frames[3], keypoints(100, 0, labelled=(0,)))
    interpolate_clip(project, clip)
    assert Annotation.objects.get(frame=frames[2]).keypoints[0:3] == [50, 0, 2]
    assert Annotation.objects.get(frame=frames[1]).keypoints[0:3] == [10, 0, 2]


@pytest.mark.django_db
def test_two_chosen_frames_must_both_be_keyframes(project):
    clip, frames = make_clip(project, n=6)
    label(frames[0], keypoints(0, 0))
    label(frames[5], keypoints(0, 0), states=[U] * K, source="model")  # a prediction is no keyframe
    from annotations.core.errors import InputError

    with pytest.raises(InputError, match="clip_1_0.jpg and clip_1_5.jpg are not both keyframes"):
        interpolate_clip(project, clip, start_frame=frames[0].pk, end_frame=frames[5].pk)
    with pytest.raises(InputError, match="have no frames between them"):
        interpolate_clip(project, clip, start_frame=frames[0].pk, end_frame=frames[1].pk)


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_an_annotator_fills_a_stretch_over_rest_and_the_job_reports_counts(project, users, eager_jobs,
                                                                           django_capture_on_commit_callbacks):
    clip, frames = make_clip(project, n=8)
    label(frames[0], keypoints(100, 100))
    label(frames[3], keypoints(130, 100))
    label(frames[7], keypoints(170, 100))
    client = api_client(users["annotator"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/projects/{project.slug}/clips/{clip.key}/interpolate/",
                               {"start_frame": frames[3].pk, "end_frame": frames[7].pk}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, (job.message, job.traceback)
    assert (job.result["created"], job.result["kept"], job.result["method"]) == (3, 0, "linear")
    assert job.message == "3 frames filled, 0 refreshed, 0 human annotations kept; 0 frames with jumping keypoints"
    assert job.result["temporal"]["flagged"] == []
    assert sorted(Annotation.objects.filter(source="interpolated").values_list("frame__frame_index", flat=True)) == \
        [4, 5, 6]


@pytest.mark.django_db(databases=["default", "jobstate"])
def test_only_linear_interpolation_is_offered(project, users):
    clip, _frames = make_clip(project, n=3)
    response = api_client(users["annotator"]).post(f"/api/projects/{project.slug}/clips/{clip.key}/interpolate/",
                                                   {"method": "model"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "unknown method 'model'; only linear interpolation is available"
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_outsiders_cannot_interpolate(project, users):
    clip, _frames = make_clip(project, n=3)
    url = f"/api/projects/{project.slug}/clips/{clip.key}/interpolate/"
    assert api_client(users["outsider"]).post(url, {}, format="json").status_code == 404
