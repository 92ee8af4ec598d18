"""Chunked, resumable uploads: a file arrives in pieces, survives a dropped connection, then extracts."""

import os
import time

import pytest

from annotations.models import Frame, Job, Video
from tests.annotations.video.video_builders import barbell_frames, eager_jobs, media_files, write_video  # noqa: F401
from tests.conftest import api_client, needs_dataset

pytestmark = [needs_dataset, pytest.mark.django_db(databases=["default", "jobstate"])]


@pytest.fixture
def video_bytes(tmp_path):
    return write_video(tmp_path / "set.mp4", barbell_frames(6)).read_bytes()


def patch(client, url, chunk: bytes, offset: int):
    return client.generic("PATCH", url, chunk, content_type="application/offset+octet-stream",
                          HTTP_UPLOAD_OFFSET=str(offset))


def begin(client, slug, name, size):
    response = client.post(f"/api/projects/{slug}/video-uploads/", {"file_name": name, "size": size}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_video_uploaded_in_chunks_survives_a_dropped_connection_and_extracts(
        project, users, video_bytes, eager_jobs, media_in_tmp, django_capture_on_commit_callbacks):
    client = api_client(users["pi"])
    size = len(video_bytes)
    upload = begin(client, project.slug, "set.mp4", size)
    assert (upload["offset"], upload["size"], upload["complete"]) == (0, size, False)
    url = f"/api/projects/{project.slug}/video-uploads/{upload['id']}/"

    first = 40_000
    response = patch(client, url, video_bytes[:first], 0)
    assert response.status_code == 200 and response.json()["offset"] == first
    assert response["Upload-Offset"] == str(first)

    # The connection drops halfway through the next chunk: only part of it arrived.
    arrived = 15_000
    assert patch(client, url, video_bytes[first:first + arrived], first).json()["offset"] == first + arrived
    # The browser retries the whole chunk from where it started: refused, with the server's offset.
    response = patch(client, url, video_bytes[first:first + 40_000], first)
    assert response.status_code == 409
    assert response.json()["offset"] == first + arrived
    # It asks where the server got to and resumes from there.
    offset = client.get(url).json()["offset"]
    assert offset == first + arrived
    while offset < size:
        response = patch(client, url, video_bytes[offset:offset + 50_000], offset)
        assert response.status_code == 200
        offset = response.json()["offset"]
    assert client.get(url).json()["complete"] is True

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url + "complete/", {"mode": "every", "every": 2, "clip": "53001_4"}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.message
    video = Video.objects.get()
    assert (video.name, video.source_name, video.frame_count) == ("53001", "set.mp4", 6)
    with video.file.open("rb") as fh:
        assert fh.read() == video_bytes  # byte for byte what the client had
    assert sorted(Frame.objects.values_list("frame_index", flat=True)) == [0, 2, 4]
    assert client.get(url).status_code == 404  # the parts are gone once handed over
    assert not [n for n in media_files(media_in_tmp) if n.startswith("uploads/")]


def test_a_chunk_past_the_declared_size_or_an_early_completion_is_refused(project, users, video_bytes, media_in_tmp):
    client = api_client(users["pi"])
    upload = begin(client, project.slug, "set.mp4", 100)
    url = f"/api/projects/{project.slug}/video-uploads/{upload['id']}/"
    response = patch(client, url, video_bytes[:150], 0)
    assert (response.status_code, response.json()["detail"]) == (
        400, "the chunk is 150 bytes but only 100 are left of set.mp4")
    patch(client, url, video_bytes[:60], 0)
    response = client.post(url + "complete/", {}, format="json")
    assert (response.status_code, response.json()["detail"]) == (
        400, "set.mp4 is not complete: 60 of 100 bytes arrived")
    response = patch(client, url, video_bytes[60:100], "x")
    assert response.status_code == 400
    assert response.json()["detail"] == "the 'Upload-Offset' header (where this chunk starts) is required"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert Job.objects.count() == 0 and media_files(media_in_tmp) == []


def test_an_upload_is_refused_up_front_when_it_is_too_big_or_not_a_video(project, users, settings):
    client = api_client(users["pi"])
    settings.POSEREVIEW_MAX_UPLOAD_BYTES = 1000
    response = client.post(f"/api/projects/{project.slug}/video-uploads/", {"file_name": "set.mp4", "size": 5000},
                           format="json")
    assert (response.status_code, response.json()["detail"]) == (
        400, "set.mp4: 5,000 bytes exceeds the upload limit of 1,000 bytes")
    response = client.post(f"/api/projects/{project.slug}/video-uploads/", {"file_name": "set.zip", "size": 50},
                           format="json")
    assert response.status_code == 400 and response.json()["detail"].startswith("set.zip: not a supported video file")


def test_nobody_else_can_continue_or_see_an_upload(project, users, video_bytes):
    from annotations.models import Membership, Role

    Membership.objects.filter(project=project, user=users["reviewer"]).update(role=Role.PI)
    upload = begin(api_client(users["pi"]), project.slug, "set.mp4", len(video_bytes))
    url = f"/api/projects/{project.slug}/video-uploads/{upload['id']}/"
    other = api_client(users["reviewer"])  # a PI too, but not the uploader
    assert other.get(url).status_code == 404
    assert patch(other, url, video_bytes[:10], 0).status_code == 404
    assert patch(api_client(users["annotator"]), url, video_bytes[:10], 0).status_code == 403
    assert api_client(users["pi"]).get(url).json()["offset"] == 0


def test_abandoned_parts_are_swept_away_by_the_next_upload(project, users, media_in_tmp):
    from annotations.video import uploads as video_uploads

    client = api_client(users["pi"])
    old = begin(client, project.slug, "old.mp4", 10)
    data = media_in_tmp / video_uploads.PARTS / old["id"] / "data"
    stale = time.time() - video_uploads.ABANDONED_AFTER_S - 60
    os.utime(data, (stale, stale))
    begin(client, project.slug, "new.mp4", 10)
    assert not data.parent.exists()
    assert client.get(f"/api/projects/{project.slug}/video-uploads/{old['id']}/").status_code == 404
