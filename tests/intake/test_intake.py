"""Intake from public capture sources, with matching strategies (C3–C6, M1–M5, E2, E3).

Every test runs on SQLite and PostgreSQL (the ``app`` fixture)."""

from __future__ import annotations

import peewee as pw
import pytest

from leads.core.matching import CONTACT, FILL_EMPTY, LEAD, OVERWRITE
from leads.intake import manage
from leads.intake.interactions import record_interactions
from leads.intake.match_keys import DbIndex, index_records, load_strategies
from leads.intake.match_or_create import match_or_create
from leads.intake.models import AutoLeadRule, CaptureSource, MatchingStrategyRecord, MatchKey
from leads.records.models import Campaign, Contact, Interaction, Lead, LeadHistory
from leads.scoring.models import PendingScore
from tests.factories import csrf_token, login, make_contact, make_product_line, make_user


def make_source(**overrides) -> CaptureSource:
    n = CaptureSource.select().count() + 1
    values = {
        "name": f"Form {n}",
        "kind": "form",
        "event_id": None,
        "field_mapping": {},
        "contact_strategies": [],
        "lead_strategies": [],
        "campaign_id": None,
        "product_line_id": None,
        "creates_lead": True,
        "update_policy": FILL_EMPTY,
        "thank_you_url": "https://example.test/thanks",
        "active": True,
        **overrides,
    }
    return manage.save_source(values)


def make_campaign(name: str, product_line=None) -> Campaign:
    return Campaign.create(name=name, product_line=product_line, status="active")


def person(**overrides) -> dict:
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.test",
        "consent": "yes",
        **overrides,
    }


def post(client, source, data=None, **kwargs):
    return client.post(f"/capture/{source.key}", data=person() if data is None else data, **kwargs)


def counts() -> tuple[int, int, int]:
    return Contact.select().count(), Lead.select().count(), Interaction.select().count()


# --------------------------------------------------------------------------- C3/C4/M2/M4


def test_same_person_through_form_and_event_is_one_contact_with_the_right_leads(app):
    """C3, C4, M2, M4: a landing-page form and an event registration by the same
    person (email written differently) give one contact, one lead per source,
    and interactions credited to that contact and its leads."""
    with app.app_context():
        form = make_source(name="Webinar form", campaign_id=make_campaign("Webinar").id)
        event = make_source(
            name="Summit", kind="event", event_id="SUMMIT-26", campaign_id=make_campaign("Summit").id
        )
    client = app.test_client()
    first = post(client, form, person(email="  Ada@Example.TEST "))
    assert first.status_code == 303 and first.headers["Location"] == "https://example.test/thanks"
    assert post(client, event, person(email="ada@example.test", phone="+33 6 12 34 56 78")).status_code == 303

    [contact] = Contact.select()
    assert contact.phone == "+33612345678"  # filled on the match (M4), in E.164
    leads = list(Lead.select().order_by(Lead.id))
    assert [lead.topic for lead in leads] == ["Webinar", "Summit"]
    assert {lead.contact_id for lead in leads} == {contact.id}
    assert [lead.source for lead in leads] == [form.lead_source, event.lead_source]
    kinds = {(i.type, i.contact_id, i.lead_id) for i in Interaction.select()}
    assert kinds == {
        ("form_submitted", contact.id, leads[0].id),
        ("event_registered", contact.id, leads[1].id),
    }
    registered = Interaction.get(Interaction.type == "event_registered")
    assert registered.properties["event_id"] == "SUMMIT-26"
    # S4: the scoring workers have work for both leads
    assert {row.lead_id for row in PendingScore.select()} == {lead.id for lead in leads}


