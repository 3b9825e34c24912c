"""A contact's and an account's pages show the latest activities of their leads
(SPEC W1, G1): the notes, calls and tasks of the leads the user may see, each
naming and linking its lead; a rep sees only those on their own leads; a
contact or account they may not see stays a 404."""

from __future__ import annotations

from leads.activities import services
from tests.factories import login, make_account, make_contact, make_lead, make_user


def test_w1_g1_contact_and_account_pages_show_their_leads_activities_by_visibility(app):
    manager = make_user("manager")
    rep = make_user("rep")
    account = make_account(name="Analytical Ltd")
    contact = make_contact(first_name="Ada", last_name="Byron", account=account, owner=rep)
    mine = make_lead(contact=contact, account=account, owner=rep, stage=5, sales_ready=True, topic="Pricing")
    other = make_lead(contact=contact, account=account, stage=2, topic="Support plan")
    with app.app_context():
        services.add_activity(mine, manager, "call", {"outcome": "connected", "duration_minutes": "7"})
        services.add_activity(other, manager, "note", {"body": "Asked about the support plan"})

    for path in (f"/contacts/{contact.id}", f"/accounts/{account.id}"):
        seen = login(app.test_client(), manager).get(path).get_data(as_text=True)
        assert 'id="related-activities"' in seen, path
        assert "Connected</strong> · 7 min" in seen and "Asked about the support plan" in seen
        assert f'href="/leads/{mine.id}"' in seen and "(Pricing)" in seen

    rep_client = login(app.test_client(), rep)
    page = rep_client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Connected</strong> · 7 min" in page and "Asked about the support plan" not in page
    stranger = make_contact()
    assert rep_client.get(f"/contacts/{stranger.id}").status_code == 404
