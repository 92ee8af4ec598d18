"""Who may see and do what: pages by session login, the REST API by token.

Roles in the demo project: a PI, a reviewer and an annotator; the outsider is a member of
nothing in it (and PI of a project of their own). A project an outsider is not in does not
exist for them (404); a member without the needed role gets 403.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from tests.conftest import LUMBAR_JSON, needs_dataset

pytestmark = needs_dataset

JOB_KINDS = ("import", "split", "merge", "export")



@pytest.fixture
def data(project):
    """A few real frames and annotations in the demo project, and a finished export job with a file."""
    from annotations.datasets.importing import import_coco_data
    from annotations.models import Annotation, Frame, Job

    raw = json.loads(LUMBAR_JSON.read_text())
    annotated = {a["image_id"] for a in raw["annotations"]}
    raw["images"] = [im for im in raw["images"] if im["id"] in annotated][:3]
    ids = {im["id"] for im in raw["images"]}
    raw["annotations"] = [a for a in raw["annotations"] if a["image_id"] in ids]
    import_coco_data(project, raw, source_name="lumbar.json", image_files={}, form_label="lumbar_error")
    job = Job.objects.create(project=project, kind=Job.Kind.EXPORT, status=Job.Status.SUCCEEDED,
                             created_by=project.created_by)
    job.result_file.save(f"{job.pk}/demo-coco-all.json", ContentFile(b'{"images": []}'))
    frame = Frame.objects.filter(project=project).order_by("id").first()
    return {"frame": frame, "annotation": Annotation.objects.filter(frame=frame).first(), "job": job,
            "clip": frame.clip.key, "frames": len(raw["images"])}


@pytest.fixture
def other_project(users):
    """The outsider's own project, with a job of its own."""
    from annotations.models import Job, Project

    other = Project.create("other-lab", "Other lab", "coco17", user=users["outsider"])
    job = Job.objects.create(project=other, kind=Job.Kind.EXPORT, status=Job.Status.SUCCEEDED,
                             created_by=users["outsider"])
    job.result_file.save(f"{job.pk}/other.json", ContentFile(b"{}"))
    other.job = job
    return other


def token_client(client_cls, username: str):
    """A REST client authenticated by the token that /api/auth/token/ hands out for the password."""
    anonymous = client_cls()
    response = anonymous.post("/api/auth/token/", {"username": username, "password": "pw-" + username})
    assert response.status_code == 200, response.content
    client = client_cls()
    client.credentials(HTTP_AUTHORIZATION="Token " + response.json()["token"])
    return client


@pytest.fixture
def api(users):
    from rest_framework.test import APIClient

    return {name: token_client(APIClient, name) for name in users}


@pytest.fixture
def pages(users):
    """Browser-like clients logged in through the login form (session cookie, CSRF checks on)."""
    from django.test import Client

    clients = {}
    for name in users:
        client = Client()
        response = client.post("/accounts/login/", {"username": name, "password": "pw-" + name})
        assert response.status_code == 302, f"login of {name} failed"
        clients[name] = client
    return clients


def project_pages(slug, data) -> list[str]:
    return [f"/p/{slug}/", f"/p/{slug}/clips/", f"/p/{slug}/clips/{data['clip']}/"]


def api_reads(slug, data) -> list[str]:
    return [
        f"/api/projects/{slug}/", f"/api/projects/{slug}/clips/", f"/api/projects/{slug}/frames/",
        f"/api/projects/{slug}/frames/{data['frame'].pk}/", f"/api/projects/{slug}/frames/{data['frame'].pk}/image/",
        f"/api/projects/{slug}/annotations/{data['annotation'].pk}/", f"/api/projects/{slug}/revisions/",
        f"/api/projects/{slug}/jobs/", f"/api/projects/{slug}/splits/", f"/api/projects/{slug}/splits/train/coco.json",
    ]


def job_body(kind: str) -> dict:
    if kind == "import":
        return {"kind": kind, "annotation_path": str(LUMBAR_JSON)}
    if kind == "split":
        return {"kind": kind, "params": {"seed": 7}}
    if kind == "export":
        return {"kind": kind, "params": {"format": "coco", "subsets": ["all"]}}
    return {"kind": kind, "params": {}}


# -- the outsider ------------------------------------------------------------------------------

def test_it_answers_404_to_an_outsider_on_every_project_page(project, data, pages):
    for url in project_pages(project.slug, data):
        assert pages["outsider"].get(url).status_code == 404, url
        assert pages["annotator"].get(url).status_code == 200, url  # the same pages exist for members


