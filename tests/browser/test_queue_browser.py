"""The admins' queue page in real headless Chromium, 390 px wide (O3): a job
that failed in a real worker is listed; Retry swaps the region in place (htmx,
CSRF header) and the job is back in its queue; nothing overflows the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from auth.models import ADMIN
from leads.base.queue import get_queue
from tests.conftest import burst_worker, screenshot
from tests.factories import make_user, sign_in

pytestmark = pytest.mark.browser

JOB_ID = "browser-queue-fails"


def fails():
    """A job that fails (run by a real RQ worker)."""
    raise ValueError("the mailbox does not exist")


def test_an_admin_retries_a_failed_job_on_a_phone(sqlite_app, browser_page):
    with sqlite_app.app_context():
        get_queue("default").enqueue(f"{__name__}.fails", job_id=JOB_ID)
    burst_worker(sqlite_app)()
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, make_user(ADMIN))
    page.goto("/admin/queues")
    row = page.locator("#queues tr", has_text=JOB_ID)
    expect(row).to_contain_text("ValueError: the mailbox does not exist")
    screenshot(page, "queues-failed-job-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # wide tables scroll in their box
    retry = row.get_by_role("button", name="Retry")
    assert retry.bounding_box()["x"] + retry.bounding_box()["width"] <= 390  # in sight, no sideways scroll

    retry.click()
    expect(page.locator("#queues .flash")).to_contain_text("back in the queue")
    expect(page.locator("#queues")).to_contain_text("No failed jobs.")
    assert page.url.endswith("/admin/queues")  # swapped in place, no navigation
    with sqlite_app.app_context():
        assert JOB_ID in get_queue("default").job_ids
    assert page.js_errors == []
    screenshot(page, "queues-retried-390")
