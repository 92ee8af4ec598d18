"""Frame images and thumbnails after the permission check: streamed by Django, handed to the proxy
(X-Accel-Redirect, X-Sendfile) or redirected to a presigned URL of the object store; each with an ETag,
private caching and 304 for a matching If-None-Match; outsiders get 404 in every mode."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.request

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from tests.s3server import s3_media, s3_server  # noqa: F401

pytestmark = pytest.mark.django_db


def jpeg(colour=(200, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def stored_frame(project):
    """A frame whose image and thumbnail are in media storage (disk, or the bucket under s3_media)."""
    from annotations.models import Clip, Frame

    clip = Clip.objects.create(project=project, key="c1")
    frame = Frame(project=project, clip=clip, file_name="c1_1.jpg", width=8, height=8, frame_index=1)
    frame.image.save("demo/c1_1.jpg", ContentFile(jpeg()), save=False)
    frame.thumbnail.save("demo/c1_1.jpg", ContentFile(jpeg((10, 200, 10))), save=False)
    frame.save()
    return frame


@pytest.fixture
def in_place_frame(project, tmp_path):
    """A frame imported in place: its pixels stay in a file outside media storage."""
    from annotations.models import Clip, Frame

    path = tmp_path / "in-place" / "c2_1.jpg"
    path.parent.mkdir()
    path.write_bytes(jpeg((10, 10, 200)))
    clip = Clip.objects.create(project=project, key="c2")
    return Frame.objects.create(project=project, clip=clip, file_name="c2_1.jpg", width=8, height=8, frame_index=1,
                                source_path=str(path))


def image_url(frame) -> str:
    return f"/api/projects/demo/frames/{frame.pk}/image/"


def thumb_url(frame) -> str:
    return f"/api/projects/demo/frames/{frame.pk}/thumbnail/"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_django_streams_the_image_with_an_etag_private_caching_and_304_on_a_match(client, users, in_place_frame,
                                                                                   stored_frame):
    client.force_login(users["annotator"])
    for url, path in ((image_url(in_place_frame), in_place_frame.source_path),
                      (image_url(stored_frame), stored_frame.image.path),
                      (thumb_url(stored_frame), stored_frame.thumbnail.path)):
        r = client.get(url)
        assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
        assert body(r) == open(path, "rb").read()
        etag = r["ETag"]
        assert etag.startswith('"') and "private" in r["Cache-Control"] and "max-age=3600" in r["Cache-Control"]
        again = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304 and body(again) == b"" and again["ETag"] == etag
        assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_etag_changes_when_the_file_on_disk_changes(client, users, in_place_frame):
    client.force_login(users["annotator"])
    first = client.get(image_url(in_place_frame))["ETag"]
    with open(in_place_frame.source_path, "wb") as f:
        f.write(jpeg((0, 0, 0)) + b"\0" * 10)
    r = client.get(image_url(in_place_frame), HTTP_IF_NONE_MATCH=first)
    assert r.status_code == 200 and r["ETag"] != first


@pytest.mark.parametrize("mode, header", [("x-accel-redirect", "X-Accel-Redirect"), ("x-sendfile", "X-Sendfile")])
def test_the_proxy_modes_hand_the_file_to_the_proxy_and_send_no_bytes(client, users, settings, in_place_frame,
                                                                       stored_frame, mode, header):
    settings.POSEREVIEW_MEDIA_SERVING = mode
    settings.POSEREVIEW_MEDIA_ACCEL_PREFIX = "/_protected_media/"
    client.force_login(users["annotator"])
    for url, path in ((image_url(in_place_frame), in_place_frame.source_path),
                      (thumb_url(stored_frame), stored_frame.thumbnail.path)):
        r = client.get(url)
        assert r.status_code == 200 and body(r) == b"" and r["Content-Type"] == "image/jpeg"
        real = os.path.realpath(path)
        assert r[header] == (f"/_protected_media{real}" if mode == "x-accel-redirect" else real)
        assert "private" in r["Cache-Control"] and r["ETag"]
        assert client.get(url, HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304


@pytest.mark.parametrize("mode", ["django", "x-accel-redirect", "x-sendfile"])
def test_outsiders_get_404_and_no_file_in_every_mode(client, users, settings, in_place_frame, stored_frame, mode):
    settings.POSEREVIEW_MEDIA_SERVING = mode
    client.force_login(users["outsider"])
    for url in (image_url(in_place_frame), image_url(stored_frame), thumb_url(stored_frame)):
        r = client.get(url)
        assert r.status_code == 404
        assert not r.has_header("X-Accel-Redirect") and not r.has_header("X-Sendfile") and not r.has_header("ETag")
    client.logout()
    assert client.get(image_url(in_place_frame)).status_code in (302, 401, 403)


def test_a_missing_file_is_a_404_in_proxy_mode_too(client, users, settings, in_place_frame):
    settings.POSEREVIEW_MEDIA_SERVING = "x-accel-redirect"
    os.unlink(in_place_frame.source_path)
    client.force_login(users["annotator"])
    r = client.get(image_url(in_place_frame))
    assert r.status_code == 404 and not r.has_header("X-Accel-Redirect")


def test_objects_on_the_store_stream_with_an_etag_or_redirect_to_a_presigned_url(s3_media, settings, client, users,
                                                                                 stored_frame):
    client.force_login(users["annotator"])
    r = client.get(image_url(stored_frame))
    assert r.status_code == 200 and body(r) == jpeg()
    assert client.get(image_url(stored_frame), HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304

    settings.POSEREVIEW_MEDIA_PRESIGNED = True
    settings.POSEREVIEW_MEDIA_PRESIGNED_SECONDS = 120
    for url, content in ((image_url(stored_frame), jpeg()), (thumb_url(stored_frame), jpeg((10, 200, 10)))):
        r = client.get(url)
        assert r.status_code == 302 and "X-Amz-Signature=" in r["Location"] and "X-Amz-Expires=120" in r["Location"]
        assert "max-age=60" in r["Cache-Control"] and "private" in r["Cache-Control"]
        with urllib.request.urlopen(r["Location"], timeout=10) as fetched:  # no credentials: the URL is the key
            assert fetched.read() == content
    client.force_login(users["outsider"])
    assert client.get(image_url(stored_frame)).status_code == 404


def settings_of(**env) -> dict:
    """Media-serving settings as webapp/settings.py reads them from an environment (a fresh interpreter)."""
    script = ("import json, django; from django.conf import settings; django.setup(); print(json.dumps("
              "{'mode': settings.POSEREVIEW_MEDIA_SERVING, 'csp': settings.POSEREVIEW_CSP}))")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("POSEREVIEW_S3_", "POSEREVIEW_MEDIA_"))}
    out = subprocess.run([sys.executable, "-c", script], env={**keep, "DJANGO_SETTINGS_MODULE": "webapp.settings",
                                                              **env}, capture_output=True, text=True)
    return {"rc": out.returncode, **(json.loads(out.stdout) if out.returncode == 0 else {"err": out.stderr})}


def test_the_environment_chooses_the_mode_and_a_presigned_store_joins_the_image_sources():
    assert settings_of()["mode"] == "django"
    assert settings_of(POSEREVIEW_MEDIA_SERVING="X-Accel-Redirect")["mode"] == "x-accel-redirect"
    bad = settings_of(POSEREVIEW_MEDIA_SERVING="nginx")
    assert bad["rc"] != 0 and "POSEREVIEW_MEDIA_SERVING" in bad["err"]
    s3 = {"POSEREVIEW_S3_ENDPOINT_URL": "http://s3:8333", "POSEREVIEW_S3_ACCESS_KEY": "ak",
          "POSEREVIEW_S3_SECRET_KEY": "sk"}
    assert "https://media.example.org" not in settings_of(**s3)["csp"]
    csp = settings_of(**s3, POSEREVIEW_MEDIA_PRESIGNED="1", POSEREVIEW_S3_PUBLIC_URL="https://media.example.org/s3")["csp"]
    assert "img-src 'self' data: blob: https://media.example.org;" in csp
