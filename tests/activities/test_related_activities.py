"""A contact's and an account's pages have one timeline (SPEC W1, G1): their own
notes, calls and tasks and those of their leads the user may see, newest first,
filtered by kind, each of a lead naming and linking its lead (changed on the
lead's page: no tools on the record's); a rep sees only those on their own
leads; a contact or account they may not see stays a 404."""

from __future__ import annotations

import datetime as dt
import re

from leads.activities import services
from leads.activities.models import Activity
from tests.factories import login, make_account, make_contact, make_lead, make_user

HX = {"HX-Request": "true"}


def _entries(html: str) -> list[str]:
    return re.findall(r'<li class="event entry-\w+" id="(activity-\d+)"', html)


def test_w1_g1_contact_and_account_pages_show_one_timeline_with_their_leads_activities(app):
    manager = make_user("manager")
    rep = make_user("rep")
    account = make_account(name="Analytical Ltd")
    contact = make_contact(first_name="Ada", last_name="Byron", account=account, owner=rep)
    mine = make_lead(contact=contact, account=account, owner=rep, stage=5, sales_ready=True, topic="Pricing")
    other = make_lead(contact=contact, account=account, stage=2, topic="Support plan")
    with app.app_context():
        call, _ = services.add_activity(
            mine, manager, "call", {"outcome": "connected", "duration_minutes": "7"}
        )
        note, _ = services.add_activity(other, manager, "note", {"body": "Asked about the support plan"})
        own, _ = services.add_activity(contact, manager, "note", {"body": "Met at the fair"})
        on_account, _ = services.add_activity(account, manager, "note", {"body": "Renewal in May"})
    # Newest first whatever the door: the lead's call is made the oldest.
    Activity.update(created_at=call.created_at - dt.timedelta(hours=1)).where(
        Activity.id == call.id
    ).execute()

    client = login(app.test_client(), manager)
    for path, record_own in ((f"/contacts/{contact.id}", own), (f"/accounts/{account.id}", on_account)):
        seen = client.get(path).get_data(as_text=True)
        assert 'id="related-activities"' not in seen, path
        assert _entries(seen) == [
            f"activity-{record_own.id}",
            f"activity-{note.id}",
            f"activity-{call.id}",
        ], path
        assert "Connected</strong> · 7 min" in seen and "Asked about the support plan" in seen
        assert f'on <a href="/leads/{mine.id}">' in seen and "(Pricing)" in seen
        assert f'id="activity-tools-{record_own.id}"' in seen  # its own: changed here
        assert f'id="activity-tools-{note.id}"' not in seen and f'id="activity-tools-{call.id}"' not in seen
        calls = client.get(f"{path}/activities?kind=calls", headers=HX).get_data(as_text=True)
        assert _entries(calls) == [f"activity-{call.id}"], path
        notes = client.get(f"{path}?activity=notes").get_data(as_text=True)
        assert _entries(notes) == [f"activity-{record_own.id}", f"activity-{note.id}"], path

    rep_client = login(app.test_client(), rep)
    page = rep_client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Connected</strong> · 7 min" in page and "Asked about the support plan" not in page
    assert _entries(page) == [f"activity-{own.id}", f"activity-{call.id}"]
    stranger = make_contact()
    assert rep_client.get(f"/contacts/{stranger.id}").status_code == 404


def test_w1_show_older_pages_through_the_record_and_its_leads_activities_together(app):
    """W1: the merged timeline pages as a lead's does: 50 newest first, then
    "Show older" brings the rest, own and the leads' interleaved by time."""
    manager = make_user("manager")
    account = make_account(name="Paged Ltd")
    lead = make_lead(account=account, stage=2, topic="Rollout")
    start = dt.datetime(2026, 3, 1, 9, 0)
    with app.app_context():
        for n in range(60):
            record = account if n % 2 else lead
            done, errors = services.add_activity(record, manager, "note", {"body": f"Note {n}"})
            assert done is not None, errors
            Activity.update(created_at=start + dt.timedelta(minutes=n)).where(
                Activity.id == done.id
            ).execute()
    newest_first = [f"activity-{row.id}" for row in Activity.select().order_by(Activity.created_at.desc())]

    client = login(app.test_client(), manager)
    page = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert _entries(page) == newest_first[:50]
    assert f'hx-get="/accounts/{account.id}/activities?kind=all&amp;offset=50"' in page
    older = client.get(f"/accounts/{account.id}/activities?kind=all&offset=50", headers=HX).get_data(
        as_text=True
    )
    assert _entries(older) == newest_first[50:] and "Show older" not in older