def test_a_second_submission_of_the_same_form_updates_and_adds_no_lead(app):
    """M2, M4: same email + same form → the lead and contact are updated per the
    policy (fill blanks only here), no second lead; the reason is on the timeline."""
    with app.app_context():
        form = make_source(update_policy=FILL_EMPTY)
    client = app.test_client()
    post(client, form, person(company=""))
    post(client, form, person(first_name="Augusta", company="Analytical Engines", email="ADA@example.test"))
    [contact] = Contact.select()
    [lead] = Lead.select()
    assert contact.first_name == "Ada"  # kept: fill blanks only
    assert lead.company == "Analytical Engines"  # filled: it was blank
    assert Interaction.select().where(Interaction.lead == lead.id).count() == 2
    notes = [
        row.note for row in LeadHistory.select().where(LeadHistory.kind == "match").order_by(LeadHistory.id)
    ]
    assert any(note.startswith("Matched lead") and "email + source" in note for note in notes)
    assert any("first_name: kept existing value" in note for note in notes)


def test_overwrite_policy_refreshes_the_matched_records(app):
    """M4: a source with the overwrite policy refreshes the existing contact and lead."""
    with app.app_context():
        form = make_source(update_policy=OVERWRITE)
    client = app.test_client()
    post(client, form)
    post(client, form, person(first_name="Augusta"))
    assert Contact.get().first_name == "Augusta" and Lead.get().first_name == "Augusta"
    assert Lead.select().count() == 1


def test_a_different_form_adds_a_lead_to_the_same_contact(app):
    """M2, M5, E2: lead default strategy is email + source form: another form adds a lead."""
    with app.app_context():
        one, two = make_source(name="Pricing"), make_source(name="Newsletter")
    client = app.test_client()
    post(client, one)
    post(client, two)
    assert counts()[:2] == (1, 2)
    assert {lead.contact_id for lead in Lead.select()} == {Contact.get().id}


def test_phone_numbers_match_in_e164(app):
    """M1: a source matching contacts on phone finds the same person whether the
    number is written internationally or nationally with the country."""
    with app.app_context():
        by_phone = manage.save_strategy("Contact by phone", CONTACT, ["phone"], False)
        form = make_source(contact_strategies=[by_phone.id], creates_lead=False)
    client = app.test_client()
    post(client, form, person(email="", phone="+33 6 12 34 56 78"))
    post(client, form, person(email="ada.l@example.test", phone="06.12.34.56.78", country="fr"))
    [contact] = Contact.select()
    assert contact.phone == "+33612345678" and contact.email == "ada.l@example.test"
    assert Lead.select().count() == 0


def test_a_contact_created_by_hand_is_matched(app):
    """M4/M5: records created by other paths (C1) are found too (the index catches up)."""
    existing = make_contact(email="Grace@Example.test")
    with app.app_context():
        form = make_source()
    post(app.test_client(), form, person(email="grace@example.test"))
    assert Contact.select().count() == 1
    assert Lead.get().contact_id == existing.id


def test_match_or_create_inside_one_transaction_sees_its_own_rows(app):
    """M1/M5 for the CSV import: duplicate rows in one transaction become one record."""
    from leads.base.db import transaction

    with app.app_context():
        strategies = load_strategies(CONTACT)
        index = DbIndex()
        with transaction():
            outcomes = [
                match_or_create(
                    CONTACT, {"email": email, "first_name": "Bo"}, strategies, FILL_EMPTY, index=index
                )
                for email in ("bo@example.test", " BO@example.test", "other@example.test")
            ]
    assert [o.created for o in outcomes] == [True, False, True]
    assert outcomes[0].record_id == outcomes[1].record_id
    assert Contact.select().count() == 2


# --------------------------------------------------------------------------- bad input


def test_no_consent_stores_nothing_and_says_why(app):
    """C3: without consent nothing is stored; the answer names the consent field."""
    with app.app_context():
        form = make_source()
    client = app.test_client()
    page = post(client, form, person(consent=""))
    assert page.status_code == 400 and "Consent is required" in page.get_data(as_text=True)
    answer = client.post(f"/capture/{form.key}", json={"email": "ada@example.test"})
    assert answer.status_code == 400
    assert answer.get_json()["errors"][0]["field"] == "consent"
    assert counts() == (0, 0, 0)


