"""Every page works under the Content-Security-Policy, in a real browser: no inline script or style is
refused (no `securitypolicyviolation` event, no "Refused to ..." console message), and the pages still do
their work (the editor shows its frame, the timeline draws, the charts finish, the job page polls)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from tests.e2e.conftest import login, needs_browser

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]

# Playwright's init scripts run outside the page's CSP, so this listener sees every refusal.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
"""


@pytest.fixture
def site(imported, users):
    """The demo project with a finished export job (with a result file) and a frame and clip to open."""
    from annotations.models import Frame, Job

    job = Job.objects.create(project=imported, kind=Job.Kind.EXPORT, status=Job.Status.SUCCEEDED,
                             created_by=users["pi"], progress=1.0, message="done")
    job.result_file.save(f"{job.pk}/demo-coco-all.json", ContentFile(b'{"images": []}'))
    frame = Frame.objects.filter(project=imported, annotations__isnull=False).order_by("id").first()
    return {"job": job, "frame": frame, "clip": frame.clip.key}


@pytest.fixture
def watched(new_page):
    """watched() -> (page, problems): a page whose CSP refusals and script errors land in `problems`."""
    def make():
        page = new_page()
        page.context.add_init_script(RECORD_VIOLATIONS)
        problems: list[str] = []
        # Nothing is excused: every page's requests, its icon included, must succeed.
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({m.location.get('url')})")
                if m.type == "error" or "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        return page, problems
    return make


def visit(page, url: str, ready: str | None = None) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "same-origin"
    if ready:
        page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")


def violations(page) -> list[str]:
    return page.evaluate("window.__csp || []")


def test_every_page_runs_under_the_content_security_policy(site, users, watched):
    page, problems = watched()
    login(page, "pi", "pw-pi")
    frame, clip, job = site["frame"], site["clip"], site["job"]
    pages = [
        ("/", "text=Demo"),
        ("/p/demo/", "#stat-annotated"),
        (f"/p/demo/frames/{frame.pk}/edit/", "#editor[data-ready='1']"),
        (f"/p/demo/frames/{frame.pk}/history/", None),
        (f"/p/demo/clips/{clip}/timeline/", "#timeline[data-loaded='1']"),
        ("/p/demo/videos/", None),
        ("/p/demo/models/", None),
        ("/p/demo/dashboards/dataset/", ".chart-card"),
        ("/p/demo/dashboards/models/", ".chart-card"),
        ("/p/demo/dashboards/queues/", ".chart-card"),
        (f"/jobs/{job.pk}/", None),
        ("/p/demo/settings/", "#skeleton .kp-swatch"),
        ("/p/demo/frames/", "#gallery"),
        (f"/p/demo/clips/{clip}/", "#clip-frames"),
        ("/p/demo/clips/", "#clip-list"),
        ("/accounts/password/", "#password-form"),
    ]
    seen = {}
    for url, ready in pages:
        visit(page, url, ready)
        if url.endswith("/edit/"):  # the editor shows its frame: the image it points at loads
            href = page.get_attribute("#frame-image", "href")
            assert href, "the editor set no frame image"
            image = page.request.get(href)
            assert image.status == 200 and image.headers["content-type"].startswith("image/"), href
        if "/dashboards/" in url:
            page.wait_for_function(
                "() => document.querySelectorAll('.chart-card[data-state=loading]').length === 0", timeout=30_000)
        seen[url] = violations(page)
    assert all(not v for v in seen.values()), {u: v for u, v in seen.items() if v}
    assert not problems, problems


def test_the_login_page_and_a_refused_inline_script_are_reported(users, watched):
    """The listener works: a script the policy forbids is reported (so zero above means zero)."""
    page, problems = watched()
    visit(page, "/accounts/login/", "input[name=username]")
    assert violations(page) == [] and not problems
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';
                             document.body.appendChild(s); }""")
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.ran") is None
    assert "script-src" in violations(page)[0]
