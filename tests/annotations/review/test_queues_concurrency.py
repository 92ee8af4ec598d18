"""Many people pressing "next" at once: no frame is ever handed to two of them.

Real threads, each on its own database connection, against a transactional test database
(the claims commit, so SKIP LOCKED and the lease upsert meet real concurrent transactions).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

N_FRAMES = 240
N_WORKERS = 24


@pytest.fixture
def crowd(project, django_user_model):
    """A project with N_FRAMES frames in two queues with the same priorities, and N_WORKERS annotators."""
    from annotations.models import Clip, Frame, Membership, Role
    from annotations.review.queues import set_priorities

    clip = Clip.objects.create(project=project, key="crowd_1")
    frames = Frame.objects.bulk_create(
        Frame(project=project, clip=clip, file_name=f"crowd_1_{i}.jpg", width=10, height=10, frame_index=i)
        for i in range(N_FRAMES))
    scores = {f.pk: float(i % 17) for i, f in enumerate(frames)}  # ties on purpose
    set_priorities(project, "uncertain", scores)
    set_priorities(project, "label_error", scores)
    workers = []
    for n in range(N_WORKERS):
        user = django_user_model.objects.create_user(f"worker{n}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        workers.append(user)
    return project, frames, workers


def test_parallel_claims_through_two_queues_never_share_a_frame(crowd):
    from django.db import connection

    from annotations.models import Frame
    from annotations.models.review import ANNOTATION_QUEUES
    from annotations.review.claims import claim_next, close_items

    project, frames, workers = crowd
    claimed: list[tuple[int, int]] = []  # (frame id, worker id)
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers))
    lock = threading.Lock()

    def work(user, queue):
        try:
            start.wait()
            while True:
                item = claim_next(project, queue, user)
                if item is None:
                    return
                with lock:
                    claimed.append((item.frame_id, user.pk))
                # Done with it: the frame leaves every annotation queue (as a submit does).
                close_items(Frame(pk=item.frame_id, project_id=project.pk), user, ANNOTATION_QUEUES)
        except BaseException as exc:  # surfaced below; a thread must not die silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u, "uncertain" if n % 2 else "label_error"))
               for n, u in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    counts = Counter(frame for frame, _ in claimed)
    assert [f for f, n in counts.items() if n > 1] == []
    assert len(counts) == N_FRAMES  # and every frame was handed out
    assert len({w for _, w in claimed}) > 1  # the work really was shared


def test_parallel_claims_without_finishing_hold_distinct_frames(crowd):
    """Everyone claims at once and keeps their frame: as many distinct frames as people."""
    from django.db import connection

    from annotations.models import FrameLease
    from annotations.review.claims import claim_next

    project, frames, workers = crowd
    got: dict[int, int] = {}
    start = threading.Barrier(len(workers))

    def work(user):
        try:
            start.wait()
            item = claim_next(project, "uncertain", user)
            got[user.pk] = item.frame_id
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got) == N_WORKERS
    assert len(set(got.values())) == N_WORKERS
    assert FrameLease.objects.filter(project=project).count() == N_WORKERS
