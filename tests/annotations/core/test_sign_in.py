"""Signing in: a lockout after repeated wrong passwords (token endpoint, login page, admin), a rate limit
on the token endpoint and on uploads, API tokens that expire, rotate and can be revoked.

No test waits: the lockout's clock (annotations.core.throttling.now) is moved forward instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

TOKEN_URL = "/api/auth/token/"


@pytest.fixture
def limits(settings):
    settings.POSEREVIEW_LOGIN_MAX_FAILURES = 5
    settings.POSEREVIEW_LOGIN_MAX_FAILURES_PER_IP = 25
    settings.POSEREVIEW_LOGIN_WINDOW_MINUTES = 15
    settings.POSEREVIEW_LOGIN_LOCKOUT_MINUTES = 15
    return settings


@pytest.fixture
def clock(monkeypatch):
    """Move the lockout's clock: clock.advance(seconds)."""
    import time

    from annotations.core import throttling

    class Clock:
        t = time.time()

        def advance(self, seconds):
            self.t += seconds

    c = Clock()
    monkeypatch.setattr(throttling, "now", lambda: c.t)
    return c


def obtain(client, username, password, **extra):
    return client.post(TOKEN_URL, {"username": username, "password": password}, **extra)


# -- lockout on the token endpoint ------------------------------------------------------------------

def test_it_refuses_the_right_password_after_thirty_wrong_ones_on_the_token_endpoint(users, limits):
    limits.REST_FRAMEWORK = {**limits.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/min"}}
    client = APIClient()
    codes = [obtain(client, "pi", f"wrong-{i}").status_code for i in range(30)]
    assert codes[:4] == [400] * 4
    assert set(codes[4:]) == {429}, codes
    response = obtain(client, "pi", "pw-pi")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    assert "token" not in response.json()


def test_it_allows_the_right_password_again_once_the_lockout_is_over(users, limits, clock):
    client = APIClient()
    for _ in range(5):
        obtain(client, "pi", "wrong")
    assert obtain(client, "pi", "pw-pi").status_code == 429
    clock.advance(14 * 60)
    assert obtain(client, "pi", "pw-pi").status_code == 429
    clock.advance(2 * 60)
    response = obtain(client, "pi", "pw-pi")
    assert response.status_code == 200 and response.json()["token"]


def test_it_locks_only_the_attacked_username_not_everyone_on_the_address(users, limits):
    client = APIClient()
    for _ in range(5):
        obtain(client, "pi", "wrong")
    assert obtain(client, "pi", "pw-pi").status_code == 429
    assert obtain(client, "reviewer", "pw-reviewer").status_code == 200


def test_it_locks_an_address_that_guesses_passwords_across_many_usernames(users, limits, django_user_model):
    client = APIClient()
    for i in range(25):
        assert obtain(client, f"nobody-{i}", "guess").status_code in (400, 429)
    assert obtain(client, "annotator", "pw-annotator").status_code == 429
    other_address = obtain(APIClient(), "annotator", "pw-annotator", REMOTE_ADDR="10.1.2.3")
    assert other_address.status_code == 200


def test_it_ignores_a_forwarded_for_header_the_client_wrote_itself(users, limits):
    client = APIClient()
    for i in range(25):
        obtain(client, f"nobody-{i}", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    assert obtain(client, "annotator", "pw-annotator", HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_it_forgets_earlier_failures_after_a_right_password(users, limits):
    client = APIClient()
    for _ in range(4):
        obtain(client, "pi", "wrong")
    assert obtain(client, "pi", "pw-pi").status_code == 200
    for _ in range(4):
        assert obtain(client, "pi", "wrong").status_code == 400
    assert obtain(client, "pi", "pw-pi").status_code == 200


def test_it_rate_limits_the_token_endpoint_per_address(users, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"auth": "3/min", "uploads": "300/hour"}}
    client = APIClient()
    assert [obtain(client, "pi", "pw-pi").status_code for _ in range(3)] == [200] * 3
    response = obtain(client, "pi", "pw-pi")
    assert response.status_code == 429 and "Retry-After" in response


# -- lockout on the login page and the admin --------------------------------------------------------

def test_it_shows_a_clear_message_on_the_login_page_while_locked_even_with_the_right_password(users, limits):
    from django.test import Client

    client = Client()
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "reviewer", "password": "wrong"})
    assert response.status_code == 429
    response = client.post("/accounts/login/", {"username": "reviewer", "password": "pw-reviewer"})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert b"try again in 15 minutes" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still logged out


def test_it_rate_limits_the_login_page_per_address(users, settings):
    from django.test import Client

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"auth": "3/min", "uploads": "300/hour"}}
    codes = [Client().post("/accounts/login/", {"username": "reviewer", "password": "pw-reviewer"}).status_code
             for _ in range(3)]
    assert codes == [302] * 3
    response = Client().post("/accounts/login/", {"username": "reviewer", "password": "pw-reviewer"})
    assert response.status_code == 429 and b"Too many sign-in attempts from this address" in response.content
    assert Client().get("/accounts/login/").status_code == 200  # showing the form is never limited


