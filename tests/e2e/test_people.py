"""People, in a real browser: a PI creates an annotator account on the project settings page, the new
person signs in with the temporary password, changes it, and works a frame from a queue."""

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
    page.click("#password-link")
    page.fill("input[name=old_password]", password)
    page.fill("input[name=new_password1]", "rows-and-spines-2026")
    page.fill("input[name=new_password2]", "rows-and-spines-2026")
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#password-changed")

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
