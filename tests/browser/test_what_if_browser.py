"""D3 in real headless Chromium: a draft's what-if runs as a job; the insights
page shows its progress bar, which swaps in the figures by itself once a real
worker has run the job, leaving alone the dates typed in the form meanwhile."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import burst_worker, screenshot
from tests.factories import make_user, sign_in
from tests.scoring.test_what_if_job import _known_draft

pytestmark = pytest.mark.browser


def test_d3_the_progress_bar_becomes_the_figures_without_a_reload(sqlite_app, browser_page):
    sqlite_app.config["WHAT_IF_INLINE_MAX"] = 0  # however few its outcomes, a job
    run_jobs = burst_worker(sqlite_app)
    marketer = make_user("marketer", name="Mia Marketer")
    draft = _known_draft(sqlite_app, marketer)

    page = browser_page
    sign_in(page, marketer)
    page.goto(f"/scoring/models/{draft.id}/insights")
    progress = page.locator("#what-if-progress")
    expect(progress).to_contain_text("Waiting for its turn")
    expect(progress.locator("progress")).to_be_visible()
    screenshot(page, "what-if-progress")
    page.fill("#prediction input[name=from]", "2026-01-05")  # typed while the job waits

    run_jobs()  # a real RQ worker runs the draft's job
    expect(page.locator("#prediction-auc")).to_have_text("1.00", timeout=15_000)  # the poll brought it
    expect(progress).to_have_count(0)
    expect(page.locator("#prediction-outcomes")).to_have_text("3 (1 converted, 2 disqualified)")
    expect(page.locator("#what-if-computed")).to_contain_text("Worked out on")
    expect(page.locator("#prediction input[name=from]")).to_have_value("2026-01-05")  # not swapped away
    screenshot(page, "what-if-figures")
    assert page.js_errors == []
