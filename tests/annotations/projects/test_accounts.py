"""People: a PI creates an account for their project (a temporary password shown once, no mail), anyone
changes their password at /accounts/password/, and roles show by their display names."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def create(client, username, role="annotator"):
    return client.post("/p/demo/settings/", {"action": "create_account", "username": username, "role": role})


def test_a_pi_creates_an_annotator_account_whose_temporary_password_is_shown_once(project, users, client):
    from django.contrib.auth import authenticate

    from annotations.models import Membership

    client.force_login(users["pi"])
    response = create(client, "newbie")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    password = re.search(r'<code id="new-password">([^<]+)</code>', html).group(1)
    assert len(password) >= 12 and "(Annotator) created" in html
    assert Membership.objects.get(project=project, user__username="newbie").role == "annotator"
    assert authenticate(username="newbie", password=password) is not None
    # Not shown again, and not kept anywhere the page can read it back.
    assert password not in client.get("/p/demo/settings/").content.decode()


@pytest.mark.parametrize("username, role, message", [
    ("annotator", "annotator", "exists already"), ("Annotator", "reviewer", "exists already"),
    ("two words", "annotator", "'username' must be"), ("", "annotator", "'username' must be"),
    ("fresh", "boss", "'role' must be one of")])
def test_a_taken_or_malformed_username_or_an_unknown_role_is_refused_by_name(project, users, client, username,
                                                                              role, message):
    from django.contrib.auth import get_user_model

    client.force_login(users["pi"])
    before = get_user_model().objects.count()
    html = client.get(create(client, username, role)["Location"]).content.decode()
    assert message in html.replace("&#x27;", "'")
    assert get_user_model().objects.count() == before


def test_only_a_pi_creates_accounts(project, users, client):
    from django.contrib.auth import get_user_model

    for name in ("reviewer", "annotator", "outsider"):
        client.force_login(users[name])
        assert create(client, f"by-{name}").status_code in (403, 404)
    assert not get_user_model().objects.filter(username__startswith="by-").exists()


def test_a_user_changes_their_password(users, client):
    from django.contrib.auth import authenticate

    client.force_login(users["annotator"])
    assert client.get("/accounts/password/").status_code == 200
    r = client.post("/accounts/password/", {"old_password": "pw-annotator", "new_password1": "a-Longer-secret-42",
                                            "new_password2": "a-Longer-secret-42"})
    assert r.status_code == 302 and r["Location"] == "/accounts/password/done/"
    assert authenticate(username="annotator", password="a-Longer-secret-42") is not None
    bad = client.post("/accounts/password/", {"old_password": "wrong", "new_password1": "x-Longer-secret-43",
                                              "new_password2": "x-Longer-secret-43"})
    assert bad.status_code == 200 and 'class="error"' in bad.content.decode()
    client.logout()
    assert client.get("/accounts/password/")["Location"].startswith("/accounts/login/")


def test_the_project_page_shows_the_role_by_its_display_name(project, users, client):
    client.force_login(users["pi"])
    assert 'id="your-role">your role: PI / admin</small>' in client.get("/p/demo/").content.decode()
    client.force_login(users["annotator"])
    assert 'id="your-role">your role: Annotator</small>' in client.get("/p/demo/").content.decode()
