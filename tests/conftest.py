"""Shared fixtures: the demo dataset's location, users with each role, a project, media in tmp."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("POSEREVIEW_DEV", "1")
# Backbone crops kept between retrains go to a folder of this run, not the user's cache (workers inherit it).
os.environ.setdefault("MLCORE_CROP_STORE", tempfile.mkdtemp(prefix="posereview-crops-"))

ROOT = Path(__file__).resolve().parent.parent
DATASET = Path(os.environ.get("POSEREVIEW_DATASET", ROOT.parent / "shared" / "datasets" / "barbell-row"))
CORRECT_JSON = DATASET / "annotations" / "correct_n2_3_7_100.json"
LUMBAR_JSON = DATASET / "annotations" / "lumbar_3_7_dell_111.json"
CORRECT_IMAGES = DATASET / "images" / "correct"
LUMBAR_IMAGES = DATASET / "images" / "lumbar"

needs_dataset = pytest.mark.skipif(not DATASET.is_dir(), reason=f"barbell-row dataset not found at {DATASET}")


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    """Every test writes media (copied images, job files, export caches) under its own tmp dir;
    passwords hash with a fast hasher (the real one costs a second per user)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield settings.MEDIA_ROOT
    from django.db import connections

    connections["jobstate"].close()  # progress reports open it; an open session blocks dropping the test DB


@pytest.fixture(autouse=True)
def empty_cache():
    """Sign-in failures and throttle counts (kept in the cache) never carry from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def users(db, django_user_model):
    """A PI, a reviewer, an annotator and an outsider (not a member of any project)."""
    return {name: django_user_model.objects.create_user(name, password="pw-" + name)
            for name in ("pi", "reviewer", "annotator", "outsider")}


@pytest.fixture
def project(users):
    from annotations.models import Membership, Project, Role

    project = Project.create("demo", "Demo", "coco17_spine", user=users["pi"])
    Membership.objects.create(project=project, user=users["reviewer"], role=Role.REVIEWER)
    Membership.objects.create(project=project, user=users["annotator"], role=Role.ANNOTATOR)
    return project


@pytest.fixture
def imported(project):
    """The demo project with both barbell-row files imported (images referenced in place)."""
    if not DATASET.is_dir():
        pytest.skip(f"barbell-row dataset not found at {DATASET}")
    from annotations.datasets.importing import import_coco_file

    results = [
        import_coco_file(project, CORRECT_JSON, images_dir=CORRECT_IMAGES, form_label="correct"),
        import_coco_file(project, LUMBAR_JSON, images_dir=LUMBAR_IMAGES, form_label="lumbar_error"),
    ]
    project.import_results = results
    return project


@pytest.fixture
def lumbar_copy(tmp_path):
    """A writable copy of the lumbar task (JSON + images) for tests that change files."""
    if not DATASET.is_dir():
        pytest.skip(f"barbell-row dataset not found at {DATASET}")
    folder = tmp_path / "lumbar"
    shutil.copytree(LUMBAR_IMAGES, folder / "images")
    shutil.copy(LUMBAR_JSON, folder / "lumbar.json")
    return folder


def api_client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
