"""A PI asks for independent annotations of every frame of a clip from the consensus page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_every_frame_of_a_clip_needs_them_and_its_first_frame_is_claimed_first(imported, users, client):
    from annotations.gold import serving
    from annotations.models import ConsensusFrame, Frame

    clip = min(imported.clips.all(), key=lambda c: c.frames.count())
    frames = list(Frame.objects.filter(clip=clip).order_by("frame_index", "id").values_list("id", flat=True))
    client.force_login(users["pi"])
    page = client.post("/p/demo/consensus/", {"action": "require", "clip": clip.key, "people": "3"}, follow=True)
    assert f"{len(frames)} frame(s) need independent annotations" in page.content.decode()
    assert sorted(ConsensusFrame.objects.filter(required=3).values_list("frame_id", flat=True)) == sorted(frames)
    assert serving.claim_next(imported, "uncertain", users["annotator"]).frame_id == frames[0]
    # An unknown clip is named in the error and asks for nothing.
    page = client.post("/p/demo/consensus/", {"action": "require", "clip": "no-such-clip", "people": "2"},
                       follow=True).content.decode()
    assert "there is no clip &#x27;no-such-clip&#x27;" in page
    assert ConsensusFrame.objects.count() == len(frames)
    client.force_login(users["reviewer"])
    assert client.post("/p/demo/consensus/", {"action": "require", "clip": clip.key, "people": "2"}).status_code == 403
