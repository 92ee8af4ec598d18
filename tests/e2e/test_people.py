"""People, in a real browser: a PI creates an annotator account on the project settings page, the new
person signs in with the temporary password, must change it before anything else, and works a frame
from a queue; the PI resets the password and the person must choose their own again."""

import re
import time

import pytest

from tests.conftest import needs_dataset
from tests.e2e.conftest import login, needs_browser, screenshot

pytestmark = [needs_browser, needs_dataset, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]


@pytest.fixture
def queued(imported):
    from annotations.review.queues import refresh_builtin_queues

    refresh_builtin_queues(imported, seed=1)
    return imported


def test_a_pi_creates_an_annotator_account_that_signs_in_and_works(queued, users, new_page):
    from annotations.models import Revision

    pi = new_page()
    login(pi, "pi", "pw-pi")
    pi.goto("/p/demo/")
    assert pi.locator("#your-role").inner_text() == "your role: PI / admin"
    pi.click("#settings-link")
    pi.fill("#create-account input[name=username]", "newbie")
    pi.select_option("#create-account select[name=role]", "annotator")
    pi.click("#create-account button")
    password = pi.locator("#new-password").inner_text()
    assert "newbie" in pi.locator("#account-created").inner_text()
    assert pi.locator("tr[data-user=newbie] select[name=role]").input_value() == "annotator"
    screenshot(pi, "settings-account-created")

    page = new_page()
    login(page, "newbie", password)
    # First their own password: every page leads to the change, the API says why.
    assert page.url.endswith("/accounts/password/") and page.locator("#password-forced").is_visible()
    screenshot(page, "password-change-forced")
    page.goto("/p/demo/")
    assert page.url.endswith("/accounts/password/")
    api = page.request.get("/api/projects/demo/")
    assert api.status == 403 and api.json()["code"] == "password_change_required"
    assert "choose your own" in api.json()["detail"]
    choose_password(page, password, "rows-and-spines-2026")

    page.goto("/p/demo/")
    assert page.locator("#your-role").inner_text() == "your role: Annotator"
    page.click("#start-unverified_spine")
    page.wait_for_url(re.compile(r"/frames/\d+/edit/\?queue=unverified_spine"))
    page.wait_for_selector("#editor[data-ready='1']")
    frame_id = int(page.locator("#editor").get_attribute("data-frame"))
    page.click("button.form-label[data-label='lumbar_error']")
    page.click("#btn-save")
    deadline = time.monotonic() + 15
    while not Revision.objects.filter(frame_id=frame_id, user__username="newbie").exists():
        assert time.monotonic() < deadline, "the new annotator's save never arrived"
        page.wait_for_timeout(200)
    stored = Revision.objects.get(frame_id=frame_id, user__username="newbie").annotation
    assert stored.form_label.name == "lumbar_error"

    # Forgotten: the PI resets it; the newbie is signed out and chooses their own again.
    pi.goto("/p/demo/settings/")
    pi.click("tr[data-user=newbie] .reset-password button")
    assert "New password for newbie" in pi.locator("#account-created").inner_text()
    again = pi.locator("#new-password").inner_text()
    assert again != password
    page.goto("/p/demo/")
    assert "/accounts/login/" in page.url
    login(page, "newbie", again)
    assert page.url.endswith("/accounts/password/") and page.locator("#password-forced").is_visible()
    choose_password(page, again, "rows-and-spines-2027")
    page.goto("/p/demo/")
    assert page.locator("#your-role").inner_text() == "your role: Annotator"


def choose_password(page, old: str, new: str) -> None:
    page.fill("input[name=old_password]", old)
    page.fill("input[name=new_password1]", new)
    page.fill("input[name=new_password2]", new)
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#password-changed")
