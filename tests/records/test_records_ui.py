"""Contacts, accounts and leads created by hand in the web UI (C1, E1, E2, G1).

HTTP tests with the test client on SQLite and PostgreSQL: forms post with htmx
(inline errors answer 422 with the form region), record-level access for reps
(404 and absent from lists), roles refused on the editing routes, deactivated
reps never offered as owners, and user text always escaped.
"""

from __future__ import annotations

import re

import pytest

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.base.db import utcnow
from leads.core import lifecycle, validation
from leads.records.models import Account, Campaign, Contact, Interaction, Lead, LeadHistory
from tests.factories import (
    count_queries,
    csrf_token,
    login,
    make_account,
    make_contact,
    make_lead,
    make_product_line,
    make_team,
    make_user,
)

HX = {"HX-Request": "true"}
SCRIPT = "<script>alert(1)</script>"


def signed_in(app, role=MARKETER, **kw):
    """A client signed in as a new user with ``role``, and the user."""
    user = make_user(role, **kw)
    return login(app.test_client(), user), user


def post(client, path, data, htmx=True):
    """POST ``data`` as the page's htmx form does (CSRF header), or as a plain form."""
    token = csrf_token(client)
    if htmx:
        return client.post(path, data=data, headers={**HX, "X-CSRFToken": token})
    return client.post(path, data={**data, "csrf_token": token})


def text(response) -> str:
    return response.get_data(as_text=True)


# Contacts -------------------------------------------------------------------------


def test_a_marketer_creates_a_contact_c1(app):
    """C1: a contact created by hand is stored trimmed and cleaned, then shown."""
    client, _ = signed_in(app, MARKETER)
    rep = make_user(REP, name="Rita Rep")
    account = make_account(name="Initech")
    response = post(
        client,
        "/contacts/new",
        {
            "first_name": "  Ada ",
            "last_name": "Lovelace",
            "email": " ada@example.com ",
            "phone": "+33 1 23 45 67 89",
            "job_title": "CTO",
            "country": "fr",
            "account": str(account.id),
            "owner": str(rep.id),
        },
    )
    assert response.status_code == 204
    contact = Contact.get(Contact.last_name == "Lovelace")
    assert response.headers["HX-Redirect"] == f"/contacts/{contact.id}"
    assert (contact.first_name, contact.email, contact.country) == ("Ada", "ada@example.com", "FR")
    assert (contact.account_id, contact.owner_id) == (account.id, rep.id)
    page = text(client.get(f"/contacts/{contact.id}"))
    assert "Ada Lovelace" in page and "Initech" in page and "Rita Rep" in page
    assert "Contact created." in page


