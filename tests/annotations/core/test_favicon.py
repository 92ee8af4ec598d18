"""Every page names its icon, and the /favicon.ico browsers ask for anyway leads to it (no 404)."""

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def test_favicon_ico_leads_to_the_icon_signed_in_or_not(client, users):
    for who in (None, users["annotator"]):
        if who is not None:
            client.force_login(who)
        response = client.get("/favicon.ico")
        assert response.status_code == 302, who
        assert response["Location"] == "/static/favicon.svg"
    icon = finders.find("favicon.svg")
    assert icon is not None
    with open(icon, encoding="utf-8") as f:
        assert f.read().lstrip().startswith("<svg")


def test_pages_link_the_icon(client, users):
    for url in ("/accounts/login/", "/"):
        if url == "/":
            client.force_login(users["annotator"])
        html = client.get(url).content.decode()
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html, url
