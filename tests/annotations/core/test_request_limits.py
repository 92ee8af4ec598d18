"""Hostile request bodies: too large is a 413 JSON answer, nested too deeply a 400, never a 500;
ordinary JSON, form and multipart requests still work."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def test_a_25_mb_json_body_is_a_413_json_answer(project, users):
    body = b'{"keypoints": [' + b"1," * (12_500_000) + b"1]}"
    r = api_client(users["pi"]).generic("PATCH", "/api/projects/demo/learning/settings/", body,
                                        content_type="application/json")
    assert r.status_code == 413, r.content[:300]
    assert "too large" in r.json()["detail"]


def test_a_25_mb_form_body_is_a_413_json_answer(project, users):
    body = "a=" + "x" * 25_000_000
    r = api_client(users["pi"]).generic("POST", "/api/projects/demo/jobs/", body,
                                        content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413, r.content[:300]
    assert "too large" in r.json()["detail"]


def test_json_nested_100000_deep_is_a_400(project, users):
    body = "[" * 100_000 + "]" * 100_000
    r = api_client(users["pi"]).generic("PATCH", "/api/projects/demo/learning/settings/", body,
                                        content_type="application/json")
    assert r.status_code == 400, r.content[:300]
    assert "nested" in r.json()["detail"]


def test_json_nested_a_little_too_deep_is_a_400(project, users):
    body = '{"retrain_after": ' + "[" * 40 + "]" * 40 + "}"
    r = api_client(users["pi"]).generic("PATCH", "/api/projects/demo/learning/settings/", body,
                                        content_type="application/json")
    assert r.status_code == 400 and "nested" in r.json()["detail"]


def test_ordinary_json_and_multipart_requests_still_work(project, users):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_client(users["pi"])
    r = client.patch("/api/projects/demo/learning/settings/", {"retrain_after": 50}, format="json")
    assert r.status_code == 200, r.content
    r = client.post("/api/projects/demo/jobs/", {"kind": "import", "file": SimpleUploadedFile("x.json", b"{}")},
                    format="multipart")
    assert r.status_code == 202, r.content