def test_a_plain_form_post_redirects(app):
    """Without htmx the form still works: 302 to the new contact."""
    client, _ = signed_in(app, MANAGER)
    response = post(client, "/contacts/new", {"last_name": "Plain"}, htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/contacts/{Contact.get(Contact.last_name == 'Plain').id}"


def test_contact_form_shows_inline_errors_with_422(app):
    """Invalid input re-renders the form region only, with each error next to its field."""
    client, _ = signed_in(app, ADMIN)
    response = post(
        client,
        "/contacts/new",
        {
            "first_name": "x" * 101,
            "email": "not-an-email",
            "country": "FRA",
            "owner": "999",
            "account": "abc",
        },
    )
    assert response.status_code == 422
    body = text(response)
    assert body.lstrip().startswith("<form") and 'id="contact-form"' in body and "<html" not in body
    for message in (
        "At most 100 characters.",
        validation.EMAIL_REASON,
        validation.COUNTRY_REASON,
        "Choose an active sales rep.",
        "Choose an existing account.",
    ):
        assert message in body
    assert Contact.select().count() == 0


def test_a_contact_needs_a_name_or_an_email(app):
    client, _ = signed_in(app, MARKETER)
    response = post(client, "/contacts/new", {"job_title": "CTO"})
    assert response.status_code == 422
    assert "Give at least a first name, a last name or an email." in text(response)
    assert Contact.select().count() == 0


def test_a_plain_invalid_post_gets_the_whole_page_with_422(app):
    client, _ = signed_in(app, MARKETER)
    response = post(client, "/contacts/new", {"email": "nope"}, htmx=False)
    assert response.status_code == 422
    assert "<html" in text(response) and validation.EMAIL_REASON in text(response)


def test_a_manager_edits_a_contact(app):
    client, _ = signed_in(app, MANAGER)
    rep = make_user(REP)
    contact = make_contact(first_name="Old", owner=rep)
    form = text(client.get(f"/contacts/{contact.id}/edit"))
    assert 'value="Old"' in form and f'<option selected value="{rep.id}">' in form
    response = post(
        client,
        f"/contacts/{contact.id}/edit",
        {"first_name": "New", "last_name": contact.last_name, "email": contact.email, "owner": ""},
    )
    assert response.status_code == 204
    contact = Contact.get_by_id(contact.id)
    assert contact.first_name == "New" and contact.owner_id is None
    assert contact.updated_at >= contact.created_at


def test_editing_a_contact_that_does_not_exist_is_404(app):
    client, _ = signed_in(app, ADMIN)
    assert client.get("/contacts/999/edit").status_code == 404
    assert client.get("/contacts/999").status_code == 404


def test_contact_list_searches_name_email_and_company_and_filters_by_owner(app):
    client, _ = signed_in(app, MANAGER)
    rep = make_user(REP)
    make_contact(first_name="Zoe", last_name="Quill", email="zq@one.test")
    make_contact(
        first_name="Yan", last_name="Other", email="yan@two.test", account=make_account(name="Quillcorp")
    )
    make_contact(first_name="Max", last_name="Mustermann", email="max@three.test", owner=rep)

    def names(query):
        return text(client.get("/contacts" + query, headers=HX))

    assert "Zoe Quill" in names("?q=quill") and "Yan Other" in names("?q=quill")
    assert "Max Mustermann" not in names("?q=quill")
    assert "Yan Other" in names("?q=YAN%40two") and "Zoe Quill" not in names("?q=yan%40two")
    by_owner = names(f"?owner={rep.id}")
    assert "Max Mustermann" in by_owner and "Zoe Quill" not in by_owner
    unowned = names("?owner=none")
    assert "Zoe Quill" in unowned and "Max Mustermann" not in unowned
    assert "1</strong> contact" in by_owner


def test_contact_list_is_a_fragment_for_htmx_and_a_page_otherwise(app):
    client, _ = signed_in(app, MARKETER)
    make_contact(last_name="Fragment")
    fragment = client.get("/contacts?q=frag", headers=HX)
    assert text(fragment).lstrip().startswith('<section id="contacts-table"')
    assert "HX-Request" in fragment.headers["Vary"]
    page = text(client.get("/contacts?q=frag"))
    assert "<html" in page and 'id="contacts-table"' in page and 'value="frag"' in page


def test_contact_list_pages_by_50(app):
    client, _ = signed_in(app, MARKETER)
    Contact.insert_many([{"first_name": "P", "last_name": f"Person{n:03d}"} for n in range(120)]).execute()
    first = text(client.get("/contacts", headers=HX))
    assert first.count("/contacts/") == 50 and "Person000" in first and "Person050" not in first
    assert "Page 1 of 3" in first and "/contacts?page=2" in first
    third = text(client.get("/contacts?page=3", headers=HX))
    assert third.count("/contacts/") == 20 and "Person119" in third
    assert "120</strong> contacts" in third


@pytest.mark.parametrize("query", ["?page=abc", "?page=-1", "?owner=abc", "?page=99999999999"])
def test_contact_list_ignores_unreadable_arguments(app, query):
    client, _ = signed_in(app, MARKETER)
    assert client.get("/contacts" + query).status_code == 200


@pytest.mark.parametrize("role", [MANAGER, TELEPROSPECTOR, REP])
def test_lists_and_record_pages_load_in_a_fixed_number_of_queries(app, role):
    """STYLE 7, G1: accounts and owners come with the rows (no N+1), whatever the
    page holds; the record-level filter is a subquery of the same SQL."""
    client, user = signed_in(app, role)
    account = make_account()
    for n in range(30):
        company = account if n % 2 else make_account(owner=make_user(REP))
        contact = make_contact(account=company, owner=make_user(REP))
        owner = user if role == REP else make_user(REP)
        make_lead(
            contact=contact,
            account=account,
            owner=owner,
            stage=lifecycle.TP_ACCEPTANCE,
            product_line=make_product_line(),
        )
    pages = ["/contacts", "/accounts", f"/contacts/{contact.id}", f"/accounts/{account.id}"]
    for path in pages:
        with count_queries() as queries:
            assert client.get(path).status_code == 200
        # the session, then: list count, rows and owner filter; or the record, its
        # related rows and its leads' activities (W1), its own activities and the
        # users a task on it may be given to (its inline forms): three more for a record
        assert len(queries) <= (8 if path.count("/") == 2 else 5), (path, queries)
    assert "<strong>30</strong> contacts" in text(client.get("/contacts"))


# Accounts -------------------------------------------------------------------------


def test_a_marketer_creates_and_edits_an_account(app):
    client, _ = signed_in(app, MARKETER)
    rep = make_user(REP, name="Owner Rep")
    response = post(
        client,
        "/accounts/new",
        {
            "name": "Globex",
            "domain": "Globex.COM",
            "industry": "Energy",
            "employee_count": "1200",
            "annual_revenue": "5000000000",
            "country": "us",
            "owner": str(rep.id),
        },
    )
    assert response.status_code == 204
    account = Account.get(Account.name == "Globex")
    assert response.headers["HX-Redirect"] == f"/accounts/{account.id}"
    assert (account.domain, account.employee_count, account.annual_revenue) == (
        "globex.com",
        1200,
        5_000_000_000,
    )
    assert (account.country, account.owner_id) == ("US", rep.id)
    page = text(client.get(f"/accounts/{account.id}"))
    assert "Globex" in page and "5,000,000,000" in page and "Owner Rep" in page

    response = post(
        client, f"/accounts/{account.id}/edit", {"name": "Globex Corp", "employee_count": "", "owner": ""}
    )
    assert response.status_code == 204
    account = Account.get_by_id(account.id)
    assert account.name == "Globex Corp" and account.employee_count is None and account.owner_id is None


def test_account_form_shows_inline_errors_with_422(app):
    client, _ = signed_in(app, MANAGER)
    response = post(
        client,
        "/accounts/new",
        {
            "name": "",
            "domain": "http://acme.com/about",
            "employee_count": "-3",
            "annual_revenue": "lots",
            "country": "1X",
        },
    )
    assert response.status_code == 422
    body = text(response)
    assert 'id="account-form"' in body and "<html" not in body
    for message in (
        "Required.",
        "A domain like example.com",
        "A whole number from 0 to",
        "Not a valid integer value.",
        validation.COUNTRY_REASON,
    ):
        assert message in body
    assert Account.select().count() == 0


def test_an_account_page_lists_its_contacts_and_leads(app):
    client, _ = signed_in(app, MANAGER)
    account = make_account(name="Hooli")
    contact = make_contact(first_name="Gavin", last_name="Belson", account=account)
    lead = make_lead(topic="Compression platform", account=account, contact=contact)
    page = text(client.get(f"/accounts/{account.id}"))
    assert "Gavin Belson" in page and f'href="/contacts/{contact.id}"' in page
    assert "Compression platform" in page and f'href="/leads/{lead.id}"' in page
    assert f'href="/leads/new?account={account.id}"' in page


def test_account_list_searches_name_and_domain(app):
    client, _ = signed_in(app, MARKETER)
    make_account(name="Umbrella", domain="umbrella.test")
    make_account(name="Cyberdyne", domain="skynet.test")
    found = text(client.get("/accounts?q=skynet", headers=HX))
    assert "Cyberdyne" in found and "Umbrella" not in found


# Leads created by hand ------------------------------------------------------------


def _campaign(**kw):
    return Campaign.create(**{"name": f"Campaign {Campaign.select().count() + 1}", **kw})


def test_a_lead_by_hand_without_contact_or_account_e1(app):
    """E1, C1: a lead with neither contact nor account; source manual, stage 1, first history row."""
    client, user = signed_in(app, MARKETER)
    campaign = _campaign()
    team = make_team()
    response = post(
        client,
        "/leads/new",
        {
            "topic": "Pricing for 50 seats",
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@navy.test",
            "company": "US Navy",
            "country": "us",
            "campaign": str(campaign.id),
            "team": str(team.id),
        },
    )
    assert response.status_code == 204
    lead = Lead.get(Lead.topic == "Pricing for 50 seats")
    assert response.headers["HX-Redirect"] == f"/leads/{lead.id}"
    assert lead.contact_id is None and lead.account_id is None
    assert (lead.source, lead.stage, lead.status) == ("manual", lifecycle.INQUIRY, lifecycle.OPEN)
    assert (lead.campaign_id, lead.team_id, lead.country, lead.company) == (
        campaign.id,
        team.id,
        "US",
        "US Navy",
    )
    history = list(LeadHistory.select().where(LeadHistory.lead == lead.id))
    assert [(h.kind, h.new_value, h.actor_id, h.via) for h in history] == [("stage", "1", user.id, "web")]


def test_a_plain_lead_post_redirects_to_the_lead_page(app):
    client, _ = signed_in(app, ADMIN)
    line = make_product_line()
    response = post(client, "/leads/new", {"topic": "Plain", "product_line": str(line.id)}, htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/leads/{Lead.get(Lead.topic == 'Plain').id}"


def test_a_lead_needs_a_topic_and_a_marketing_context(app):
    client, _ = signed_in(app, MANAGER)
    response = post(client, "/leads/new", {"topic": "", "email": "bad", "country": "France"})
    assert response.status_code == 422
    body = text(response)
    assert 'id="lead-form"' in body and "<html" not in body
    assert "Required." in body
    assert "Choose a campaign or a product line: the lead&#39;s marketing context." in body
    assert validation.EMAIL_REASON in body
    assert validation.COUNTRY_REASON in body
    assert Lead.select().count() == 0


def test_a_lead_refuses_records_that_do_not_exist(app):
    client, _ = signed_in(app, MARKETER)
    response = post(
        client,
        "/leads/new",
        {
            "topic": "X",
            "campaign": "9999",
            "product_line": "x",
            "contact": "9999",
            "account": "9999",
            "team": "9999",
        },
    )
    assert response.status_code == 422
    body = text(response)
    for message in (
        "Choose an existing campaign.",
        "Choose an existing product line.",
        "Choose an existing contact.",
        "Choose an existing account.",
        "Choose an existing team.",
    ):
        assert message in body
    assert Lead.select().count() == 0


def test_a_lead_for_a_contact_takes_its_account(app):
    """E1/C1: linked to an existing contact; with no account chosen, the contact's account."""
    client, _ = signed_in(app, MARKETER)
    account = make_account()
    contact = make_contact(account=account)
    line = make_product_line()
    response = post(
        client, "/leads/new", {"topic": "Upgrade", "product_line": str(line.id), "contact": str(contact.id)}
    )
    assert response.status_code == 204
    lead = Lead.get(Lead.topic == "Upgrade")
    assert (lead.contact_id, lead.account_id) == (contact.id, account.id)


def test_new_lead_for_this_contact_prefills_the_form_e2(app):
    """E2: the contact page links to a new-lead form filled with its person, contact and account."""
    client, _ = signed_in(app, MARKETER)
    account = make_account(name="Wayne Enterprises")
    contact = make_contact(
        first_name="Bruce",
        last_name="Wayne",
        email="bruce@wayne.test",
        job_title="CEO",
        country="US",
        account=account,
    )
    page = text(client.get(f"/contacts/{contact.id}"))
    assert f'href="/leads/new?contact={contact.id}"' in page
    form = text(client.get(f"/leads/new?contact={contact.id}"))
    for expected in (
        'value="Bruce"',
        'value="Wayne"',
        'value="bruce@wayne.test"',
        'value="CEO"',
        'value="US"',
        'value="Wayne Enterprises"',
        f'<option selected value="{contact.id}">',
        f'<option selected value="{account.id}">',
    ):
        assert expected in form


def test_two_open_leads_of_one_contact_show_on_its_page_e2(app):
    """E2: a contact holds several open leads at once, one per campaign or product line."""
    client, _ = signed_in(app, MARKETER)
    contact = make_contact()
    first, second = _campaign(name="Spring webinar"), _campaign(name="Trade show")
    for campaign in (first, second):
        response = post(
            client,
            "/leads/new",
            {"topic": f"From {campaign.name}", "campaign": str(campaign.id), "contact": str(contact.id)},
        )
        assert response.status_code == 204
    leads = list(Lead.select().where(Lead.contact == contact.id).order_by(Lead.id))
    assert [lead.status for lead in leads] == [lifecycle.OPEN, lifecycle.OPEN]
    page = text(client.get(f"/contacts/{contact.id}"))
    for lead in leads:
        assert f'href="/leads/{lead.id}"' in page and lead.topic in page
    assert "Spring webinar" in page and "Trade show" in page


def test_a_second_open_lead_for_the_same_campaign_is_refused_e2(app):
    """E2: one open lead per campaign (or product line) per contact."""
    client, _ = signed_in(app, MARKETER)
    contact, campaign = make_contact(), _campaign()
    existing = make_lead(contact=contact, campaign=campaign)
    response = post(
        client, "/leads/new", {"topic": "Again", "campaign": str(campaign.id), "contact": str(contact.id)}
    )
    assert response.status_code == 422
    assert f"already has an open lead for this campaign or product line (lead {existing.id})" in text(
        response
    )
    Lead.update(status=lifecycle.DISQUALIFIED).where(Lead.id == existing.id).execute()
    again = post(
        client, "/leads/new", {"topic": "Again", "campaign": str(campaign.id), "contact": str(contact.id)}
    )
    assert again.status_code == 204


def test_the_lead_form_offers_recent_contacts_and_a_search(app):
    client, _ = signed_in(app, MARKETER)
    old = make_contact(first_name="Oldest", last_name="Person")
    Contact.insert_many([{"first_name": "Recent", "last_name": f"R{n}"} for n in range(200)]).execute()
    form = text(client.get("/leads/new"))
    assert "Recent R199" in form and "Oldest Person" not in form
    options = client.get("/contacts/options?contact_q=oldest", headers=HX)
    assert options.status_code == 200
    assert f'<option value="{old.id}">Oldest Person' in text(options) and "Recent" not in text(options)
    kept = text(client.get(f"/contacts/options?contact_q=R1&contact={old.id}", headers=HX))
    assert f'<option value="{old.id}" selected>' in kept
    account = make_account(name="Findme Ltd")
    found = text(client.get("/accounts/options?account_q=findme", headers=HX))
    assert f'<option value="{account.id}">Findme Ltd' in found
    # only a swap target: a plain visit goes to the form
    assert client.get("/contacts/options?contact_q=x").status_code == 302


# Record-level access and roles (G1) -------------------------------------------------


def test_a_rep_sees_only_their_contacts_g1(app):
    """G1: a rep sees the contacts they own or hold a lead of; others are 404 and absent."""
    rep, other = make_user(REP), make_user(REP)
    own = make_contact(first_name="Owned", last_name="Mine", owner=rep)
    via_lead = make_contact(first_name="Through", last_name="Lead", owner=other)
    make_lead(contact=via_lead, owner=rep, topic="My lead")
    make_lead(contact=via_lead, owner=other, topic="Their lead")
    hidden = make_contact(first_name="Hidden", last_name="Other", owner=other)
    client = login(app.test_client(), rep)

    listing = text(client.get("/contacts"))
    assert "Owned Mine" in listing and "Through Lead" in listing and "Hidden Other" not in listing
    assert "2</strong> contacts" in listing
    assert "Hidden" not in text(client.get("/contacts?q=hidden", headers=HX))
    assert client.get(f"/contacts/{own.id}").status_code == 200
    assert client.get(f"/contacts/{hidden.id}").status_code == 404
    assert client.get(f"/contacts/{hidden.id}", headers=HX).status_code == 404
    page = text(client.get(f"/contacts/{via_lead.id}"))
    assert "My lead" in page and "Their lead" not in page
    assert "New lead for this contact" not in page and "Edit" not in page


def test_a_rep_sees_only_accounts_of_their_records_g1(app):
    """G1: accounts a rep owns, or of their leads or visible contacts; others 404 and absent."""
    rep, other = make_user(REP), make_user(REP)
    owned = make_account(name="Owned Account", owner=rep)
    of_contact = make_account(name="Contact Account", owner=other)
    make_contact(account=of_contact, owner=rep)
    of_lead = make_account(name="Lead Account", owner=other)
    make_lead(account=of_lead, owner=rep)
    hidden = make_account(name="Hidden Account", owner=other)
    make_contact(account=hidden, owner=other, first_name="Secret")
    client = login(app.test_client(), rep)

    listing = text(client.get("/accounts"))
    for name in ("Owned Account", "Contact Account", "Lead Account"):
        assert name in listing
    assert "Hidden Account" not in listing and "3</strong> accounts" in listing
    assert client.get(f"/accounts/{owned.id}").status_code == 200
    assert client.get(f"/accounts/{hidden.id}").status_code == 404
    assert "Secret" not in text(client.get(f"/accounts/{of_contact.id}"))


def test_a_teleprospector_sees_the_contacts_and_accounts_of_open_stage_3_4_leads_read_only_g1(app):
    """G1, P8: a teleprospector sees the contacts and accounts of the leads they may
    see (open, stages 3–4), the account of such a contact too; not those of a
    stage-1, stage-5 or closed lead. Pages are read-only."""
    client, _ = signed_in(app, TELEPROSPECTOR)
    company = make_account(name="Calling Co")
    called = make_contact(first_name="Called", last_name="Person", account=company, owner=make_user(REP))
    make_lead(stage=lifecycle.TP_QUALIFICATION, contact=called, topic="Call this one")
    make_lead(stage=lifecycle.INQUIRY, contact=called, topic="Not yet")
    Interaction.create(
        type="email_opened", contact=called, external_id="open-1", source="test", occurred_at=utcnow()
    )
    colleague = make_contact(first_name="Quiet", last_name="Colleague", account=company)
    hidden = {
        "Closed Person": dict(stage=lifecycle.TP_ACCEPTANCE, status=lifecycle.DISQUALIFIED),
        "Sales Person": dict(stage=lifecycle.SALES_ACCEPTANCE, sales_ready=True),
        "Early Person": dict(stage=lifecycle.AUTOMATED_QUALIFICATION),
    }
    hidden_ids = []
    for name, lead in hidden.items():
        first, last = name.split()
        account = make_account(name=f"{first} Co")
        contact = make_contact(first_name=first, last_name=last, account=account)
        make_lead(contact=contact, account=account, **lead)
        hidden_ids += [("contacts", contact.id), ("accounts", account.id)]

    contacts = text(client.get("/contacts"))
    assert "Called Person" in contacts and "<strong>1</strong> contact<" in contacts
    assert "New contact" not in contacts
    accounts = text(client.get("/accounts"))
    assert "Calling Co" in accounts and "<strong>1</strong> account<" in accounts
    for name in [*hidden, "Quiet Colleague"]:
        assert name not in contacts and name.split()[0] + " Co" not in accounts
    for kind, record_id in [*hidden_ids, ("contacts", colleague.id)]:
        assert client.get(f"/{kind}/{record_id}").status_code == 404

    page = text(client.get(f"/contacts/{called.id}"))
    assert "Call this one" in page and "Not yet" not in page and "email_opened" in page
    assert "/edit" not in page and "New lead" not in page
    account_page = text(client.get(f"/accounts/{company.id}"))
    assert "Called Person" in account_page and "Quiet Colleague" not in account_page


@pytest.mark.parametrize("role", [REP, TELEPROSPECTOR])
@pytest.mark.parametrize(
    "path",
    [
        "/contacts/new",
        "/contacts/{contact}/edit",
        "/accounts/new",
        "/accounts/{account}/edit",
        "/leads/new",
        "/contacts/options",
        "/accounts/options",
    ],
)
def test_reps_and_teleprospectors_may_not_create_or_edit_g1(app, role, path):
    """G1: only marketers, managers and admins create and edit records (403 for others)."""
    user = make_user(role)
    account = make_account(owner=user)
    contact = make_contact(owner=user, account=account)
    client = login(app.test_client(), user)
    url = path.format(contact=contact.id, account=account.id)
    assert client.get(url).status_code == 403
    assert client.get(url, headers=HX).status_code == 403
    if "options" not in path:
        response = post(client, url, {"topic": "x", "last_name": "x", "name": "x"})
        assert response.status_code == 403
    assert Lead.select().count() == 0 and Contact.select().count() == 1 and Account.select().count() == 1


@pytest.mark.parametrize("path", ["/contacts/new", "/accounts/new"])
def test_deactivated_reps_are_never_offered_as_owners(app, path):
    """Deactivated users are never offered as owners, and cannot be posted as one."""
    client, _ = signed_in(app, MANAGER)
    active = make_user(REP, name="Active Annie")
    gone = make_user(REP, name="Gone Gary", is_active=False)
    make_user(MANAGER, name="Manager Mo")
    form = text(client.get(path))
    assert "Active Annie" in form and "Gone Gary" not in form and "Manager Mo" not in form
    response = post(client, path, {"name": "Acme", "last_name": "Doe", "owner": str(gone.id)})
    assert response.status_code == 422 and "Choose an active sales rep." in text(response)
    assert (
        post(client, path, {"name": "Acme", "last_name": "Doe", "owner": str(active.id)}).status_code == 204
    )


def test_editing_a_record_of_a_deactivated_owner_says_so(app):
    client, _ = signed_in(app, ADMIN)
    gone = make_user(REP, name="Gone Gary", is_active=False)
    contact = make_contact(owner=gone)
    form = text(client.get(f"/contacts/{contact.id}/edit"))
    assert "The current owner, Gone Gary, is deactivated" in form
    assert f'value="{gone.id}"' not in form


# Escaping -------------------------------------------------------------------------


def test_script_tags_in_fields_are_rendered_escaped(app):
    """User text is always escaped: lists, record pages, forms and option fragments."""
    client, _ = signed_in(app, MARKETER)
    account = make_account(name=SCRIPT, domain="evil.test", industry=SCRIPT)
    contact = make_contact(first_name=SCRIPT, last_name="Doe", job_title=SCRIPT, account=account)
    make_lead(contact=contact, account=account, topic=SCRIPT, first_name=SCRIPT)
    pages = [
        client.get("/contacts"),
        client.get(f"/contacts?q={SCRIPT}"),
        client.get(f"/contacts/{contact.id}"),
        client.get(f"/contacts/{contact.id}/edit"),
        client.get("/accounts"),
        client.get(f"/accounts/{account.id}"),
        client.get(f"/accounts/{account.id}/edit"),
        client.get(f"/leads/new?contact={contact.id}"),
        client.get("/contacts/options?contact_q=script", headers=HX),
        client.get("/accounts/options?account_q=script", headers=HX),
        post(client, "/contacts/new", {"first_name": SCRIPT, "email": "bad"}),
    ]
    for response in pages:
        body = text(response)
        assert "<script>alert" not in body, response.request.path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, response.request.path


# In the browser -------------------------------------------------------------------


@pytest.mark.browser
def test_contact_then_lead_by_hand_in_the_browser(browser_page):
    """C1, E2 in real Chromium: inline errors swap in (422), the contact page links to a
    prefilled lead form, the contact search narrows its select, and a valid lead
    lands on its page; no script errors (CSP)."""
    from playwright.sync_api import expect

    from tests.conftest import screenshot
    from tests.factories import PASSWORD

    page = browser_page
    marketer = make_user(MARKETER)
    campaign = _campaign(name="Autumn webinar")
    make_contact(first_name="Other", last_name="Person")
    page.goto("/login")
    page.fill("input[name=email]", marketer.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/leads**")

    page.goto("/contacts/new")
    page.fill("input[name=last_name]", "Curie")
    page.fill("input[name=email]", "not-an-email")
    page.click("text=Create contact")
    page.wait_for_selector("#contact-form .field-error")
    assert validation.EMAIL_REASON in page.inner_text("#contact-form")
    assert page.url.endswith("/contacts/new")
    page.fill("input[name=email]", "marie@radium.test")
    page.click("text=Create contact")
    page.wait_for_url(re.compile(r"/contacts/\d+$"))
    contact = Contact.get(Contact.last_name == "Curie")
    assert "Contact created." in page.inner_text("main")
    screenshot(page, "records-contact")

    page.click("text=New lead for this contact")
    page.wait_for_url("**/leads/new?contact=*")
    assert page.input_value("input[name=last_name]") == "Curie"
    page.fill("input[name=topic]", "Lab equipment")
    page.click("text=Create lead")
    page.wait_for_selector("#lead-form .field-error")
    assert "marketing context" in page.inner_text("#lead-form")
    screenshot(page, "records-lead-form-errors")
    page.fill("#contact-q", "curie")
    expect(page.locator("#contact option")).to_have_count(2)
    assert page.input_value("#contact") == str(contact.id)
    page.select_option("select[name=campaign]", str(campaign.id))
    page.click("text=Create lead")
    page.wait_for_url(re.compile(r"/leads/\d+$"))
    lead = Lead.get(Lead.topic == "Lab equipment")
    assert page.url.endswith(f"/leads/{lead.id}") and lead.contact_id == contact.id
    screenshot(page, "records-lead-by-hand")
    # Chromium logs every 4xx answer (the 422s above, /favicon.ico) as a console error.
    assert [e for e in page.js_errors if not e.startswith("Failed to load resource")] == []

    page.goto("/contacts")
    page.fill("#contacts-table-q", "curie")
    expect(page.locator("#contacts-table")).not_to_contain_text("Other Person")
    assert "q=curie" in page.url
