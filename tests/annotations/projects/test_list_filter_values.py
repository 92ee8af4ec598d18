"""The revision list's frame/annotation filters and the model list's kind filter: values the database
cannot take (a huge id, a NUL byte) or that name nothing are a 400 naming the parameter, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query, field", [
    ("frame=100000000000000000000", "frame"), ("annotation=99999999999999", "annotation"),
    ("frame=-1", "frame"), ("annotation=abc", "annotation"),
])
def test_a_revision_filter_that_is_no_id_is_a_400_naming_it(project, users, query, field):
    r = api_client(users["annotator"]).get(f"/api/projects/demo/revisions/?{query}")
    assert r.status_code == 400, r.content
    assert f"'{field}'" in r.json()["detail"]


def test_a_revision_filter_by_frame_still_filters(project, users):
    r = api_client(users["annotator"]).get("/api/projects/demo/revisions/?frame=12&annotation=")
    assert r.status_code == 200 and r.json()["count"] == 0


@pytest.mark.parametrize("kind", ["%00", "nonsense"])
def test_a_model_kind_filter_outside_the_kinds_is_a_400(project, users, kind):
    r = api_client(users["annotator"]).get(f"/api/projects/demo/models/?kind={kind}")
    assert r.status_code == 400 and "'kind'" in r.json()["detail"]


def test_the_model_list_filters_by_kind(project, users):
    r = api_client(users["annotator"]).get("/api/projects/demo/models/?kind=keypoints")
    assert r.status_code == 200 and r.json() == []
