"""Swagger UI (/api/docs/) and Redoc (/api/redoc/) work offline, in a real browser: every request goes to
the live server (no CDN, no web fonts), nothing is refused by the Content-Security-Policy, and the pages
render the schema's operations. Swagger UI runs under the site's policy as it is; Redoc's page allows inline
styles (its bundle writes them) but still no inline or foreign script."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import needs_browser, screenshot
from tests.e2e.test_content_security_policy import RECORD_VIOLATIONS

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]


def _open(new_page, live_server, url: str, ready: str):
    page = new_page()
    page.context.add_init_script(RECORD_VIOLATIONS)
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" or "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Anything that is not the live server fails at once, as it would on a machine with no network.
    page.route(lambda u: not u.startswith(live_server.url) and not u.startswith("data:"),
               lambda route: route.abort())
    response = page.goto(url)
    assert response is not None and response.status == 200
    policy = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'", policy
    if "/redoc/" not in url:
        assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    return page, requests, problems


def test_swagger_ui_loads_offline_under_the_csp_and_lists_the_operations(new_page, live_server):
    page, requests, problems = _open(new_page, live_server, "/api/docs/", ".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/projects/{slug}/frames/" in p for p in paths), paths[:5]
    screenshot(page, "api-docs-swagger")
    assert [u for u in requests if not u.startswith(live_server.url)] == []
    assert page.evaluate("window.__csp") == [] and problems == [], (page.evaluate("window.__csp"), problems)


def test_redoc_loads_offline_under_the_csp(new_page, live_server):
    page, requests, problems = _open(new_page, live_server, "/api/redoc/", "text=PoseReview API")
    page.wait_for_selector("h2:has-text(\"A project's frames, paged\")")
    screenshot(page, "api-docs-redoc")
    # Redoc's bundle always tries its vendor's logo from a CDN; img-src 'self' refuses it (Redoc then hides
    # it). Nothing else leaves the server and nothing else is refused.
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert [u for u in requests if not u.startswith(live_server.url) and u != logo] == []
    refused = [v for v in page.evaluate("window.__csp") if logo not in v]
    assert refused == [] and [p for p in problems if logo not in p] == [], (refused, problems)