def test_it_answers_404_to_an_outsider_on_every_project_endpoint(project, data, api):
    outsider = api["outsider"]
    for url in api_reads(project.slug, data):
        response = outsider.get(url)
        assert response.status_code == 404, url
        assert "detail" in response.json(), url
    ann = data["annotation"]
    patch = outsider.patch(f"/api/projects/{project.slug}/annotations/{ann.pk}/",
                           {"form_label": "correct", "version": ann.version}, format="json")
    assert patch.status_code == 404
    for kind in JOB_KINDS:
        assert outsider.post(f"/api/projects/{project.slug}/jobs/", job_body(kind), format="json").status_code == 404
    ann.refresh_from_db()
    assert ann.version == 1 and ann.form_label.name == "lumbar_error"


def test_it_answers_404_to_an_outsider_starting_jobs_from_the_project_page(project, data, pages):
    from annotations.models import Job

    before = Job.objects.count()
    for kind in JOB_KINDS:
        assert pages["outsider"].post(f"/p/{project.slug}/jobs/{kind}/", {}).status_code == 404, kind
    assert Job.objects.count() == before


def test_it_lists_no_foreign_project_to_an_outsider(project, other_project, data, api, pages):
    assert [p["slug"] for p in api["outsider"].get("/api/projects/").json()] == ["other-lab"]
    assert [p["slug"] for p in api["annotator"].get("/api/projects/").json()] == ["demo"]
    listing = pages["outsider"].get("/")
    assert listing.status_code == 200
    assert [p.slug for p in listing.context["projects"]] == ["other-lab"]
    assert f"/p/{project.slug}/" not in listing.content.decode()


