"""Many people pressing "next" at once: no frame is ever handed to two of them.

Real threads, each on its own database connection, against a transactional test database
(the claims commit, so SKIP LOCKED and the lease upsert meet real concurrent transactions).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.annotations.review.crowds import queued_crowd, run_together

pytestmark = pytest.mark.django_db(transaction=True)

N_FRAMES = 240
N_WORKERS = 24


@pytest.fixture
def crowd(project, django_user_model):
    """A project with N_FRAMES frames in two queues with the same priorities, and N_WORKERS annotators."""
    frames, workers = queued_crowd(project, django_user_model, "crowd_1", N_FRAMES, N_WORKERS,
                                   lambda i: float(i % 17))  # ties on purpose
    return project, frames, workers


def test_parallel_claims_through_two_queues_never_share_a_frame(crowd):
    from annotations.models import Frame
    from annotations.models.review import ANNOTATION_QUEUES
    from annotations.review.claims import claim_next, close_items

    project, frames, workers = crowd
    claimed: list[tuple[int, int]] = []  # (frame id, worker id)
    lock = threading.Lock()

    def work(user, queue):
        while True:
            item = claim_next(project, queue, user)
            if item is None:
                return
            with lock:
                claimed.append((item.frame_id, user.pk))
            # Done with it: the frame leaves every annotation queue (as a submit does).
            close_items(Frame(pk=item.frame_id, project_id=project.pk), user, ANNOTATION_QUEUES)

    errors = run_together([(work, (u, "uncertain" if n % 2 else "label_error")) for n, u in enumerate(workers)])
    assert not errors, errors
    counts = Counter(frame for frame, _ in claimed)
    assert [f for f, n in counts.items() if n > 1] == []
    assert len(counts) == N_FRAMES  # and every frame was handed out
    assert len({w for _, w in claimed}) > 1  # the work really was shared


def test_parallel_claims_without_finishing_hold_distinct_frames(crowd):
    """Everyone claims at once and keeps their frame: as many distinct frames as people."""
    from annotations.models import FrameLease
    from annotations.review.claims import claim_next

    project, frames, workers = crowd
    got: dict[int, int] = {}

    def work(user):
        got[user.pk] = claim_next(project, "uncertain", user).frame_id

    assert run_together([(work, (u,)) for u in workers], timeout=60) == []
    assert len(got) == N_WORKERS
    assert len(set(got.values())) == N_WORKERS
    assert FrameLease.objects.filter(project=project).count() == N_WORKERS
