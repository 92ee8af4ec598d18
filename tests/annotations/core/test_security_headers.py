"""Every response carries the Content-Security-Policy, nosniff and a referrer policy, and no template holds
what that policy refuses: inline scripts, event handler attributes, javascript: URLs, style attributes.
(tests/e2e/test_content_security_policy.py opens the pages in Chromium and counts refusals.)"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def directives(policy: str) -> dict[str, list[str]]:
    parts = (p.split() for p in policy.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("url", ["/accounts/login/", "/healthz", "/api/projects/", "/no-such-page/"])
def test_it_sends_the_security_headers_on_every_response(client, db, url):
    response = client.get(url)
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_it_sends_the_policy_on_pages_of_a_logged_in_member(project, users, client):
    client.force_login(users["pi"])
    for url in ("/", "/p/demo/", "/p/demo/settings/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"], url


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_no_template_holds_what_the_policy_refuses(template):
    text = template.read_text()
    for match in re.finditer(r"<script\b([^>]*)>", text):
        attributes = match.group(1)
        assert "src=" in attributes or re.search(r'type="application/json"', attributes), (
            f"inline script in {template.name}: {match.group(0)}")
    assert not re.search(r"\son[a-z]+\s*=", text), f"event handler attribute in {template.name}"
    assert "javascript:" not in text, f"javascript: URL in {template.name}"
    assert not re.search(r"\sstyle\s*=", text), f"style attribute in {template.name}"
    assert "<style" not in text, f"inline <style> in {template.name}"
