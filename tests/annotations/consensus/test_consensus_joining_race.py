"""People joining a frame that collects a consensus through two queues at the same instant: never more
of them than the consensus needs. Real threads on their own connections (the claims commit)."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

N_WORKERS = 8
ROUNDS = 4


@pytest.fixture
def crowd(project, django_user_model):
    """Twenty plain frames in two annotation queues and N_WORKERS annotators."""
    from annotations.models import Clip, Frame, Membership, Role
    from annotations.review.queues import set_priorities

    clip = Clip.objects.create(project=project, key="race_1")
    frames = Frame.objects.bulk_create(
        Frame(project=project, clip=clip, file_name=f"race_1_{i}.jpg", width=10, height=10, frame_index=i)
        for i in range(20 + ROUNDS))
    plain = {f.pk: float(i) for i, f in enumerate(frames[ROUNDS:])}
    set_priorities(project, "uncertain", plain)
    set_priorities(project, "label_error", plain)
    workers = []
    for n in range(N_WORKERS):
        user = django_user_model.objects.create_user(f"joiner{n}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        workers.append(user)
    return project, frames[:ROUNDS], workers


def work(project, user, queue: str, start: threading.Barrier, errors: list[BaseException]) -> None:
    """One claim, started with everyone else's."""
    from django.db import connection

    from annotations.gold import serving

    try:
        start.wait()
        serving.claim_next(project, queue, user)
    except BaseException as exc:  # surfaced by the test; a thread must not die silently
        errors.append(exc)
    finally:
        connection.close()


def test_joining_through_two_queues_at_once_never_takes_more_places_than_needed(crowd, users):
    from django.utils import timezone

    from annotations.consensus import voting
    from annotations.models import ConsensusVote, FrameLease
    from annotations.review.queues import set_priorities

    project, consensus_frames, workers = crowd
    for frame in consensus_frames:
        FrameLease.objects.all().delete()  # everyone free to claim again
        voting.require(project, [frame.pk], 2, users["pi"])  # first in `uncertain`
        set_priorities(project, "label_error", {frame.pk: 1e9})  # and first in `label_error`
        errors: list[BaseException] = []
        start = threading.Barrier(len(workers))
        threads = [threading.Thread(target=work, args=(project, u, "uncertain" if n % 2 else "label_error", start,
                                                       errors))
                   for n, u in enumerate(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        holders = FrameLease.objects.filter(frame=frame, expires_at__gt=timezone.now()).count()
        votes = ConsensusVote.objects.filter(frame=frame).count()
        assert (holders, votes) == (2, 2), frame.pk