def test_it_lets_a_person_log_in_after_a_few_typos(users, limits):
    from django.test import Client

    client = Client()
    for _ in range(2):
        response = client.post("/accounts/login/", {"username": "reviewer", "password": "wrong"})
        assert response.status_code == 200 and b"did not match" in response.content
    response = client.post("/accounts/login/", {"username": "reviewer", "password": "pw-reviewer"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_it_counts_failures_on_the_login_page_and_the_token_endpoint_together(users, limits):
    from django.test import Client

    for _ in range(3):
        Client().post("/accounts/login/", {"username": "pi", "password": "wrong"})
    for _ in range(2):
        obtain(APIClient(), "pi", "wrong")
    assert obtain(APIClient(), "pi", "pw-pi").status_code == 429


def test_it_locks_the_admin_login_too(users, limits):
    from django.test import Client

    users["pi"].is_staff = users["pi"].is_superuser = True
    users["pi"].save()
    for _ in range(5):
        obtain(APIClient(), "pi", "wrong")
    client = Client()
    client.post("/admin/login/?next=/admin/", {"username": "pi", "password": "pw-pi"})
    assert client.get("/admin/").status_code == 302  # not logged in


# -- tokens expire, rotate and can be revoked -------------------------------------------------------

def age_token(key: str, hours: float) -> None:
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(hours=hours))


def test_it_refuses_a_token_older_than_its_lifetime(users, settings):
    settings.POSEREVIEW_TOKEN_TTL_HOURS = 720
    key = obtain(APIClient(), "pi", "pw-pi").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + key)
    assert client.get("/api/projects/").status_code == 200
    age_token(key, 719)
    assert client.get("/api/projects/").status_code == 200
    age_token(key, 721)
    response = client.get("/api/projects/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_it_issues_a_fresh_token_when_the_old_one_has_expired(users, settings):
    settings.POSEREVIEW_TOKEN_TTL_HOURS = 720
    first = obtain(APIClient(), "pi", "pw-pi").json()
    assert obtain(APIClient(), "pi", "pw-pi").json()["token"] == first["token"]  # still valid: same key
    assert first["expires_at"]
    age_token(first["token"], 800)
    second = obtain(APIClient(), "pi", "pw-pi").json()
    assert second["token"] != first["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + second["token"])
    assert client.get("/api/projects/").status_code == 200


def test_it_revokes_the_callers_token_on_delete(users):
    key = obtain(APIClient(), "pi", "pw-pi").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + key)
    assert client.delete(TOKEN_URL).status_code == 204
    assert client.get("/api/projects/").status_code == 401
    assert APIClient().delete(TOKEN_URL).status_code in (401, 403)
    fresh = obtain(APIClient(), "pi", "pw-pi").json()["token"]
    assert fresh != key


def test_it_never_expires_tokens_when_the_lifetime_is_zero(users, settings):
    settings.POSEREVIEW_TOKEN_TTL_HOURS = 0
    payload = obtain(APIClient(), "pi", "pw-pi").json()
    assert payload["expires_at"] is None
    age_token(payload["token"], 10 ** 5)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + payload["token"])
    assert client.get("/api/projects/").status_code == 200


# -- uploads are rate limited per user ------------------------------------------------------------

@pytest.fixture
def upload_rate(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"auth": "30/min", "uploads": "2/hour"}}


@pytest.mark.parametrize("url, body", [
    ("/api/projects/demo/videos/", {}),
    ("/api/projects/demo/video-uploads/", {"file_name": "a.mp4", "size": 10}),
    ("/api/projects/demo/models/upload/", {}),
    ("/api/projects/demo/jobs/", {"kind": "import"}),
])
def test_it_rate_limits_uploads_per_user(project, users, upload_rate, url, body):
    from tests.conftest import api_client

    client = api_client(users["pi"])
    codes = [client.post(url, body, format="json").status_code for _ in range(3)]
    assert 429 not in codes[:2] and codes[2] == 429, codes
    assert client.get(url.replace("models/upload/", "models/").replace("video-uploads/", "videos/")
                      ).status_code != 429  # reading is never throttled
    assert api_client(users["reviewer"]).post(url, body, format="json").status_code != 429  # per user


def test_it_does_not_count_other_dataset_jobs_as_uploads(project, users, upload_rate):
    from tests.conftest import api_client

    client = api_client(users["pi"])
    codes = [client.post("/api/projects/demo/jobs/", {"kind": "no-such-kind"},
                         format="json").status_code for _ in range(4)]
    assert 429 not in codes, codes
