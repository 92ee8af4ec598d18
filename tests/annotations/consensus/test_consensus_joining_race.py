"""People joining a frame that collects a consensus through two queues at the same instant: never more
of them than the consensus needs. Real threads on their own connections (the claims commit)."""

from __future__ import annotations

import pytest

from tests.annotations.review.crowds import queued_crowd, run_together

pytestmark = pytest.mark.django_db(transaction=True)

N_WORKERS = 8
ROUNDS = 4


@pytest.fixture
def crowd(project, django_user_model):
    """ROUNDS frames to become consensus frames, twenty plain frames after them in two annotation queues,
    and N_WORKERS annotators."""
    frames, workers = queued_crowd(project, django_user_model, "race_1", 20 + ROUNDS, N_WORKERS,
                                   lambda i: float(i - ROUNDS) if i >= ROUNDS else None)
    return project, frames[:ROUNDS], workers


def test_joining_through_two_queues_at_once_never_takes_more_places_than_needed(crowd, users):
    from django.utils import timezone

    from annotations.consensus import voting
    from annotations.gold import serving
    from annotations.models import ConsensusVote, FrameLease
    from annotations.review.queues import set_priorities

    project, consensus_frames, workers = crowd
    for n_round, frame in enumerate(consensus_frames):
        FrameLease.objects.all().delete()  # everyone free to claim again
        voting.require(project, [frame.pk], 2, users["pi"])  # first in `uncertain`
        # And first in `label_error`: above the earlier rounds' frames, whose places the deleted leases freed
        # again (open votes without a lease do not hold a place), so they are joinable too.
        set_priorities(project, "label_error", {frame.pk: 1e9 + n_round})
        errors = run_together([(serving.claim_next, (project, "uncertain" if n % 2 else "label_error", u))
                               for n, u in enumerate(workers)])
        assert not errors, errors
        holders = FrameLease.objects.filter(frame=frame, expires_at__gt=timezone.now()).count()
        votes = ConsensusVote.objects.filter(frame=frame).count()
        assert (holders, votes) == (2, 2), frame.pk
