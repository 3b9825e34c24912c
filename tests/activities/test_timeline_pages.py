"""The lead's timeline in pages (W1): the lead page shows the newest 50 entries
and a "Show older" control that loads the next ones in its place (htmx, or a
page of its own without), with the kind filter kept; the poller's refresh
still brings the newest page. Both backends."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from auth.models import MANAGER, REP
from leads.activities.models import Activity
from leads.activities.services import SHOWN
from leads.base.db import utcnow
from leads.core import lifecycle
from tests.factories import login, make_lead, make_user

HX = {"HX-Request": "true"}
NOTES, CALLS = 45, 30  # 75 activities: a page and a half


@pytest.fixture
def busy(app):
    """A lead with 45 notes and 30 calls, a minute apart (call 0 the newest)."""
    rep = make_user(REP)
    lead = make_lead(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True, owner=rep)
    now = utcnow()
    rows = [
        {"lead": lead.id, "kind": "call" if n < CALLS else "note", "author": rep.id, "outcome": "connected",
         "body": f"Entry {n}.", "created_at": now - dt.timedelta(minutes=n + 1)}
        for n in range(NOTES + CALLS)
    ]  # fmt: skip
    Activity.insert_many(rows).execute()
    client = app.test_client()
    login(client, make_user(MANAGER))
    return lead, client


def _bodies(html: str) -> list[str]:
    """The entries of the timeline in ``html`` (a page, its region or a page of entries)."""
    if 'id="timeline-entries"' in html:
        html = html.split('id="timeline-entries"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<p class="activity-body">Entry (\d+)\.</p>', html)


def _older(html: str) -> str | None:
    found = re.search(r'<li class="timeline-more">\s*<a class="button" href="([^"]+)" hx-get="([^"]+)"', html)
    if found is None:
        return None
    assert found.group(1) == found.group(2)  # the same address without htmx
    return found.group(1).replace("&amp;", "&")


def test_w1_the_lead_page_shows_the_newest_50_and_show_older_loads_the_rest(busy):
    lead, client = busy
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    shown = _bodies(page)
    assert shown == [str(n) for n in range(SHOWN)]  # newest first, 50 of 75
    older = _older(page)
    assert older is not None and "offset=50" in older and "kind=all" in older

    rest = client.get(older, headers=HX)
    assert rest.status_code == 200 and "HX-Request" in rest.headers["Vary"]
    html = rest.get_data(as_text=True)
    assert html.lstrip().startswith("<li")  # entries for the list, in the control's place
    assert _bodies(html) == [str(n) for n in range(SHOWN, NOTES + CALLS)]
    assert _older(html) is None and 'id="activity-' in html  # the last page; each keeps its tools

    plain = client.get(older)  # without htmx: the timeline on a page of its own
    assert plain.status_code == 200 and 'id="lead-timeline"' in plain.get_data(as_text=True)
    assert _bodies(plain.get_data(as_text=True)) == _bodies(html)


def test_w1_show_older_keeps_the_kind_filter(busy):
    lead, client = busy
    notes = client.get(f"/leads/{lead.id}/activities?kind=notes", headers=HX).get_data(as_text=True)
    assert _bodies(notes) == [str(n) for n in range(CALLS, CALLS + 45)][:SHOWN]
    assert _older(notes) is None  # 45 notes: one page

    calls = client.get(f"/leads/{lead.id}/activities?kind=calls", headers=HX).get_data(as_text=True)
    assert _bodies(calls) == [str(n) for n in range(CALLS)] and _older(calls) is None

    everything = client.get(f"/leads/{lead.id}?activity=notes").get_data(as_text=True)
    assert _older(everything) is None and len(_bodies(everything)) == NOTES

    # Three notes more than a page: the older notes only, from the 51st note on.
    Activity.insert_many(
        [{"lead": lead.id, "kind": "note", "body": f"Entry {100 + n}.", "created_at": utcnow() - dt.timedelta(days=1)}
         for n in range(SHOWN - NOTES + 3)]
    ).execute()  # fmt: skip
    notes = client.get(f"/leads/{lead.id}/activities?kind=notes", headers=HX).get_data(as_text=True)
    older = _older(notes)
    assert older is not None and "kind=notes" in older
    rest = client.get(older, headers=HX).get_data(as_text=True)
    assert "entry-call" not in rest and sorted(_bodies(rest)) == ["100", "101", "102"]


def test_w1_the_poller_still_refreshes_the_newest_page_with_its_control(busy):
    lead, client = busy
    headers = {**HX, "HX-Current-URL": f"http://localhost/leads/{lead.id}?activity=calls"}
    live = client.get(f"/leads/{lead.id}/live?v=stale.stale", headers=headers)  # what it saw has changed
    html = live.get_data(as_text=True)
    assert live.status_code == 200 and 'id="timeline-entries"' in html and 'hx-swap-oob="true"' in html
    assert _bodies(html) == [str(n) for n in range(CALLS)] and _older(html) is None  # its filter kept

    headers["HX-Current-URL"] = f"http://localhost/leads/{lead.id}"
    html = client.get(f"/leads/{lead.id}/live?v=stale.stale", headers=headers).get_data(as_text=True)
    assert _bodies(html) == [str(n) for n in range(SHOWN)] and "offset=50" in (_older(html) or "")
