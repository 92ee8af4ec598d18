"""Server paths named by a request or a job (import file and image folder, merge files) are read
only inside POSEREVIEW_IMPORT_ROOTS, symlinks resolved, never from the media storage of any project;
with no roots configured, nothing on the server is read by path."""

from __future__ import annotations

import json
import os

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile

from tests.conftest import DATASET, LUMBAR_IMAGES, LUMBAR_JSON, api_client, needs_dataset

# Jobs report progress through the second ("jobstate") connection.
pytestmark = [needs_dataset, pytest.mark.django_db(databases=["default", "jobstate"])]


@pytest.fixture
def other_export(users):
    """Another lab's project with a finished COCO export under MEDIA_ROOT (at its guessable path)."""
    from annotations.models import Job, Project

    other = Project.create("other-lab", "Other lab", "coco17_spine", user=users["outsider"])
    job = Job.objects.create(project=other, kind=Job.Kind.EXPORT, status=Job.Status.SUCCEEDED,
                             created_by=users["outsider"])
    secret = json.loads(LUMBAR_JSON.read_text())
    job.result_file.save(f"{job.pk}/other-lab-coco-all.json", ContentFile(json.dumps(secret).encode()))
    return job.result_file.path


def job_count() -> int:
    from annotations.models import Job

    return Job.objects.exclude(kind="export").count()


def post_job(user, slug: str, body: dict, fmt: str = "json"):
    return api_client(user).post(f"/api/projects/{slug}/jobs/", body, format=fmt)


# -- merge -----------------------------------------------------------------------------------------

def test_a_merge_of_another_projects_export_under_media_root_is_refused_and_queues_nothing(
        project, users, other_export, settings):
    from annotations.models import Annotation

    for roots in ([], [str(settings.MEDIA_ROOT.parent)], [str(settings.MEDIA_ROOT)]):
        settings.POSEREVIEW_IMPORT_ROOTS = roots
        response = post_job(users["pi"], project.slug,
                            {"kind": "merge", "params": {"projects": [project.slug], "files": [other_export]}})
        assert response.status_code == 400, (roots, response.content)
        assert "'files'" in response.json()["detail"]
    assert job_count() == 0 and Annotation.objects.filter(frame__project=project).count() == 0


def test_a_merge_file_named_by_a_number_is_refused_before_a_job_is_queued(project, users, settings):
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    for files in ([2], [{"path": 2}], "x.json", [None], [{"path": str(LUMBAR_JSON), "form_label": 3}]):
        response = post_job(users["pi"], project.slug, {"kind": "merge", "params": {"files": files}})
        assert response.status_code == 400, (files, response.content)
        assert "'files'" in response.json()["detail"]
    assert job_count() == 0


def test_a_merge_job_whose_params_name_fd_2_fails_and_leaves_stderr_open(project, users, settings):
    from annotations.core.jobs import run_job
    from annotations.models import Job

    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    job = Job.objects.create(project=project, kind="merge", params={"projects": [project.slug], "files": [2]},
                             created_by=users["pi"])
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "'files'" in job.message
    os.fstat(2)  # still open: the job never opened (and closed) file descriptor 2


def test_a_merge_job_re_checks_its_files_against_the_roots_when_it_runs(project, users, other_export, settings):
    from annotations.core.jobs import run_job
    from annotations.models import Job

    settings.POSEREVIEW_IMPORT_ROOTS = [str(settings.MEDIA_ROOT.parent)]
    job = Job.objects.create(project=project, kind="merge", params={"projects": [project.slug],
                                                                    "files": [{"path": other_export}]},
                             created_by=users["pi"])
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "media storage" in job.message and not job.result_file


def test_a_merge_of_a_file_inside_the_roots_is_queued_with_its_resolved_path(project, users, settings):
    from annotations.models import Job

    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    response = post_job(users["pi"], project.slug,
                        {"kind": "merge", "params": {"files": [str(DATASET / "annotations" / ".." / "annotations"
                                                                    / LUMBAR_JSON.name)]}})
    assert response.status_code == 202, response.content
    assert Job.objects.get(pk=response.json()["id"]).params["files"] == [os.path.realpath(LUMBAR_JSON)]