def test_it_hides_another_projects_job_and_its_file_from_an_outsider(project, other_project, data, api, pages):
    job = data["job"]
    assert api["outsider"].get(f"/api/jobs/{job.pk}/").status_code == 404
    assert api["outsider"].get(f"/api/jobs/{job.pk}/download/").status_code == 404
    assert pages["outsider"].get(f"/jobs/{job.pk}/").status_code == 404
    assert [j["id"] for j in api["outsider"].get(f"/api/projects/{other_project.slug}/jobs/").json()["results"]] == [
        other_project.job.pk]
    # ... and the other way round: demo's members do not see the outsider's job
    for name in ("pi", "reviewer", "annotator"):
        assert api[name].get(f"/api/jobs/{other_project.job.pk}/").status_code == 404, name
        assert api[name].get(f"/api/jobs/{other_project.job.pk}/download/").status_code == 404, name
    # members of demo see and download its job
    response = api["annotator"].get(f"/api/jobs/{job.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b'{"images": []}'
    assert pages["annotator"].get(f"/jobs/{job.pk}/").status_code == 200


# -- anonymous -----------------------------------------------------------------------------------

def test_it_redirects_anonymous_visitors_of_pages_to_the_login(project, data, client):
    for url in ["/", *project_pages(project.slug, data), f"/jobs/{data['job'].pk}/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert client.get("/healthz").status_code == 200


def test_it_answers_401_to_anonymous_api_calls(project, data):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    for url in ["/api/projects/", *api_reads(project.slug, data), f"/api/jobs/{data['job'].pk}/",
                f"/api/jobs/{data['job'].pk}/download/"]:
        response = anonymous.get(url)
        assert response.status_code in (401, 403), url
        assert response.json()["detail"] == "Authentication credentials were not provided.", url
    response = anonymous.post(f"/api/projects/{project.slug}/jobs/", job_body("export"), format="json")
    assert response.status_code in (401, 403)


def test_it_refuses_a_wrong_password_and_a_forged_token(users):
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.post("/api/auth/token/", {"username": "pi", "password": "wrong"}).status_code == 400
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get("/api/projects/").status_code == 401


# -- the annotator -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", JOB_KINDS)
def test_it_forbids_an_annotator_to_start_jobs(project, data, api, pages, kind):
    from annotations.models import Job

    before = Job.objects.count()
    response = api["annotator"].post(f"/api/projects/{project.slug}/jobs/", job_body(kind), format="json")
    assert response.status_code == 403
    assert "role" in response.json()["detail"]
    assert pages["annotator"].post(f"/p/{project.slug}/jobs/{kind}/", {}).status_code == 403
    assert Job.objects.count() == before


def test_it_lets_an_annotator_read_frames_and_patch_an_annotation(project, data, api):
    from annotations.models import Annotation, Revision

    annotator = api["annotator"]
    frames = annotator.get(f"/api/projects/{project.slug}/frames/").json()
    assert frames["count"] == data["frames"]
    assert data["frame"].pk in {f["id"] for f in frames["results"]}
    ann = data["annotation"]
    detail = annotator.get(f"/api/projects/{project.slug}/annotations/{ann.pk}/").json()
    keypoints = list(detail["keypoints"])
    keypoints[0] += 4.5
    response = annotator.patch(f"/api/projects/{project.slug}/annotations/{ann.pk}/",
                               {"keypoints": keypoints, "form_label": "correct", "version": detail["version"]},
                               format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == detail["version"] + 1
    assert body["keypoints"][0] == round(detail["keypoints"][0] + 4.5, 2)
    assert body["keypoint_states"][0] == "verified"
    stored = Annotation.objects.get(pk=ann.pk)
    assert stored.form_label.name == "correct" and stored.human_edited
    assert Revision.objects.get(annotation=stored, kind="edit").user.username == "annotator"


def test_it_shows_the_project_page_to_an_annotator_without_job_forms(project, data, pages):
    response = pages["annotator"].get(f"/p/{project.slug}/")
    assert response.status_code == 200
    assert response.context["is_pi"] is False and response.context["can_export"] is False
    assert f"/p/{project.slug}/jobs/import/" not in response.content.decode()
    pi_page = pages["pi"].get(f"/p/{project.slug}/").content.decode()
    assert f"/p/{project.slug}/jobs/import/" in pi_page


# -- the reviewer --------------------------------------------------------------------------------

def test_it_lets_a_reviewer_export_but_not_import_split_or_merge(project, data, api, pages):
    from annotations.models import Job

    reviewer = api["reviewer"]
    response = reviewer.post(f"/api/projects/{project.slug}/jobs/", job_body("export"), format="json")
    assert response.status_code == 202, response.content
    assert Job.objects.get(pk=response.json()["id"]).created_by.username == "reviewer"
    for kind in ("import", "split", "merge"):
        assert reviewer.post(f"/api/projects/{project.slug}/jobs/", job_body(kind), format="json").status_code == 403
        assert pages["reviewer"].post(f"/p/{project.slug}/jobs/{kind}/", {}).status_code == 403
    page = pages["reviewer"].post(f"/p/{project.slug}/jobs/export/",
                                  {"format": "yolo_pose", "subsets": ["all"]})
    assert page.status_code == 302 and page["Location"].startswith("/jobs/")
    assert Job.objects.filter(kind="export", created_by__username="reviewer").count() == 2
    assert not Job.objects.filter(kind__in=["import", "split", "merge"]).exists()


def test_it_lets_a_reviewer_download_the_coco_of_a_split(project, data, api):
    from annotations.datasets.splitting import create_split

    create_split(project)
    response = api["reviewer"].get(f"/api/projects/{project.slug}/splits/train/coco.json")
    assert response.status_code == 200
    assert json.loads(b"".join(response.streaming_content))["categories"][0]["name"] == "person"


# -- the PI --------------------------------------------------------------------------------------

def test_it_lets_a_pi_start_every_kind_of_job(project, data, api, settings):
    from annotations.models import Job

    settings.POSEREVIEW_IMPORT_ROOTS = [str(LUMBAR_JSON.parent.parent)]
    pi = api["pi"]
    for kind in JOB_KINDS:
        response = pi.post(f"/api/projects/{project.slug}/jobs/", job_body(kind), format="json")
        assert response.status_code == 202, (kind, response.content)
        job = Job.objects.get(pk=response.json()["id"])
        assert (job.kind, job.status, job.project_id) == (kind, "queued", project.pk)


def test_it_lets_a_pi_start_jobs_from_the_project_page(project, data, pages):
    from annotations.models import Job

    response = pages["pi"].post(f"/p/{project.slug}/jobs/split/", {"train": 0.7, "val": 0.15, "test": 0.15,
                                                                    "seed": 42})
    assert response.status_code == 302 and response["Location"].startswith("/jobs/")
    assert Job.objects.filter(kind="split", created_by__username="pi").count() == 1


def test_it_keeps_import_paths_inside_the_allowed_folders(project, data, api, settings, tmp_path):
    settings.POSEREVIEW_IMPORT_ROOTS = [str(tmp_path)]
    response = api["pi"].post(f"/api/projects/{project.slug}/jobs/", job_body("import"), format="json")
    assert response.status_code == 400
    assert "not inside an allowed import folder" in response.json()["detail"]


def test_it_lets_only_staff_create_projects(users, api):
    from annotations.models import Project

    assert api["pi"].post("/api/projects/", {"slug": "new-one"}, format="json").status_code == 403
    assert not Project.objects.filter(slug="new-one").exists()
    users["pi"].is_staff = True
    users["pi"].save()
    assert api["pi"].post("/api/projects/", {"slug": "new-one"}, format="json").status_code == 201
    assert Project.objects.get(slug="new-one").role_of(users["pi"]) == "pi"


def test_it_changes_nothing_when_the_session_lacks_a_csrf_token(project, data, users):
    from django.test import Client

    from annotations.models import Job

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["pi"])
    response = client.post(f"/p/{project.slug}/jobs/split/", {"train": 0.7, "val": 0.15, "test": 0.15, "seed": 1})
    assert response.status_code == 403
    assert not Job.objects.filter(kind="split").exists()