def test_the_honeypot_pretends_success_and_stores_nothing(app):
    """C3: a filled honeypot field is a bot: same answer as a person, nothing stored."""
    with app.app_context():
        form = make_source()
    response = post(app.test_client(), form, person(website="http://spam.example"))
    assert response.status_code == 303
    assert counts() == (0, 0, 0)


def test_oversized_fields_and_bad_emails_are_refused(app):
    """C3: oversized or unusable values refuse the whole submission (nothing stored)."""
    with app.app_context():
        form = make_source()
    client = app.test_client()
    too_long = client.post(f"/capture/{form.key}", json=person(first_name="x" * 101))
    assert too_long.status_code == 400 and too_long.get_json()["errors"][0]["field"] == "first_name"
    assert client.post(f"/capture/{form.key}", json=person(email="not-an-email")).status_code == 400
    assert client.post(f"/capture/{form.key}", json=person(notes="y" * 5000)).status_code == 400
    assert (
        client.post(f"/capture/{form.key}", data=b"z" * 70_000, content_type="text/plain").status_code == 413
    )
    assert client.post(f"/capture/{form.key}", json=["not", "an", "object"]).status_code == 400
    assert counts() == (0, 0, 0)


def test_script_tags_are_stored_as_text_and_rendered_escaped(app):
    """C3, G1: markup in every field is stored as typed and escaped on the contact page."""
    script = "<script>alert(1)</script>"
    with app.app_context():
        form = make_source()
    post(
        app.test_client(), form, person(first_name=script, last_name=script, company=script, job_title=script)
    )
    contact = Contact.get()
    assert contact.first_name == script and Lead.get().company == script
    admin = login(app.test_client(), make_user("admin"))
    for page in (f"/contacts/{contact.id}", f"/leads/{Lead.get().id}"):
        html = admin.get(page).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_unknown_or_inactive_keys_are_404(app):
    """C3: only an active source's key opens the endpoint."""
    with app.app_context():
        form = make_source(active=False)
    client = app.test_client()
    assert post(client, form).status_code == 404
    assert client.post("/capture/no-such-key", data=person()).status_code == 404


def test_submissions_are_rate_limited_per_source_and_client(backend, database_urls, redis_url, tmp_root):
    """C3: too many submissions from one client to one source → 429; another source is not affected."""
    from tests.conftest import make_app

    app = make_app(database_urls[backend], redis_url, tmp_root, CAPTURE_LIMIT="2 per minute")
    with app.app_context():
        one, two = make_source(name="One"), make_source(name="Two")
    client = app.test_client()
    assert [post(client, one).status_code for _ in range(3)] == [303, 303, 429]
    assert post(client, two).status_code == 303
    other_client = {"REMOTE_ADDR": "10.9.8.7"}
    assert post(client, one, environ_base=other_client).status_code == 303


# --------------------------------------------------------------------------- answers, C5