# -- import by path --------------------------------------------------------------------------------

def test_an_import_by_server_path_is_refused_while_no_import_roots_are_configured(project, users, settings):
    settings.POSEREVIEW_IMPORT_ROOTS = []
    for body in ({"kind": "import", "annotation_path": str(LUMBAR_JSON)},
                 {"kind": "import", "file": ContentFile(b"{}", name="a.json"), "images_dir": str(LUMBAR_IMAGES)}):
        response = post_job(users["pi"], project.slug, body, fmt="multipart")
        assert response.status_code == 400, response.content
        assert "POSEREVIEW_IMPORT_ROOTS" in response.json()["detail"]
    assert job_count() == 0


def test_an_import_of_another_projects_export_is_refused_even_when_a_root_holds_the_media(
        project, users, other_export, settings):
    settings.POSEREVIEW_IMPORT_ROOTS = [str(settings.MEDIA_ROOT.parent)]
    response = post_job(users["pi"], project.slug, {"kind": "import", "annotation_path": other_export})
    assert response.status_code == 400
    assert "media storage" in response.json()["detail"]
    assert job_count() == 0


def test_a_folder_given_as_annotation_path_is_a_400_naming_the_field(project, users, settings):
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    response = post_job(users["pi"], project.slug,
                        {"kind": "import", "annotation_path": str(DATASET / "annotations")})
    assert response.status_code == 400
    assert "'annotation_path'" in response.json()["detail"] and "folder" in response.json()["detail"]
    response = post_job(users["pi"], project.slug,
                        {"kind": "import", "annotation_path": str(LUMBAR_JSON), "images_dir": str(LUMBAR_JSON)})
    assert response.status_code == 400 and "'images_dir'" in response.json()["detail"]
    assert job_count() == 0


def test_a_path_that_is_not_a_string_is_a_400(project, users, settings):
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    for body in ({"kind": "import", "annotation_path": 2}, {"kind": "import", "annotation_path": [str(LUMBAR_JSON)]},
                 {"kind": "import", "annotation_path": str(LUMBAR_JSON), "images_dir": {"a": 1}}):
        response = post_job(users["pi"], project.slug, body)
        assert response.status_code == 400, (body, response.content)
    assert job_count() == 0


def test_a_symlink_inside_a_root_that_points_outside_it_is_refused(project, users, settings, tmp_path):
    root = tmp_path / "import"
    root.mkdir()
    (root / "lumbar.json").symlink_to(LUMBAR_JSON)
    (root / "images").symlink_to(LUMBAR_IMAGES, target_is_directory=True)
    (root / "linked").symlink_to(LUMBAR_JSON.parent, target_is_directory=True)
    settings.POSEREVIEW_IMPORT_ROOTS = [str(root)]
    for body in ({"kind": "import", "annotation_path": str(root / "lumbar.json")},
                 {"kind": "import", "annotation_path": str(root / "linked" / LUMBAR_JSON.name)},
                 {"kind": "import", "file": ContentFile(b"{}", name="a.json"), "images_dir": str(root / "images")}):
        response = post_job(users["pi"], project.slug, body, fmt="multipart")
        assert response.status_code == 400, response.content
        assert "not inside an allowed import folder" in response.json()["detail"]
    response = post_job(users["pi"], project.slug,
                        {"kind": "merge", "params": {"files": [str(root / "lumbar.json")]}})
    assert response.status_code == 400 and "not inside an allowed import folder" in response.json()["detail"]
    assert job_count() == 0


def test_an_import_inside_the_roots_runs_and_reads_the_resolved_paths(project, users, settings):
    from annotations.core.jobs import run_job
    from annotations.models import Job

    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    response = post_job(users["pi"], project.slug,
                        {"kind": "import", "annotation_path": str(LUMBAR_JSON), "images_dir": str(LUMBAR_IMAGES),
                         "form_label": "lumbar_error"}, fmt="multipart")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.params["annotation_path"] == os.path.realpath(LUMBAR_JSON)
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert job.result["annotated"] > 100


