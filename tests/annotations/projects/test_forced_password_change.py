"""A password someone else set (an account a PI created, or a PI's reset) must be replaced at the first
sign-in before anything else: pages redirect to the change-password page, the REST API answers 403 with
a message to session auth and issues no token for it; a token the person had keeps working."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

NEW = "rows-and-spines-2026"


def created(pi_client, username="newbie", role="annotator") -> str:
    html = pi_client.post("/p/demo/settings/", {"action": "create_account", "username": username,
                                                "role": role}).content.decode()
    return re.search(r'<code id="new-password">([^<]+)</code>', html).group(1)


def reset(pi_client, username) -> tuple[int, str]:
    response = pi_client.post("/p/demo/settings/", {"action": "reset_password", "username": username}, follow=True)
    found = re.search(r'<code id="new-password">([^<]+)</code>', response.content.decode())
    return response, found.group(1) if found else None


def signed_in(username, password) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    return client


def change(client, old, new=NEW):
    return client.post("/accounts/password/", {"old_password": old, "new_password1": new, "new_password2": new})


@pytest.fixture
def pi_client(project, users):
    client = Client()
    client.force_login(users["pi"])
    return client


def test_a_new_account_must_choose_its_own_password_before_anything_else(pi_client):
    temporary = created(pi_client)
    newbie = signed_in("newbie", temporary)
    for page in ("/", "/p/demo/", "/p/demo/gallery/"):
        response = newbie.get(page)
        assert response.status_code == 302 and response["Location"] == "/accounts/password/", page
    form = newbie.get("/accounts/password/")
    assert form.status_code == 200 and 'id="password-forced"' in form.content.decode()

    api = newbie.get("/api/projects/demo/")
    assert api.status_code == 403
    assert api.json() == {"detail": "Your password was set by someone else (a PI): choose your own at "
                                    "/accounts/password/ before using PoseReview.",
                          "code": "password_change_required"}
    token = Client().post("/api/auth/token/", {"username": "newbie", "password": temporary})
    assert token.status_code == 403 and token.json()["code"] == "password_change_required"

    same = change(newbie, temporary, temporary)  # the PI's password is not the person's own
    assert same.status_code == 200 and "different from the current one" in same.content.decode()
    assert newbie.get("/p/demo/").status_code == 302

    assert change(newbie, temporary)["Location"] == "/accounts/password/done/"
    assert newbie.get("/p/demo/").status_code == 200  # the same session goes on
    assert newbie.get("/api/projects/demo/").status_code == 200
    assert 'id="password-forced"' not in newbie.get("/accounts/password/").content.decode()
    assert Client().post("/api/auth/token/", {"username": "newbie", "password": NEW}).status_code == 200
    assert signed_in("newbie", NEW).get("/p/demo/").status_code == 200  # and the next sign-in too


def test_a_pi_resets_a_members_password_which_ends_their_sessions_but_not_their_token(pi_client, users):
    annotator = signed_in("annotator", "pw-annotator")
    token = Client().post("/api/auth/token/", {"username": "annotator", "password": "pw-annotator"}).json()["token"]
    response, temporary = reset(pi_client, "annotator")
    assert response.status_code == 200 and temporary and response["Cache-Control"] == "no-store"
    assert "New password for" in response.content.decode()

    assert annotator.get("/p/demo/")["Location"].startswith("/accounts/login/")  # signed out
    assert not Client().login(username="annotator", password="pw-annotator")
    again = signed_in("annotator", temporary)
    assert again.get("/p/demo/")["Location"] == "/accounts/password/"
    assert again.get("/api/projects/demo/").status_code == 403
    script = Client(HTTP_AUTHORIZATION=f"Token {token}")  # a training script's token is not blocked
    assert script.get("/api/projects/demo/").status_code == 200
    assert change(again, temporary).status_code == 302
    assert again.get("/p/demo/").status_code == 200


@pytest.mark.parametrize("target, message", [
    ("pi", "change your own password"), ("outsider", "is not a member of this project"),
    ("admin", "is an administrator"), ("elsewhere", "also in projects you do not lead")])
def test_a_pi_resets_no_one_beyond_their_own_projects(pi_client, project, users, target, message,
                                                      django_user_model):
    from annotations.models import Membership, Project, Role

    if target == "admin":
        admin = django_user_model.objects.create_superuser("admin", "", "pw-admin")
        Membership.objects.create(project=project, user=admin, role=Role.REVIEWER)
    if target == "elsewhere":
        other = Project.create("other", "Other", "coco17_spine", user=users["outsider"])
        Membership.objects.create(project=other, user=users["annotator"], role=Role.ANNOTATOR)
        target = "annotator"
    response, temporary = reset(pi_client, target)
    assert temporary is None and message in response.content.decode().replace("&#x27;", "'")
    password = "pw-admin" if target == "admin" else f"pw-{target}"
    assert Client().login(username=target, password=password)  # unchanged


def test_only_a_pi_resets_passwords(project, users):
    for name in ("reviewer", "annotator"):
        client = Client()
        client.force_login(users[name])
        other = "annotator" if name == "reviewer" else "reviewer"
        assert client.post("/p/demo/settings/", {"action": "reset_password", "username": other}).status_code in (403,
                                                                                                                  404)
        assert Client().login(username=other, password=f"pw-{other}")
