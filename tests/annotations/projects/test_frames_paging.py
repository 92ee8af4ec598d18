"""The frames list is paged with a bounded page size, and malformed query values are a 400, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

MAX_PAGE_SIZE = 500  # as the README states


@pytest.fixture
def many_frames(project):
    from annotations.models import Clip, Frame

    clip = Clip.objects.create(project=project, key="c1")
    Frame.objects.bulk_create([Frame(project=project, clip=clip, file_name=f"c1_{i}.jpg", width=64, height=48,
                                     frame_index=i) for i in range(MAX_PAGE_SIZE + 20)])
    return project


def test_a_huge_limit_gets_at_most_the_maximum_page_size(many_frames, users):
    r = api_client(users["annotator"]).get("/api/projects/demo/frames/?limit=100000")
    assert r.status_code == 200
    assert len(r.json()["results"]) == MAX_PAGE_SIZE and r.json()["count"] == MAX_PAGE_SIZE + 20
    assert r.json()["next"]


def test_the_default_page_is_100_frames(many_frames, users):
    r = api_client(users["annotator"]).get("/api/projects/demo/frames/")
    assert r.status_code == 200 and len(r.json()["results"]) == 100


@pytest.mark.parametrize("query, field", [
    ("clip=%00", "clip"), ("status=%00", "status"), ("split=%00", "split"), ("status=nonsense", "status"),
    ("limit=100000000000000000000", "limit"), ("offset=100000000000000000000", "offset"),
    ("limit=-5", "limit"), ("limit=abc", "limit"), ("offset=1e3", "offset"),
])
def test_malformed_frame_list_queries_are_a_400_naming_the_parameter(many_frames, users, query, field):
    r = api_client(users["annotator"]).get(f"/api/projects/demo/frames/?{query}")
    assert r.status_code == 400, r.content[:300]
    assert field in r.json()["detail"]


def test_revisions_are_paged_with_the_same_bounds(many_frames, users):
    r = api_client(users["annotator"]).get("/api/projects/demo/revisions/?limit=100000000000000000000")
    assert r.status_code == 400 and "limit" in r.json()["detail"]
