"""CSV import in real headless Chromium (C2): upload, map a column, watch the
progress bar finish (a real RQ worker in a background thread), download the
error report."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from playwright.sync_api import expect

from leads.base.db import db
from leads.core import validation
from leads.records.models import Contact
from tests.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(sqlite_app):
    """A real RQ SimpleWorker draining the queue in burst mode, again and again,
    in a background thread (the live server has no worker of its own)."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer
    from rq.timeouts import TimerDeathPenalty

    from leads.base.queue import QUEUE_NAMES, get_queue, get_redis

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty  # SIGALRM, too, is the main thread's

        def _install_signal_handlers(self):
            """Signals belong to the main thread (pytest's): this worker stops on ``stop``."""

    stop = threading.Event()

    def loop():
        with sqlite_app.app_context():
            queues = [get_queue(name) for name in QUEUE_NAMES]
            while not stop.is_set():
                ThreadWorker(queues, connection=get_redis(), serializer=JSONSerializer).work(
                    burst=True, logging_level="WARNING"
                )
                if not db.is_closed():
                    db.close()
                stop.wait(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def _people_csv(rows: int = 1500) -> bytes:
    lines = ["Email,Known as,Surname,Country"]
    for n in range(rows):
        lines.append(f"person{n}@example.test,Name{n},Family{n},FR")
    lines.insert(3, "not-an-email,Broken,Row,FR")
    lines.insert(6, "bad-country@example.test,Bad,Country,France")
    return ("\n".join(lines) + "\n").encode()


def test_c2_upload_map_watch_progress_and_download_the_error_report(browser_page, worker):
    page = browser_page
    user = make_user("marketer")
    page.goto("/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/leads**")

    page.click("nav >> text=Import")
    page.select_option("select[name=entity]", "contact")
    page.set_input_files(
        "input[name=file]", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": _people_csv()}]
    )
    page.click("text=Upload and map columns")
    page.wait_for_url("**/imports/*")

    # "Known as" is not guessed: map it to the first name; the preview follows.
    known_as = page.locator("select[name=col_1]")
    expect(known_as).to_have_value("")
    known_as.select_option("first_name")
    expect(page.locator("#import-mapping select[name=col_1]")).to_have_value("first_name")
    expect(page.locator(".import-preview tbody tr").first).to_contain_text("Name0")
    expect(page.locator(".cell-reason").first).to_contain_text(validation.EMAIL_REASON)
    screenshot(page, "import-mapping")

    page.click("#start-import")
    expect(page.locator("progress.import-bar")).to_be_visible()
    screenshot(page, "import-progress")
    expect(page.locator("#import-progress .import-status")).to_contain_text("Done", timeout=60_000)
    bar = page.locator("progress.import-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "1502"
    expect(page.locator("[data-count=created]")).to_have_text("1,500")
    expect(page.locator("[data-count=failed]")).to_have_text("2")
    screenshot(page, "import-done")

    with page.expect_download() as info:
        page.click("#error-report")
    download = info.value
    with open(download.path(), encoding="utf-8-sig") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    assert rows[0][:3] == ["Line", "Field", "Reason"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("4", "Email"), ("7", "Country (ISO-2)")]
    assert Contact.select().where(Contact.first_name == "Name0").count() == 1
    assert page.js_errors == []
