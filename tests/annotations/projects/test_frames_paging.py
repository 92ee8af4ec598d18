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


def test_a_capped_page_says_so(many_frames, users):
    page = api_client(users["annotator"]).get("/api/projects/demo/frames/?limit=100000").json()
    assert page["limit"] == MAX_PAGE_SIZE
    assert "100,000" in page["limit_capped"] and str(MAX_PAGE_SIZE) in page["limit_capped"]
    exact = api_client(users["annotator"]).get(f"/api/projects/demo/frames/?limit={MAX_PAGE_SIZE}").json()
    assert "limit_capped" not in exact and exact["limit"] == MAX_PAGE_SIZE


def test_the_default_page_is_100_frames(many_frames, users):
    r = api_client(users["annotator"]).get("/api/projects/demo/frames/")
    assert r.status_code == 200 and len(r.json()["results"]) == 100
    assert r.json()["limit"] == 100 and "limit_capped" not in r.json()


def test_the_clip_list_is_paged_with_the_same_bounds_and_counts_per_clip(many_frames, users):
    from annotations.models import Clip

    Clip.objects.bulk_create([Clip(project=many_frames, key=f"z{i:04d}") for i in range(MAX_PAGE_SIZE + 5)])
    client = api_client(users["annotator"])
    page = client.get("/api/projects/demo/clips/?limit=100000").json()
    assert page["count"] == MAX_PAGE_SIZE + 6 and len(page["results"]) == MAX_PAGE_SIZE and page["limit_capped"]
    assert page["results"][0] == {"key": "c1", "frames_count": MAX_PAGE_SIZE + 20, "annotated": 0}
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 6 and rest["results"][-1] == {"key": f"z{MAX_PAGE_SIZE + 4:04d}",
                                                                 "frames_count": 0, "annotated": 0}
    assert client.get("/api/projects/demo/clips/?limit=abc").status_code == 400


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