def test_an_import_job_re_checks_its_paths_when_it_runs(project, users, settings, tmp_path):
    from annotations.core.jobs import run_job
    from annotations.models import Frame, Job

    settings.POSEREVIEW_IMPORT_ROOTS = [str(tmp_path / "import")]
    job = Job.objects.create(project=project, kind="import", params={"annotation_path": str(LUMBAR_JSON)},
                             created_by=users["pi"])
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "not inside an allowed import folder" in job.message
    assert not Frame.objects.filter(project=project).exists()


def test_an_uploaded_file_imports_without_any_roots(project, users, settings):
    from annotations.core.jobs import run_job
    from annotations.models import Job

    settings.POSEREVIEW_IMPORT_ROOTS = []
    upload = ContentFile(LUMBAR_JSON.read_bytes(), name="lumbar.json")
    response = post_job(users["pi"], project.slug, {"kind": "import", "file": upload}, fmt="multipart")
    assert response.status_code == 202, response.content
    run_job(response.json()["id"])
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded", job.message


# -- the project page's import form ----------------------------------------------------------------

def test_the_page_import_form_refuses_an_annotation_path_outside_the_roots(project, users, settings, tmp_path,
                                                                         client):
    settings.POSEREVIEW_IMPORT_ROOTS = [str(tmp_path / "import")]
    client.force_login(users["pi"])
    for data in ({"annotation_path": str(LUMBAR_JSON)},
                 {"annotation_path": str(tmp_path / "import" / "x.json"), "images_dir": str(LUMBAR_IMAGES)}):
        response = client.post(f"/p/{project.slug}/jobs/import/", data)
        assert response.status_code == 302 and response["Location"] == f"/p/{project.slug}/"
        errors = [str(m) for m in get_messages(response.wsgi_request)]
        assert any("annotation_path" in e or "images_dir" in e for e in errors), errors
    assert job_count() == 0


def test_the_page_import_form_refuses_server_paths_while_no_roots_are_configured(project, users, settings, client):
    settings.POSEREVIEW_IMPORT_ROOTS = []
    client.force_login(users["pi"])
    response = client.post(f"/p/{project.slug}/jobs/import/", {"annotation_path": str(LUMBAR_JSON)})
    assert response.status_code == 302
    assert any("POSEREVIEW_IMPORT_ROOTS" in str(m) for m in get_messages(response.wsgi_request))
    assert job_count() == 0


def test_the_page_import_form_starts_an_import_inside_the_roots(project, users, settings, client):
    from annotations.models import Job

    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    client.force_login(users["pi"])
    response = client.post(f"/p/{project.slug}/jobs/import/", {"annotation_path": str(LUMBAR_JSON),
                                                               "images_dir": str(LUMBAR_IMAGES)})
    assert response.status_code == 302 and response["Location"].startswith("/jobs/")
    job = Job.objects.get(kind="import")
    assert job.params["annotation_path"] == os.path.realpath(LUMBAR_JSON)
    assert job.params["images_dir"] == os.path.realpath(LUMBAR_IMAGES)


def test_the_page_import_form_says_where_server_paths_may_point(project, users, settings, client):
    client.force_login(users["pi"])
    settings.POSEREVIEW_IMPORT_ROOTS = []
    assert "reading files on the server is off" in client.get(f"/p/{project.slug}/").content.decode()
    settings.POSEREVIEW_IMPORT_ROOTS = [str(DATASET)]
    assert f"inside {os.path.realpath(DATASET)}" in client.get(f"/p/{project.slug}/").content.decode()


# -- the file reader itself ------------------------------------------------------------------------

def test_load_json_file_refuses_a_folder_and_a_file_descriptor_number(tmp_path):
    from annotations.core.errors import InputError
    from annotations.datasets.importing import load_json_file

    with pytest.raises(InputError, match="folder"):
        load_json_file(tmp_path)
    with pytest.raises(InputError, match="path"):
        load_json_file(2)
    os.fstat(2)
