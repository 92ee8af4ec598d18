"""Dataset jobs started over REST have their params checked by type before a Job row exists: unknown keys
and wrong types are a 400 naming the field, and nothing is queued."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

JOBS = "/api/projects/demo/jobs/"


@pytest.mark.parametrize("kind, params, field", [
    ("split", {"seed": "forty-two"}, "seed"),
    ("split", {"seed": 2**80}, "seed"),
    ("split", {"ratios": [0.7, 0.15, 0.15]}, "ratios"),
    ("split", {"ratios": {"train": "most"}}, "train"),
    ("split", {"fresh": "no"}, "fresh"),
    ("split", {"colour": "red"}, "colour"),
    ("export", {"format": 3}, "format"),
    ("export", {"format": "pdf"}, "format"),
    ("export", {"subsets": "train"}, "subsets"),
    ("export", {"subsets": ["train", {"a": 1}]}, "subsets"),
    ("export", {"subsets": []}, "subsets"),
    ("export", {"split_version": "latest"}, "split_version"),
    ("export", {"include_images": "yes"}, "include_images"),
    ("export", {"path": "/etc"}, "path"),
    ("merge", {"sources": ["x"]}, "sources"),
])
def test_dataset_jobs_with_bad_params_are_refused_before_a_job_exists(project, users, kind, params, field):
    from annotations.models import Job

    r = api_client(users["pi"]).post(JOBS, {"kind": kind, "params": params}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["detail"]
    assert not Job.objects.exists()


def test_params_that_are_not_an_object_are_refused(project, users):
    from annotations.models import Job

    r = api_client(users["pi"]).post(JOBS, {"kind": "split", "params": [1, 2]}, format="json")
    assert r.status_code == 400 and "params" in r.json()["detail"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("fields, field", [
    ({"annotation_path": ["/tmp/a.json"]}, "annotation_path"),
    ({"annotation_path": "/tmp/a.json", "images_dir": 2}, "images_dir"),
    ({"annotation_path": "/tmp/a.json", "form_label": {"x": 1}}, "form_label"),
    ({"annotation_path": "/tmp/a.json", "copy_images": [True]}, "copy_images"),
    ({"annotation_path": "/tmp/a.json", "overwrite": True}, "overwrite"),
])
def test_imports_with_fields_of_the_wrong_type_are_refused(project, users, fields, field):
    from annotations.models import Job

    r = api_client(users["pi"]).post(JOBS, {"kind": "import", **fields}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["detail"]
    assert not Job.objects.exists()
