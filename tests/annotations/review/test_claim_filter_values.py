"""Queue claims (and submit/decide/skip with "next") take clip, split and form_label filters: a value with a
NUL byte, a very long one or one that is not text is a 400 naming the field, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["clip", "split", "form_label"])
@pytest.mark.parametrize("value", ["\x00", "a\x00b", "x" * 201, {"a": 1}, [1, 2]])
def test_a_claim_filter_with_a_nul_byte_or_of_the_wrong_shape_is_a_400_naming_it(project, users, field, value):
    r = api_client(users["annotator"]).post("/api/projects/demo/queues/uncertain/claim/", {field: value},
                                            format="json")
    assert r.status_code == 400, r.content
    assert f"'{field}'" in r.json()["detail"]


def test_a_claim_filter_with_a_nul_byte_in_a_form_is_a_400(project, users):
    r = api_client(users["annotator"]).post("/api/projects/demo/queues/uncertain/claim/", {"clip": "c\x00"})
    assert r.status_code == 400 and "'clip'" in r.json()["detail"]


def test_plain_filters_still_claim(project, users):
    r = api_client(users["annotator"]).post("/api/projects/demo/queues/uncertain/claim/",
                                            {"clip": "52723_8", "split": "train", "form_label": ""}, format="json")
    assert r.status_code == 200 and r.json() == {"item": None}


def test_a_decision_that_is_not_one_of_the_choices_is_a_400_naming_it(project, users):
    from annotations.models import Clip, Frame

    clip = Clip.objects.create(project=project, key="c1")
    frame = Frame.objects.create(project=project, clip=clip, file_name="c1_0.jpg", width=64, height=48)
    client = api_client(users["reviewer"])
    for body in ({"decision": "maybe"}, {"decision": "reject", "comment": 5, "queue": {"x": 1}}, {}):
        r = client.post(f"/api/projects/demo/frames/{frame.pk}/decision/", body, format="json")
        assert r.status_code == 400, (body, r.content)
        assert "'decision'" in r.json()["detail"] or "'queue'" in r.json()["detail"], r.json()
