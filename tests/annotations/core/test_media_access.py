"""Stored files (frames, thumbnails, job results, models) are served only by views that check project
membership: no /media/ URL serves them, with DEBUG on too; and the dev server listens on this machine only."""

from __future__ import annotations

import importlib
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import clear_url_caches
from PIL import Image


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def debug_urls(settings):
    """The URL configuration as `make run` builds it: DEBUG on when webapp.urls is loaded."""
    import webapp.urls

    was = settings.DEBUG
    settings.DEBUG = True
    importlib.reload(webapp.urls)
    clear_url_caches()
    yield
    settings.DEBUG = was
    importlib.reload(webapp.urls)
    clear_url_caches()


@pytest.fixture
def other_files(users):
    """Another lab's project with a stored frame, thumbnail, export result and model file."""
    from annotations.models import Clip, Frame, Job, ModelVersion, Project

    other = Project.create("other-lab", "Other lab", "coco17", user=users["outsider"])
    clip = Clip.objects.create(project=other, key="c1")
    frame = Frame(project=other, clip=clip, file_name="c1_1.jpg", width=8, height=8)
    frame.image.save("other-lab/c1_1.jpg", ContentFile(jpeg()), save=False)
    frame.thumbnail.save("other-lab/c1_1.jpg", ContentFile(jpeg()), save=False)
    frame.save()
    job = Job.objects.create(project=other, kind=Job.Kind.EXPORT, status=Job.Status.SUCCEEDED,
                             created_by=users["outsider"])
    job.result_file.save(f"{job.pk}/other-lab-coco-all.json", ContentFile(b'{"images": []}'))
    version = ModelVersion.objects.create(project=other, kind="keypoint", number=1)
    version.onnx.save("model.onnx", ContentFile(b"onnx"))
    return {"project": other, "frame": frame, "job": job, "version": version,
            "names": [frame.image.name, frame.thumbnail.name, job.result_file.name, version.onnx.name]}


def test_no_media_url_serves_another_projects_files_with_debug_on(debug_urls, settings, users, other_files,
                                                                  client):
    from django.conf import settings as live

    assert live.DEBUG
    for user in ("pi", "outsider"):  # an outsider, and the files' own PI
        client.force_login(users[user])
        for name in other_files["names"]:
            assert (settings.MEDIA_ROOT / name).is_file(), name
            assert client.get(f"{settings.MEDIA_URL}{name}").status_code == 404, (user, name)


def test_the_membership_checked_views_serve_the_files_to_members_only(users, other_files, client):
    slug, frame = other_files["project"].slug, other_files["frame"]
    urls = [f"/api/projects/{slug}/frames/{frame.pk}/image/", f"/api/projects/{slug}/frames/{frame.pk}/thumbnail/",
            f"/api/jobs/{other_files['job'].pk}/download/",
            f"/api/projects/{slug}/models/{other_files['version'].pk}/files/onnx/"]
    client.force_login(users["pi"])
    assert [client.get(url).status_code for url in urls] == [404] * 4
    client.force_login(users["outsider"])
    assert [client.get(url).status_code for url in urls] == [200] * 4


def test_the_job_page_links_the_result_through_the_jobs_endpoint(users, other_files, client):
    job = other_files["job"]
    client.force_login(users["outsider"])
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'href="/api/jobs/{job.pk}/download/"' in page
    assert "/media/" not in page and job.result_file.name not in page


def test_the_dev_server_listens_on_this_machine_unless_host_says_otherwise():
    from webapp.dev import server_address

    assert server_address({}) == "127.0.0.1:8000"
    assert server_address({"PORT": "8100"}) == "127.0.0.1:8100"
    assert server_address({"HOST": "0.0.0.0", "PORT": "8100"}) == "0.0.0.0:8100"


def test_the_dev_runner_lets_imports_read_the_shared_datasets_unless_roots_are_set(monkeypatch):
    from webapp.dev import ROOT, dev_env

    monkeypatch.delenv("POSEREVIEW_IMPORT_ROOTS", raising=False)
    monkeypatch.delenv("POSEREVIEW_DATASET", raising=False)
    assert dev_env()["POSEREVIEW_IMPORT_ROOTS"] == str(ROOT.parent / "shared" / "datasets")
    monkeypatch.setenv("POSEREVIEW_IMPORT_ROOTS", "/data/import")
    assert dev_env()["POSEREVIEW_IMPORT_ROOTS"] == "/data/import"


def test_server_path_reading_is_off_by_default_outside_the_dev_runner(monkeypatch):
    import subprocess
    import sys

    from webapp.dev import ROOT, base_env

    env = {k: v for k, v in base_env().items() if k != "POSEREVIEW_IMPORT_ROOTS"}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                          "print(settings.POSEREVIEW_IMPORT_ROOTS)"], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