def test_answers_for_htmx_and_json_clients(app):
    """C3: an htmx post gets a fragment, a JSON client a JSON answer."""
    with app.app_context():
        form = make_source()
    client = app.test_client()
    fragment = post(client, form, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and 'id="capture-answer"' in fragment.get_data(as_text=True)
    answer = post(client, form, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.get_json() == {"status": "received"}
    refused = post(client, form, person(consent="no"), headers={"HX-Request": "true"})
    assert refused.status_code == 400 and "Consent is required" in refused.get_data(as_text=True)


def test_external_lead_gen_payload_is_mapped(app):
    """C5: an ad platform's JSON payload goes through the source's field mapping."""
    with app.app_context():
        hook = make_source(
            name="Ads",
            kind="webhook",
            field_mapping=manage.parse_mapping(
                '{"full_email": "email", "given": "first_name", "gdpr_ok": "consent", "tel": "phone"}'
            ),
        )
    payload = {
        "full_email": "lin@example.test",
        "given": "Lin",
        "gdpr_ok": True,
        "tel": "+44 20 7946 0018",
        "ad_id": "A1",
    }
    response = app.test_client().post(f"/capture/{hook.key}", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    contact = Contact.get()
    assert (contact.email, contact.first_name, contact.phone) == ("lin@example.test", "Lin", "+442079460018")
    assert Interaction.get().properties["answers"] == {"ad_id": "A1"}
    with app.app_context(), pytest.raises(manage.IntakeError):
        manage.parse_mapping('{"x": "password_hash"}')


# --------------------------------------------------------------------------- C6


def test_a_c6_rule_creates_one_lead_only_once(app):
    """C6, E2: interacting with a campaign creates a lead when the contact has no open
    lead for it — once, however many interactions follow."""
    line = make_product_line()
    campaign = make_campaign("Spring launch", product_line=line)
    contact = make_contact()
    with app.app_context():
        manage.save_rule("Spring interest", campaign.id, None, [])
        items = [
            {
                "type": "email_clicked",
                "external_id": f"c-{n}",
                "contact_id": contact.id,
                "properties": {"campaign_id": campaign.id},
            }
            for n in range(3)
        ]
        record_interactions(items[:2], make_user("admin"))
        record_interactions(items[2:], make_user("admin"))
        # another contact, no campaign: nothing
        record_interactions(
            [{"type": "web_visit", "external_id": "v", "contact_id": make_contact().id}], make_user("admin")
        )
    [lead] = Lead.select()
    assert (lead.contact_id, lead.campaign_id, lead.product_line_id) == (contact.id, campaign.id, line.id)
    note = LeadHistory.get((LeadHistory.lead == lead.id) & (LeadHistory.kind == "match")).note
    assert "Created automatically by rule Spring interest" in note and "C6" not in note  # no SPEC id in page text
    assert PendingScore.select().where(PendingScore.lead == lead.id).exists()  # S4: it gets scored


def test_a_c6_rule_on_a_capture_source_without_leads(app):
    """C6 + C3: a form that creates no lead, on a campaign with a rule, still gives one lead."""
    campaign = make_campaign("Ebook")
    with app.app_context():
        AutoLeadRule.create(name="Ebook readers", campaign=campaign.id, interaction_types=["form_submitted"])
        form = make_source(creates_lead=False, campaign_id=campaign.id)
    client = app.test_client()
    post(client, form)
    post(client, form)
    [lead] = Lead.select()
    assert lead.campaign_id == campaign.id and lead.contact_id == Contact.get().id


# --------------------------------------------------------------------------- timeline, UI, roles


def test_the_match_reason_is_on_the_lead_timeline(app):
    """M4: the lead page shows why the submission matched (or created) records."""
    with app.app_context():
        form = make_source(name="Demo request")
    client = app.test_client()
    post(client, form)
    post(client, form)
    admin = login(app.test_client(), make_user("admin"))
    html = admin.get(f"/leads/{Lead.get().id}").get_data(as_text=True)
    assert "Matched lead #" in html and "email + source" in html and "New record:" in html
    assert "capture: Demo request" in html


def test_strategies_are_managed_with_one_default_per_entity(app):
    """M1–M3: marketers create strategies; a new default replaces the old one; the
    database refuses two defaults; a source without a choice uses the default."""
    marketer = login(app.test_client(), make_user("marketer"))
    assert marketer.get("/intake/strategies").status_code == 200
    token = csrf_token(marketer)
    response = marketer.post(
        "/intake/strategies",
        data={
            "name": "Lead by email",
            "entity": "lead",
            "fields": "email",
            "is_default": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    defaults = MatchingStrategyRecord.select().where(
        (MatchingStrategyRecord.entity == LEAD) & (MatchingStrategyRecord.is_default == True)  # noqa: E712
    )
    assert [s.name for s in defaults] == ["Lead by email"]
    bad = marketer.post(
        "/intake/strategies",
        data={"name": "Broken", "entity": "contact", "fields": "email, shoe_size", "csrf_token": token},
    )
    assert bad.status_code == 422 and "Not a contact field: shoe_size" in bad.get_data(as_text=True)
    with app.app_context(), pytest.raises(pw.IntegrityError):
        from leads.base.db import db

        with db.atomic():
            MatchingStrategyRecord.create(name="Second", entity=LEAD, fields=["email"], is_default=True)
    with app.app_context():
        assert [s.name for s in load_strategies(LEAD)] == ["Lead by email"]


def test_changing_a_strategy_rebuilds_its_keys(app):
    """M1: a strategy's keys follow its fields (records already stored included)."""
    make_contact(email="kim@example.test", last_name="Kim")
    with app.app_context():
        row = manage.save_strategy("By last name", CONTACT, ["last_name"], False)
        assert MatchKey.select().where(MatchKey.strategy == str(row.id)).count() == 1
        manage.save_strategy("By last name", CONTACT, ["email", "last_name"], False, row)
        [key] = MatchKey.select().where(MatchKey.strategy == str(row.id))
        assert key.key == '["kim@example.test","kim"]'


def test_sources_are_managed_by_marketers_with_endpoint_and_example(app):
    """C3–C5: a marketer adds a source and sees its public endpoint and an example form."""
    marketer = login(app.test_client(), make_user("marketer"))
    token = csrf_token(marketer)
    response = marketer.post(
        "/intake/sources",
        data={
            "name": "Trial",
            "kind": "event",
            "event_id": "",
            "update_policy": FILL_EMPTY,
            "campaign": "",
            "product_line": "",
            "creates_lead": "y",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422 and "needs the event" in response.get_data(as_text=True)
    response = marketer.post(
        "/intake/sources",
        data={
            "name": "Trial",
            "kind": "form",
            "update_policy": FILL_EMPTY,
            "campaign": "",
            "product_line": "",
            "creates_lead": "y",
            "active": "y",
            "field_mapping": "",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    source = CaptureSource.get()
    assert len(source.key) >= 30
    page = marketer.get(response.headers["Location"]).get_data(as_text=True)
    assert f"/capture/{source.key}" in page
    assert '&lt;input name="consent"' in page and '<input name="consent"' not in page  # shown, not a form


@pytest.mark.parametrize("path", ["/intake/strategies", "/intake/sources", "/intake/rules"])
def test_reps_are_refused_the_management_pages(app, path):
    """G1, G2: reps (and managers, teleprospectors) cannot manage intake; the public
    capture endpoint needs no sign-in."""
    for role in ("rep", "manager", "teleprospector"):
        client = login(app.test_client(), make_user(role))
        assert client.get(path).status_code == 403
        assert client.post(path, headers={"X-CSRFToken": csrf_token(client)}).status_code == 403
    with app.app_context():
        form = make_source()
    assert post(app.test_client(), form).status_code == 303


def test_the_capture_endpoint_carries_the_security_headers(app):
    """G1: the public answers carry the CSP and friends too."""
    with app.app_context():
        form = make_source()
    for response in (post(app.test_client(), form), post(app.test_client(), form, person(consent=""))):
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_key_gone_stale_never_decides_a_match(app):
    """M1: a contact whose email was edited elsewhere no longer matches its old
    email; once re-indexed (``index_records``) it matches its new one."""
    with app.app_context():
        form = make_source(creates_lead=False)
    client = app.test_client()
    post(client, form, person(email="old@example.test"))
    contact = Contact.get()
    Contact.update(email="new@example.test").where(Contact.id == contact.id).execute()  # a hand edit
    post(client, form, person(email="old@example.test"))
    assert Contact.select().count() == 2  # the old address is somebody new now
    with app.app_context():
        index_records(CONTACT, [contact.id])
    post(client, form, person(email="NEW@example.test"))
    assert Contact.select().count() == 2
    assert Interaction.select().where(Interaction.contact == contact.id).count() == 2
