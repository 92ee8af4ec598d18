"""A frame collecting a consensus of N people is held by up to N of them at once, each with their own lease,
while every other frame stays leased to one person only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.annotations.consensus.helpers import placed
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

BASE = "/api/projects/demo"


@pytest.fixture
def people(imported, users, django_user_model):
    """Four people who may work the annotation queues: annotator, reviewer, PI and a second annotator."""
    from annotations.models import Membership, Role

    second = django_user_model.objects.create_user("annotator2")
    Membership.objects.create(project=imported, user=second, role=Role.ANNOTATOR)
    return [users["annotator"], users["reviewer"], users["pi"], second]


@pytest.fixture
def chosen(imported, users):
    """Two annotated frames first in the uncertain queue, the first asked of 3 people by the PI."""
    from annotations.consensus import voting
    from annotations.models import Annotation
    from annotations.review.queues import set_priorities

    ids = list(Annotation.objects.filter(project=imported, instance=0).order_by("frame_id")
               .values_list("frame_id", flat=True)[:2])
    set_priorities(imported, "uncertain", {ids[1]: 1e6})
    assert voting.require(imported, [ids[0]], 3, users["pi"])["required"] == [ids[0]]  # first in line
    return ids


def claim(person):
    response = api_client(person).post(f"{BASE}/queues/uncertain/claim/", {}, format="json")
    assert response.status_code == 200, response.content
    item = response.json()["item"]
    return item and item["frame"]


def holders(frame_id) -> list[str]:
    from annotations.models import FrameLease

    return sorted(FrameLease.objects.filter(frame_id=frame_id, expires_at__gt=timezone.now())
                  .values_list("user__username", flat=True))


def test_three_people_hold_a_new_frame_at_once_and_a_fourth_gets_the_next(imported, people):
    from annotations.consensus import voting
    from annotations.models import Annotation, ConsensusFrame, Frame, QueueItem
    from annotations.review import claims
    from annotations.review.queues import set_priorities

    voting.set_settings(imported, people=3)
    pool = list(Frame.objects.filter(project=imported, annotations__isnull=True).order_by("id")
                .values_list("id", flat=True)[:2])
    set_priorities(imported, "uncertain", {pool[0]: 1e6, pool[1]: 1e6 - 1})
    first, second, third, fourth = people
    # Nobody has submitted, yet each of three people gets the frame: the first with the lease that opened
    # the consensus, the next two beside it.
    assert [claim(p) for p in (first, second, third)] == [pool[0]] * 3
    assert holders(pool[0]) == sorted(p.username for p in (first, second, third))
    assert claim(fourth) == pool[1]  # the three places are taken
    frame = Frame.objects.get(pk=pool[0])
    for person in (first, second, third):
        claims.check_holder(frame, person)  # the first one's plain lease and the others' shared ones alike
    overview = {q["queue"]: q for q in api_client(first).get(f"{BASE}/queues/").json()["queues"]}
    assert overview["uncertain"]["claimed"] == 2  # frames, not leases

    # Each works on their own vote while the others hold theirs: saved, saved again and submitted, no 409.
    for n, person in enumerate((first, second, third)):
        client = api_client(person)
        pose = placed(imported, Annotation.objects.filter(project=imported).order_by("id").first().frame_id, n)
        created = client.post(f"{BASE}/frames/{pool[0]}/annotations/", {**pose, "queue": "uncertain"},
                              format="json")
        assert created.status_code == 201, created.content
        saved = client.patch(f"{BASE}/annotations/{created.json()['id']}/",
                             {"form_label": "correct", "version": created.json()["version"], "queue": "uncertain"},
                             format="json")
        assert saved.status_code == 200, saved.content
        done = client.post(f"{BASE}/frames/{pool[0]}/submit/", {"queue": "uncertain"}, format="json")
        assert done.status_code == 200, done.content

    cf = ConsensusFrame.objects.get(frame_id=pool[0])
    assert cf.status != "collecting" and Annotation.objects.get(frame_id=pool[0]).source == "consensus"
    assert not QueueItem.objects.filter(frame_id=pool[0], queue="uncertain", done_at__isnull=True).exists()
    assert holders(pool[0]) == [] and not imported.frames.get(pk=pool[0]).leases.exists()  # no lease is left
    assert holders(pool[1]) == [fourth.username]


def test_a_frame_without_consensus_is_still_leased_to_one_person(imported, people):
    from annotations.models import Frame, FrameLease
    from annotations.review.queues import set_priorities

    ids = list(Frame.objects.filter(project=imported).order_by("id").values_list("id", flat=True)[:2])
    set_priorities(imported, "uncertain", {ids[0]: 1e6, ids[1]: 1e6 - 1})
    assert [claim(p) for p in people[:2]] == ids
    assert FrameLease.objects.filter(frame_id=ids[0]).count() == 1 and holders(ids[0]) == [people[0].username]
    assert not FrameLease.objects.filter(shared=True).exists()


def test_chosen_frames_are_shared_and_an_expired_lease_frees_its_place(imported, chosen, people):
    from annotations.models import FrameLease

    frame_id, other = chosen
    first, second, third, fourth = people
    assert [claim(p) for p in (first, second, third)] == [frame_id] * 3
    assert claim(fourth) == other
    assert api_client(fourth).post(f"{BASE}/frames/{other}/lease/release/", {}, format="json").json() == \
        {"released": True}
    FrameLease.objects.filter(frame_id=frame_id, user=second).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert claim(fourth) == frame_id  # the lapsed place is theirs now
    assert holders(frame_id) == sorted(p.username for p in (first, third, fourth))
    assert claim(second) == other  # and the frame is full again for the one who let it lapse


def test_a_voters_release_is_no_409_while_others_hold_the_frame(imported, chosen, people):
    from annotations.models import Frame, FrameLease
    from annotations.review import claims

    frame_id, _ = chosen
    first, second, third, _ = people
    assert [claim(p) for p in (first, second, third)] == [frame_id] * 3
    FrameLease.objects.filter(frame_id=frame_id, user=first).delete()  # their lease lapsed and was cleared
    frame = Frame.objects.get(pk=frame_id)
    for person in (first, second, third):
        claims.check_holder(frame, person)  # the others' leases are no one's "you lost it"
    response = api_client(first).post(f"{BASE}/frames/{frame_id}/lease/release/", {"queue": "uncertain"},
                                      format="json")
    assert response.status_code == 200 and response.json() == {"released": False}, response.content
    assert holders(frame_id) == sorted(p.username for p in (second, third))
