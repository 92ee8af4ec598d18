"""Gold frames on the demo project: one marked by the PI, pool frames queued, honeypots served at rate 1."""

from __future__ import annotations

import pytest


@pytest.fixture
def gold(imported, users):
    """The demo project with one gold frame (marked by the PI), 10 pool frames in the uncertain queue and a
    honeypot rate of 1. Returns the GoldFrame."""
    from annotations.gold import marking
    from annotations.models import Annotation, Frame, GoldFrame
    from annotations.review.queues import set_priorities

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    assert marking.mark(imported, [ann.frame_id], users["pi"]) == {"marked": [ann.frame_id], "refused": []}
    pool = list(Frame.objects.filter(project=imported, annotations__isnull=True).order_by("id")
                .values_list("id", flat=True)[:10])
    set_priorities(imported, "uncertain", {f: 10 - i for i, f in enumerate(pool)})
    marking.set_rate(imported, 1)
    return GoldFrame.objects.get(frame_id=ann.frame_id)
