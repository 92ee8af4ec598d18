"""A PI asks for independent annotations of every frame of a clip, from the consensus page or over REST."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_client

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


def test_a_pi_asks_for_a_clip_over_rest_and_bad_input_names_its_field(imported, users):
    from annotations.gold import serving
    from annotations.models import ConsensusFrame, Frame

    url = "/api/projects/demo/consensus/clips/"
    clip = min(imported.clips.all(), key=lambda c: c.frames.count())
    frames = list(Frame.objects.filter(clip=clip).order_by("frame_index", "id").values_list("id", flat=True))
    pi = api_client(users["pi"])
    answer = pi.post(url, {"clip": clip.key, "people": 3}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["clip"] == clip.key and sorted(body["required"]) == sorted(frames) and body["refused"] == []
    assert sorted(ConsensusFrame.objects.filter(required=3).values_list("frame_id", flat=True)) == sorted(frames)
    assert serving.claim_next(imported, "uncertain", users["annotator"]).frame_id == frames[0]
    # Bad input is a 400 naming the field, and asks for nothing more.
    for bad, field in [({"clip": "no-such-clip", "people": 2}, "'clip'"), ({"people": 2}, "'clip'"),
                       ({"clip": clip.key, "people": 1}, "'people'"), ({"clip": clip.key}, "'people'"),
                       ({"clip": clip.key, "people": 2, "queue": "nope"}, "'queue'")]:
        refused = pi.post(url, bad, format="json")
        assert refused.status_code == 400 and field in json.dumps(refused.json()), (bad, refused.content)
    assert ConsensusFrame.objects.count() == len(frames)
    # Only a PI may ask; a reviewer reads consensus but cannot.
    assert api_client(users["reviewer"]).post(url, {"clip": clip.key, "people": 2},
                                              format="json").status_code == 403
    assert api_client(users["annotator"]).post(url, {"clip": clip.key, "people": 2},
                                               format="json").status_code == 403
