"""Browser tests: Playwright (Python) driving Debian's Chromium against pytest-django's live server.

Screenshots go to artifacts/screenshots/, or the folder POSEREVIEW_SCREENSHOTS names (kept by CI as
test artifacts; look at them).
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Playwright's sync API runs an event loop in this thread; the live server's ORM calls from the
# test body are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("POSEREVIEW_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
SCREENSHOTS = Path(os.environ.get("POSEREVIEW_SCREENSHOTS") or ROOT / "artifacts" / "screenshots")

needs_browser = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                   reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page() -> a fresh page in its own context (own cookies), with base URL set."""
    contexts = []

    def make(viewport=(1280, 900)):
        context = browser.new_context(base_url=live_server.url,
                                      viewport={"width": viewport[0], "height": viewport[1]})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        for page in context.pages:
            settle_saves(page)
        # Closing a page fires the editor's save-on-leave; after the test its database is gone, so
        # requests from here on are dropped in the browser instead of reaching the live server.
        context.route("**/*", lambda route: route.abort())
        context.close()


# The editor's pending autosave, sent now and awaited (at most 5 s), while the test database still exists.
SETTLE_SAVES = """() => window.poseEditor
    ? Promise.race([window.poseEditor.saver.flush(), new Promise(done => setTimeout(done, 5000))]) : null"""


def settle_saves(page) -> None:
    """Let the editor's autosave finish before the test's database is flushed: a save still running on the
    live server when the flush truncates the tables deadlocks it (and the next test then finds its rows)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.evaluate(SETTLE_SAVES)
    except PlaywrightError:  # a page that is closed or navigating has no editor left to save
        pass


def login(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def screenshot(page, name: str) -> Path:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:  # the frame's image is an SVG <image>, drawn once its bytes arrive: wait for them
        page.wait_for_load_state("networkidle", timeout=5_000)
    except PlaywrightTimeout:
        pass  # a page that keeps polling (a running job) is shot as it is
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
