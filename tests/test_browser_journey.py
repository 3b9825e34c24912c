"""The lead's whole journey in real headless Chromium (P2–P6, P8, G1)."""

import pytest

from tests.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


def sign_in(page, user):
    page.goto("/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/leads**")


def test_sign_in_and_out_in_the_browser(browser_page):
    """G1: a user signs in through the real form (CSRF and cookie included) and out again."""
    user = make_user("manager", name="Max Manager")
    sign_in(browser_page, user)
    assert "Max Manager" in browser_page.inner_text("header")
    screenshot(browser_page, "signed-in")
    browser_page.click("text=Sign out")
    browser_page.wait_for_url("**/login**")
    browser_page.goto("/leads")
    assert "/login" in browser_page.url
    assert browser_page.js_errors == []
