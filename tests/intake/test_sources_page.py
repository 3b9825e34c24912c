"""Capture sources after "Add source" (SPEC C3–C5), on SQLite and PostgreSQL:
the list stays, with the new source's endpoint, built from ``PUBLIC_URL``
rather than the request's host, and an HTML form to embed; an external
lead-gen source's field mapping is edited as rows (their field → ours) and
round-trips."""

from __future__ import annotations

import re

from leads.core.matching import FILL_EMPTY
from leads.intake.models import CaptureSource
from tests.factories import csrf_token, login, make_user

HX = {"HX-Request": "true"}


def source_form(name, kind="form", rows=(), **more):
    data = {
        "name": name,
        "kind": kind,
        "event_id": "",
        "update_policy": FILL_EMPTY,
        "campaign": "",
        "product_line": "",
        "creates_lead": "y",
        "active": "y",
    }
    for index, (theirs, ours) in enumerate(rows):
        data |= {f"field_mapping-{index}-theirs": theirs, f"field_mapping-{index}-ours": ours}
    return data | more


def post(client, path, data, htmx=True):
    headers = {"X-CSRFToken": csrf_token(client), **(HX if htmx else {})}
    return client.post(path, data=data, headers=headers)


def test_c3_after_add_source_the_list_stays_with_the_endpoint_from_public_url_and_a_snippet(app):
    app.config["PUBLIC_URL"] = "https://crm.example.com/leadflow"
    marketer = login(app.test_client(), make_user("marketer"))
    post(marketer, "/intake/sources", source_form("Webinar page"))
    answer = post(marketer, "/intake/sources", source_form("Trial page"))
    page = answer.get_data(as_text=True)
    source = CaptureSource.get(CaptureSource.name == "Trial page")
    assert answer.status_code == 200 and 'id="sources"' in page
    assert "Webinar page" in page and "Trial page" in page  # the list, not the source's own page
    endpoint = f"https://crm.example.com/leadflow/capture/{source.key}"
    added = re.search(r'<section class="card" id="source-added">(.*?)</section>', page, re.S).group(1)
    assert f'<code class="intake-url">{endpoint}</code>' in added
    assert f"&lt;form method=&#34;post&#34; action=&#34;{endpoint}&#34;&gt;" in added or (
        f'&lt;form method="post" action="{endpoint}"&gt;' in added
    )
    assert "localhost/capture" not in page  # not the host the request came to
    assert "set <code>PUBLIC_URL</code>" not in page
    # Without htmx: post, redirect, and the same list with the same endpoint.
    plain = post(marketer, "/intake/sources", source_form("Fair page"), htmx=False)
    assert plain.status_code == 302 and "/intake/sources?added=" in plain.headers["Location"]
    listing = marketer.get(plain.headers["Location"]).get_data(as_text=True)
    fair = CaptureSource.get(CaptureSource.name == "Fair page")
    assert f"https://crm.example.com/leadflow/capture/{fair.key}" in listing and "Webinar page" in listing


def test_c3_without_public_url_the_page_says_to_set_it(app):
    app.config["PUBLIC_URL"] = None
    marketer = login(app.test_client(), make_user("marketer"))
    page = post(marketer, "/intake/sources", source_form("Trial page")).get_data(as_text=True)
    assert "set <code>PUBLIC_URL</code>" in page


def test_c5_the_field_mapping_is_edited_as_rows_and_round_trips(app):
    marketer = login(app.test_client(), make_user("marketer"))
    blank = marketer.get("/intake/sources").get_data(as_text=True)
    assert 'name="field_mapping-0-theirs"' in blank and 'name="field_mapping-2-ours"' in blank
    assert "<textarea" not in blank
    rows = [("full_email", "email"), ("given", "first_name"), ("gdpr_ok", "consent"), ("", "")]
    answer = post(marketer, "/intake/sources", source_form("Ads", "webhook", rows))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    source = CaptureSource.get(CaptureSource.name == "Ads")
    assert source.field_mapping == {"full_email": "email", "given": "first_name", "gdpr_ok": "consent"}
    edit = marketer.get(f"/intake/sources/{source.id}").get_data(as_text=True)
    assert re.search(r'name="field_mapping-0-theirs"[^>]*value="full_email"', edit)
    assert re.search(
        r'name="field_mapping-1-ours"[^>]*>.*?<option selected value="first_name"', edit, re.S
    ) or (re.search(r'<option[^>]*value="first_name"[^>]*selected', edit))
    assert 'name="field_mapping-5-theirs"' in edit  # three empty rows under the stored three
    changed = post(
        marketer,
        f"/intake/sources/{source.id}",
        source_form("Ads", "webhook", [("full_email", "email"), ("tel", "phone")]),
    )
    assert changed.status_code == 200
    assert CaptureSource.get_by_id(source.id).field_mapping == {"full_email": "email", "tel": "phone"}


def test_c5_a_half_filled_or_repeated_row_is_refused_inline(app):
    marketer = login(app.test_client(), make_user("marketer"))
    half = post(marketer, "/intake/sources", source_form("Ads", "webhook", [("full_email", "")]))
    assert half.status_code == 422 and "Each row needs their field and ours." in half.get_data(as_text=True)
    twice = post(
        marketer, "/intake/sources", source_form("Ads", "webhook", [("mail", "email"), ("mail", "phone")])
    )
    assert twice.status_code == 422 and "Their field &#39;mail&#39; is mapped twice." in twice.get_data(
        as_text=True
    )
    assert not CaptureSource.select().exists()
