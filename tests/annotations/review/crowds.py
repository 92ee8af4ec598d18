"""Concurrency test helpers: queued frames with many annotators, and threads that start together.

Each thread runs on its own database connection (closed when it ends), so tests that use these need a
transactional test database (`django_db(transaction=True)`): claims commit and meet for real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def queued_crowd(project, user_model, key: str, n_frames: int, n_people: int,
                 scores: Callable[[int], float | None]):
    """(frames, annotators): n_frames frames of a new clip `key`, frame i in the `uncertain` and `label_error`
    queues with priority scores(i) (not queued where None), and n_people annotators of the project named
    <key>_person<n>."""
    from annotations.models import Clip, Frame, Membership, Role
    from annotations.review.queues import set_priorities

    clip = Clip.objects.create(project=project, key=key)
    frames = Frame.objects.bulk_create(
        Frame(project=project, clip=clip, file_name=f"{key}_{i}.jpg", width=10, height=10, frame_index=i)
        for i in range(n_frames))
    priorities = {f.pk: score for i, f in enumerate(frames) if (score := scores(i)) is not None}
    set_priorities(project, "uncertain", priorities)
    set_priorities(project, "label_error", priorities)
    people = []
    for n in range(n_people):
        user = user_model.objects.create_user(f"{key}_person{n}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        people.append(user)
    return frames, people


def run_together(calls: list[tuple[Callable, tuple]], timeout: float = 120) -> list[BaseException]:
    """Run each (function, args) on its own thread, all released at once; returns what they raised."""
    from django.db import connection

    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(fn: Callable, args: tuple) -> None:
        try:
            start.wait()
            fn(*args)
        except BaseException as exc:  # surfaced by the test; a thread must not die silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors
