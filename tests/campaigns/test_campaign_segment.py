"""The campaign's audience segment builder (G1, G2), on SQLite and PostgreSQL:
marketers build the segment from rows (field, operator, value) joined by AND or
OR, add and remove rows by re-rendering the form (what was typed is kept),
see each row's error next to it and the audience size live; the stored
segment is the JSON ``Campaign.segment`` the launch reads; reps are refused
every builder route."""

from __future__ import annotations

import re

from auth.models import MARKETER, REP
from campaigns import launch as campaigns
from leads.records.models import Campaign
from tests.factories import csrf_token, login, make_account, make_contact, make_user

FR = {"entity": "contact", "field": "country", "operator": "equals", "value": "FR"}
BIG = {"entity": "account", "field": "employee_count", "operator": "gte", "value": "100"}


def signed_in(app, role: str):
    user = make_user(role)
    client = login(app.test_client(), user)
    client.user, client.token = user, csrf_token(client)
    return client


def hx_post(client, path: str, data: dict | None = None):
    return client.post(path, data=data or {}, headers={"HX-Request": "true", "X-CSRFToken": client.token})


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(*conditions: dict, op: str = "and") -> dict:
    """The builder's form fields for ``conditions`` (one row each)."""
    data = {"segment_op": op}
    for index, condition in enumerate(conditions):
        data[f"segment-{index}-subject"] = f"{condition['entity']}.{condition['field']}"
        data[f"segment-{index}-operator"] = condition["operator"]
        data[f"segment-{index}-value"] = condition.get("value") or ""
    return data


def row_html(page: str, index: int) -> str:
    """The markup of the builder's row ``index`` (up to the next row or the add button)."""
    match = re.search(
        rf'<div class="rule-row segment-row" id="segment-{index}">(.*?)(?=<div class="rule-row|Add condition)',
        page,
        re.S,
    )
    assert match, f"no row {index}"
    return match.group(1)


def selected(page: str, index: int, name: str) -> str | None:
    match = re.search(
        rf'<select[^>]*name="segment-{index}-{name}"[^>]*>.*?<option selected value="([^"]*)"', page, re.S
    )
    return match and match.group(1)


def typed_value(page: str, name: str) -> str | None:
    """The value of the text input ``name`` as rendered."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return match and match.group(1)


def audience_world():
    """Two French contacts of a big account, one French of a small one, one German
    of a big one, and one French contact without an email."""
    big, small = make_account(employee_count=500), make_account(employee_count=10)
    return {
        "fr_big": [make_contact(country="FR", account=big), make_contact(country="FR", account=big)],
        "fr_small": make_contact(country="FR", account=small),
        "de_big": make_contact(country="DE", account=big),
        "no_email": make_contact(country="FR", account=big, email=None),
    }


# --- Building a segment from rows --------------------------------------------------------


def test_g2_a_marketer_builds_a_two_row_segment_and_the_launch_audience_follows_it(app):
    """G2: rows are added through the builder (the name typed so far is kept), two
    conditions are saved as the JSON segment the launch reads."""
    world = audience_world()
    marketer = signed_in(app, MARKETER)
    page = text(marketer.get("/marketing/campaigns"))
    assert "No conditions: every contact with an email." in page and 'name="segment"' not in page

    typed = {"name": "Big French", "product_line": "", "subject": "Hello", "body": "Hi there"}
    one = hx_post(marketer, "/marketing/campaigns/new/rows", {**typed, "row": "add:segment"})
    assert one.status_code == 200
    assert selected(text(one), 0, "subject") == "contact.country"
    assert 'value="Big French"' in text(one) and "Hi there" in text(one)
    two = hx_post(marketer, "/marketing/campaigns/new/rows", {**typed, **rows(FR), "row": "add:segment"})
    page = text(two)
    assert 'id="segment-1"' in page and typed_value(page, "segment-0-value") == "FR"
    assert Campaign.select().count() == 0  # nothing is saved while editing

    created = hx_post(marketer, "/marketing/campaigns", {**typed, **rows(FR, BIG)})
    assert created.status_code == 200, text(created)
    campaign = Campaign.get(Campaign.name == "Big French")
    assert campaign.segment == {"op": "and", "items": [FR, BIG]}
    members = {m.contact_id for m in campaigns.audience(campaign)}
    assert members == {c.id for c in world["fr_big"]}


def test_g2_an_or_segment_and_no_rows_mean_any_and_everyone(app):
    """G2: OR joins the rows; a campaign without rows has no segment (everyone with an email)."""
    audience_world()
    marketer = signed_in(app, MARKETER)
    base = {"product_line": "", "subject": "", "body": ""}
    assert (
        hx_post(
            marketer, "/marketing/campaigns", {**base, "name": "Any", **rows(FR, BIG, op="or")}
        ).status_code
        == 200
    )
    assert hx_post(marketer, "/marketing/campaigns", {**base, "name": "All"}).status_code == 200
    either = Campaign.get(Campaign.name == "Any")
    assert either.segment == {"op": "or", "items": [FR, BIG]}
    assert len(campaigns.audience(either)) == 4
    assert Campaign.get(Campaign.name == "All").segment is None


def test_g2_an_invalid_row_shows_its_error_next_to_it_and_nothing_is_saved(app):
    """G2: the segment validator's errors appear in the row they concern."""
    marketer = signed_in(app, MARKETER)
    bad = dict(BIG, value="lots")
    answer = hx_post(
        marketer,
        "/marketing/campaigns",
        {"name": "Broken", "product_line": "", **rows(FR, bad, {**FR, "value": ""})},
    )
    assert answer.status_code == 422
    page = text(answer)
    assert "field-error" not in row_html(page, 0)
    assert "Enter a number." in row_html(page, 1) and "has-error" in row_html(page, 1)
    assert "Enter a value." in row_html(page, 2)
    assert typed_value(page, "segment-1-value") == "lots"  # what was typed stays
    assert Campaign.select().count() == 0


# --- Audience size -----------------------------------------------------------------------


def test_g2_the_audience_size_is_counted_live_from_the_rows_being_typed(app):
    """G2: a GET with the builder's fields answers how many contacts (with an
    email) the segment selects, as the launch would; nothing is saved."""
    audience_world()
    marketer = signed_in(app, MARKETER)
    counted = marketer.get(
        "/marketing/campaigns/new/audience", query_string=rows(FR, BIG), headers={"HX-Request": "true"}
    )
    assert counted.status_code == 200
    assert re.search(r"<strong>2</strong> contacts match", text(counted))
    assert "<html" not in text(counted)  # the inside of #audience-count only
    anyone = marketer.get("/marketing/campaigns/new/audience", query_string=rows(FR, BIG, op="or"))
    assert "<strong>4</strong> contacts match" in text(anyone)
    everyone = marketer.get("/marketing/campaigns/new/audience")
    assert "<strong>4</strong> contacts match" in text(everyone)
    one = marketer.get("/marketing/campaigns/new/audience", query_string=rows({**FR, "value": "DE"}))
    assert "<strong>1</strong> contact matches" in text(one)
    broken = marketer.get("/marketing/campaigns/new/audience", query_string=rows({**FR, "value": ""}))
    assert broken.status_code == 200 and "Complete or fix the conditions" in text(broken)
    assert Campaign.select().count() == 0


def test_g2_a_campaign_page_counts_its_audience_like_the_launch_page(app):
    """G2: on a draft's page the count matches the launch confirmation's audience size."""
    audience_world()
    campaign = Campaign.create(name="Big", segment={"op": "and", "items": [BIG]}, subject="S", body="B")
    marketer = signed_in(app, MARKETER)
    page = text(marketer.get(f"/marketing/campaigns/{campaign.id}"))
    assert f'hx-get="/marketing/campaigns/{campaign.id}/audience"' in page
    counted = marketer.get(f"/marketing/campaigns/{campaign.id}/audience", query_string=rows(BIG))
    assert "<strong>3</strong> contacts match" in text(counted)
    confirm = text(marketer.get(f"/marketing/campaigns/{campaign.id}/launch"))
    assert re.search(r'id="audience-size">3<', confirm)


# --- Editing keeps the rows -----------------------------------------------------------------


def test_g2_editing_shows_the_stored_rows_and_removing_one_keeps_the_others(app):
    """G2: the edit form is filled from the stored segment; removing a row keeps
    the other rows and the edits typed so far; saving stores what is shown."""
    campaign = Campaign.create(
        name="Edit me", segment={"op": "or", "items": [FR, BIG]}, subject="S", body="B"
    )
    marketer = signed_in(app, MARKETER)
    path = f"/marketing/campaigns/{campaign.id}"
    page = text(marketer.get(path))
    assert (
        selected(page, 0, "subject") == "contact.country"
        and selected(page, 1, "subject") == "account.employee_count"
    )
    assert selected(page, 1, "operator") == "gte" and typed_value(page, "segment-1-value") == "100"
    assert re.search(r'name="segment_op"[^>]*>.*?<option selected value="or"', page, re.S)

    typed = {"name": "Edit me", "product_line": "", "subject": "New subject", "body": "B"}
    edited_big = {**BIG, "value": "250"}
    removed = hx_post(
        marketer, f"{path}/rows", {**typed, **rows(FR, edited_big, op="or"), "row": "remove:segment-0"}
    )
    page = text(removed)
    assert removed.status_code == 200 and 'id="segment-1"' not in page
    assert selected(page, 0, "subject") == "account.employee_count" and 'value="250"' in page
    assert 'value="New subject"' in page
    assert Campaign.get_by_id(campaign.id).segment == {"op": "or", "items": [FR, BIG]}  # not saved yet

    saved = hx_post(marketer, path, {**typed, **rows(edited_big, op="or")})
    assert saved.status_code == 200 and "Changes saved." in text(saved)
    stored = Campaign.get_by_id(campaign.id)
    assert stored.segment == {"op": "or", "items": [edited_big]} and stored.subject == "New subject"


def test_g2_a_nested_segment_from_the_api_is_kept_when_the_form_is_saved(app):
    """G2: a segment with nested groups (API only) is not shown as rows and is
    left unchanged when the marketer saves the other fields."""
    nested = {"op": "or", "items": [FR, {"op": "and", "items": [BIG, {**FR, "value": "DE"}]}]}
    campaign = Campaign.create(name="Nested", segment=nested, subject="S", body="B")
    audience_world()
    marketer = signed_in(app, MARKETER)
    path = f"/marketing/campaigns/{campaign.id}"
    assert "cannot be edited here" in text(marketer.get(path))
    counted = marketer.get(f"{path}/audience")
    assert "<strong>4</strong> contacts match" in text(counted)  # 3 French + the big German
    saved = hx_post(marketer, path, {"name": "Nested", "product_line": "", "subject": "Changed", "body": "B"})
    assert saved.status_code == 200
    stored = Campaign.get_by_id(campaign.id)
    assert stored.segment == nested and stored.subject == "Changed"


def test_g2_a_launched_campaign_shows_its_segment_and_refuses_row_changes(app):
    """G2: once launched the segment is read-only: the rows route answers 409."""
    campaign = Campaign.create(
        name="Gone", segment={"op": "and", "items": [FR]}, subject="S", body="B", status="launched"
    )
    marketer = signed_in(app, MARKETER)
    page = text(marketer.get(f"/marketing/campaigns/{campaign.id}"))
    assert "Contacts that match all of:" in page and 'name="segment-0-subject"' not in page
    refused = hx_post(
        marketer, f"/marketing/campaigns/{campaign.id}/rows", {**rows(FR), "row": "add:segment"}
    )
    assert refused.status_code == 409
    assert Campaign.get_by_id(campaign.id).segment == {"op": "and", "items": [FR]}


# --- G1/G2: reps are refused -------------------------------------------------------------


def test_g1_g2_reps_are_refused_every_segment_builder_route(app):
    """G1, G2: a rep gets 403 on the row and audience routes, page and htmx alike,
    and nothing changes."""
    campaign = Campaign.create(name="Spring", segment={"op": "and", "items": [FR]}, subject="S", body="B")
    make_contact(country="FR")
    rep = signed_in(app, REP)
    answers = []
    for extra in ({}, {"HX-Request": "true"}):
        headers = {"X-CSRFToken": rep.token, **extra}
        for path in ("/marketing/campaigns/new/rows", f"/marketing/campaigns/{campaign.id}/rows"):
            answers.append(
                rep.post(path, data={**rows(FR, BIG), "row": "add:segment"}, headers=headers).status_code
            )
        for path in ("/marketing/campaigns/new/audience", f"/marketing/campaigns/{campaign.id}/audience"):
            answers.append(rep.get(path, query_string=rows(FR), headers=headers).status_code)
        answers.append(
            rep.post(
                f"/marketing/campaigns/{campaign.id}", data={"name": "X", **rows(BIG)}, headers=headers
            ).status_code
        )
    assert answers == [403] * 10
    assert Campaign.get_by_id(campaign.id).segment == {"op": "and", "items": [FR]}
