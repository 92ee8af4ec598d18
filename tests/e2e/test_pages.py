"""Log in and see the demo dataset's figures on the project page, in a real browser."""

import pytest

from tests.e2e.conftest import login, needs_browser, screenshot

pytestmark = [needs_browser, pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])]


def test_a_pi_logs_in_and_sees_the_imported_dataset(imported, users, new_page):
    page = new_page()
    login(page, "pi", "pw-pi")
    page.click("text=Demo")
    assert page.locator("#stat-annotated").inner_text() == "210"
    assert page.locator("#stat-clips").inner_text() == "19"
    assert page.locator("#stat-pool").inner_text() == "833"
    rows = dict(r.split("\t") for r in page.locator("#by-label tr").all_inner_texts())
    assert rows == {"correct": "102", "lumbar_error": "108"}
    screenshot(page, "project-page")


def test_an_outsider_sees_no_project(imported, users, new_page):
    page = new_page()
    login(page, "outsider", "pw-outsider")
    assert "Demo" not in page.content()
    response = page.goto("/p/demo/")
    assert response.status == 404
