"""A claim belongs to whoever holds its lease now: a lapsed holder's submit, save, decision or release
through the queue is 409 and leaves the new holder's lease alone; one person claiming from two tabs at
once holds one frame of the queue."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from annotations.models import Annotation, Clip, Frame, FrameLease, FrameStatus, KeypointState, Membership, Role
from annotations.review.claims import claim_next
from annotations.review.queues import set_priorities
from tests.conftest import api_client


@pytest.fixture
def queued(project, django_user_model):
    """Six annotated frames in the `uncertain` queue and a second annotator."""
    clip = Clip.objects.create(project=project, key="c_1")
    frames = Frame.objects.bulk_create(
        Frame(project=project, clip=clip, file_name=f"c_1_{i}.jpg", width=100, height=100, frame_index=i,
              status=FrameStatus.ANNOTATED) for i in range(6))
    K = project.num_keypoints
    for f in frames:
        Annotation.objects.create(project=project, frame=f, instance=0, keypoints=[10, 10, 2] * K,
                                  keypoint_states=[KeypointState.VERIFIED.value] * K, bbox=[0, 0, 50, 50], area=2500)
    set_priorities(project, "uncertain", {f.pk: float(10 - i) for i, f in enumerate(frames)})
    second = django_user_model.objects.create_user("annotator2")
    Membership.objects.create(project=project, user=second, role=Role.ANNOTATOR)
    return project, frames, second


def lapse(frame_id: int) -> None:
    FrameLease.objects.filter(frame_id=frame_id).update(expires_at=timezone.now() - timedelta(seconds=1))


def taken_over(project, users, second):
    """The annotator claims a frame, lets the lease lapse, and the second annotator gets that frame."""
    first = claim_next(project, "uncertain", users["annotator"])
    lapse(first.frame_id)
    again = claim_next(project, "uncertain", second)
    assert again.frame_id == first.frame_id
    return first.frame_id


def test_a_lapsed_holders_submit_is_409_and_keeps_the_new_holders_lease(queued, users):
    project, frames, second = queued
    frame_id = taken_over(project, users, second)
    response = api_client(users["annotator"]).post(f"/api/projects/{project.slug}/frames/{frame_id}/submit/",
                                                   {"queue": "uncertain", "next": True}, format="json")
    assert response.status_code == 409, response.content
    assert "annotator2 has it now" in response.json()["detail"]
    lease = FrameLease.objects.get(frame_id=frame_id)
    assert lease.user == second and lease.expires_at > timezone.now()
    assert Frame.objects.get(pk=frame_id).status == FrameStatus.ANNOTATED
    # The new holder submits as usual.
    response = api_client(second).post(f"/api/projects/{project.slug}/frames/{frame_id}/submit/",
                                       {"queue": "uncertain"}, format="json")
    assert response.status_code == 200 and Frame.objects.get(pk=frame_id).status == FrameStatus.SUBMITTED


def test_a_lapsed_holders_save_and_release_are_409_and_change_nothing(queued, users):
    project, frames, second = queued
    frame_id = taken_over(project, users, second)
    ann = Annotation.objects.get(frame_id=frame_id)
    client = api_client(users["annotator"])
    K = project.num_keypoints
    response = client.patch(f"/api/projects/{project.slug}/annotations/{ann.pk}/",
                            {"version": ann.version, "keypoints": [20, 20, 2] * K, "queue": "uncertain"},
                            format="json")
    assert response.status_code == 409, response.content
    assert Annotation.objects.get(pk=ann.pk).version == ann.version
    response = client.post(f"/api/projects/{project.slug}/frames/{frame_id}/lease/release/", {}, format="json")
    assert response.status_code == 409, response.content
    assert FrameLease.objects.get(frame_id=frame_id).user == second


def test_a_holder_whose_lease_lapsed_unnoticed_by_others_still_submits(queued, users):
    project, frames, _ = queued
    item = claim_next(project, "uncertain", users["annotator"])
    lapse(item.frame_id)
    response = api_client(users["annotator"]).post(f"/api/projects/{project.slug}/frames/{item.frame_id}/submit/",
                                                   {"queue": "uncertain"}, format="json")
    assert response.status_code == 200, response.content


@pytest.mark.django_db(transaction=True)
def test_two_tabs_of_one_person_claiming_at_once_get_one_frame(queued, users):
    project, frames, _ = queued
    for attempt in range(6):
        FrameLease.objects.all().delete()
        got, errors = [], []
        start = threading.Barrier(2)

        def tab(start=start, got=got, errors=errors):
            try:
                start.wait()
                got.append(claim_next(project, "uncertain", users["annotator"]).frame_id)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        tabs = [threading.Thread(target=tab) for _ in range(2)]
        for t in tabs:
            t.start()
        for t in tabs:
            t.join()
        assert not errors
        assert len(set(got)) == 1, f"attempt {attempt}: two tabs hold {got}"
        assert FrameLease.objects.filter(user=users["annotator"]).count() == 1
