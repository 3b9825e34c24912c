"""CSV import (C2, through M1–M5) and the lead list's CSV export, over HTTP with
a real RQ worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import os
import re

import pytest

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR
from leads.base.models import BackgroundTask
from leads.core import lifecycle, validation
from leads.imports.models import DONE, Import, ImportFile, ImportRowError
from leads.records.models import Account, Contact, Lead, LeadHistory
from tests.factories import csrf_token, login, make_contact, make_lead, make_user

CONTACTS_CSV = (
    "First name,Last name,E-mail,Phone,Company,Country\r\n"
    "Ada,Lovelace,ada@example.test,+44 20 7946 0018,Analytical Engines,GB\r\n"
    "Grace,Hopper,GRACE@example.test,,Navy,US\r\n"
    "Alan,Turing,alan@example.test,,Analytical Engines,GB\r\n"
)


def _signed_in(app, role=MARKETER):
    client = app.test_client()
    user = make_user(role)
    login(client, user)
    return client, user


def _upload(client, content: bytes, entity="contact", filename="people.csv"):
    return client.post(
        "/imports/",
        data={
            "csrf_token": csrf_token(client, "/imports/"),
            "entity": entity,
            "file": (io.BytesIO(content), filename),
        },
        content_type="multipart/form-data",
    )


def _uploaded(client, content: bytes, entity="contact") -> Import:
    response = _upload(client, content, entity)
    assert response.status_code == 302, response.get_data(as_text=True)
    import_id = int(re.search(r"/imports/(\d+)$", response.headers["Location"]).group(1))
    return Import.get_by_id(import_id)


def _form(client, upload: Import, mapping=None, **extra) -> dict:
    mapping = {**upload.mapping, **(mapping or {})}
    data = {"csrf_token": csrf_token(client, "/imports/"), "update_policy": "fill_empty"}
    for number, header in enumerate(upload.headers):
        data[f"col_{number}"] = mapping.get(header) or ""
    if upload.entity == "lead":
        data.update(topic="Spring webinar", source="webinar-list")
    data.update(extra)
    return data


def _start(client, upload: Import, mapping=None, **extra):
    return client.post(f"/imports/{upload.id}/start", data=_form(client, upload, mapping, **extra))


def _import(app, client, run_jobs, content: bytes, entity="contact", mapping=None, **extra) -> Import:
    upload = _uploaded(client, content, entity)
    response = _start(client, upload, mapping, **extra)
    assert response.status_code == 302, response.get_data(as_text=True)
    run_jobs()
    return Import.get_by_id(upload.id)


def _counts(upload: Import) -> tuple[int, int, int, int]:
    return upload.created, upload.updated, upload.unchanged, upload.failed


def _report(client, upload: Import) -> list[list[str]]:
    response = client.get(f"/imports/{upload.id}/errors.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# --- Happy paths -------------------------------------------------------------------


def test_c2_m1_m5_contacts_import_creates_then_a_rerun_changes_nothing(app, run_jobs):
    client, user = _signed_in(app)
    page = client.get(f"/imports/{_uploaded(client, CONTACTS_CSV.encode()).id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<option selected value="email">' in html  # guessed from "E-mail"
    assert "UTF-8, comma-separated" in html

    first = _import(app, client, run_jobs, CONTACTS_CSV.encode())
    assert first.status == DONE
    assert _counts(first) == (3, 0, 0, 0)
    task = BackgroundTask.get_by_id(first.task_id)
    assert (task.status, task.total, task.done) == ("done", 3, 3)
    ada = Contact.get(Contact.email == "ada@example.test")
    assert (ada.first_name, ada.phone, ada.country) == ("Ada", "+442079460018", "GB")
    assert ada.account.name == "Analytical Engines"
    turing = Contact.get(Contact.email == "alan@example.test")
    assert turing.account_id == ada.account_id  # one account per company name
    assert Account.select().count() == 2

    again = _import(app, client, run_jobs, CONTACTS_CSV.encode())
    assert _counts(again) == (0, 0, 3, 0)
    assert Contact.select().count() == 3
    assert Account.select().count() == 2
    progress = client.get(f"/imports/{again.id}/progress").get_data(as_text=True)
    assert "<progress" in progress and 'value="3"' in progress
    assert "hx-trigger" not in progress  # done: the polling stops


def test_c2_m4_matched_contact_is_updated_per_policy_never_blanked(app, run_jobs):
    client, _user = _signed_in(app)
    existing = make_contact(email="Ada@Example.test", first_name="Ada", last_name="", phone=None)
    content = b"email,first name,last name,phone\nada@example.test,Augusta,Lovelace,+33 1 23 45 67 89\n"
    done = _import(app, client, run_jobs, content)
    assert _counts(done) == (0, 1, 0, 0)
    fresh = Contact.get_by_id(existing.id)
    # fill_empty: the blank last name and phone are filled, the first name is kept
    assert (fresh.first_name, fresh.last_name, fresh.phone) == ("Ada", "Lovelace", "+33123456789")

    overwrite = _import(app, client, run_jobs, content, update_policy="overwrite")
    assert _counts(overwrite) == (0, 1, 0, 0)
    assert Contact.get_by_id(existing.id).first_name == "Augusta"
    blank = _import(
        app, client, run_jobs, b"email,first name\nada@example.test,\n", update_policy="overwrite"
    )
    assert _counts(blank) == (0, 0, 1, 0)
    assert Contact.get_by_id(existing.id).first_name == "Augusta"


def test_c2_m2_m4_leads_import_links_the_existing_contact_and_reruns_change_nothing(app, run_jobs):
    client, _user = _signed_in(app)
    contact = make_contact(email="ada@example.test")
    content = b"Email,First name,Last name,Company\nada@example.test,Ada,Lovelace,Engines\nbob@example.test,Bob,Byte,Bits\n"
    done = _import(app, client, run_jobs, content, entity="lead")
    assert _counts(done) == (2, 0, 0, 0)
    ada_lead = Lead.get(Lead.email == "ada@example.test")
    assert (ada_lead.topic, ada_lead.source, ada_lead.contact_id) == (
        "Spring webinar",
        "webinar-list",
        contact.id,
    )
    bob_lead = Lead.get(Lead.email == "bob@example.test")
    assert bob_lead.contact.email == "bob@example.test"  # the person became a contact
    assert bob_lead.account.name == "Bits"
    notes = [
        h.note
        for h in LeadHistory.select().where(LeadHistory.lead == ada_lead.id, LeadHistory.kind == "match")
    ]
    assert notes and "New record" in notes[0]

    again = _import(app, client, run_jobs, content, entity="lead")
    assert _counts(again) == (0, 0, 2, 0)
    other_source = _import(app, client, run_jobs, content, entity="lead", source="trade-show")
    assert _counts(other_source) == (2, 0, 0, 0)  # M2: another source form is another lead
    assert Lead.select().where(Lead.contact == contact.id).count() == 2
    assert Contact.select().count() == 2


def test_c2_accounts_import_matches_on_domain_then_name(app, run_jobs):
    client, _user = _signed_in(app)
    content = b"Company,Website,Employees\nAcme,https://www.acme.test/about,1 200\nGlobex,,50\n"
    done = _import(app, client, run_jobs, content, entity="account")
    assert _counts(done) == (2, 0, 0, 0)
    acme = Account.get(Account.name == "Acme")
    assert (acme.domain, acme.employee_count) == ("acme.test", 1200)
    renamed = b"Company,Website,Employees\nACME Inc,acme.test,1200\nglobex,,50\n"
    again = _import(app, client, run_jobs, renamed, entity="account")
    assert _counts(again) == (0, 0, 2, 0)  # acme by domain, globex by name
    assert Account.select().count() == 2


@pytest.mark.parametrize(
    "encoded, described",
    [
        ("\ufeffFirst name,Email\nÉlodie,elodie@example.test\n".encode(), "UTF-8 (BOM), comma"),
        ("First name;Email\nÉlodie;elodie@example.test\n".encode(), "UTF-8, semicolon"),
        ("First name\tEmail\nÉlodie\telodie@example.test\n".encode("latin-1"), "CP1252, tab"),
    ],
    ids=["utf8-bom-comma", "utf8-semicolon", "latin1-tab"],
)
def test_c2_encodings_and_delimiters_are_detected(app, run_jobs, encoded, described):
    client, _user = _signed_in(app)
    upload = _uploaded(client, encoded)
    assert described in client.get(f"/imports/{upload.id}").get_data(as_text=True)
    done = _import(app, client, run_jobs, encoded)
    assert _counts(done) == (1, 0, 0, 0)
    assert Contact.get(Contact.email == "elodie@example.test").first_name == "Élodie"


# --- Bad input ---------------------------------------------------------------------


def test_c2_malformed_rows_are_reported_with_line_and_reason_the_rest_imported(app, run_jobs):
    client, _user = _signed_in(app)
    content = (
        b"email,first name,country\n"
        b"ok@example.test,Ok,FR\n"
        b"not-an-email,Bad,FR\n"
        b"ragged@example.test,Too,FR,many,values\n"
        b'"quoted\nnewline@example.test",Multi,FR\n'
        b"country@example.test,Bad country,France\n"
        b"=cmd|' /C calc'!A0@example.test,=HYPERLINK(\"http://evil\"),FR\n"
        b"last@example.test,Last,DE\n"
    )
    done = _import(app, client, run_jobs, content)
    assert done.status == DONE
    assert (done.created, done.failed) == (2, 5)
    assert {c.email for c in Contact.select()} == {"ok@example.test", "last@example.test"}
    rows = _report(client, done)
    assert rows[0][:3] == ["Line", "Field", "Reason"]
    by_line = {int(r[0]): r for r in rows[1:]}
    assert by_line[3][1:3] == ["Email", validation.EMAIL_REASON]
    assert "values" in by_line[4][2] and by_line[4][-1] == "many | values"  # extra values column
    assert by_line[5][1] == "Email"  # the quoted value spans two lines: still line 5
    assert by_line[7][1] == "Country (ISO-2)"
    assert by_line[8][3].startswith("'=cmd")  # formula neutralised
    assert by_line[8][4].startswith("'=HYPERLINK")
    assert ImportRowError.select().where(ImportRowError.upload == done.id).count() == 5


def test_c2_missing_required_column_is_reported_inline_and_refused(app, run_jobs):
    client, _user = _signed_in(app)
    upload = _uploaded(client, b"First name,Last name\nAda,Lovelace\n")
    html = client.get(f"/imports/{upload.id}").get_data(as_text=True)
    assert "Map a column to Email (required)." in html
    assert "email: required" in html.lower() or "Email: required" in html
    response = _start(client, upload)
    assert response.status_code == 422
    assert "Map a column to Email (required)." in response.get_data(as_text=True)
    assert Import.get_by_id(upload.id).status == "mapping"
    assert BackgroundTask.select().count() == 0
    lead_upload = _uploaded(client, b"Email\nx@example.test\n", entity="lead")
    refused = _start(client, lead_upload, topic="")
    assert "Map a column to Topic (required)." in refused.get_data(as_text=True)


def test_c2_ten_megabytes_of_garbage_and_oversized_files_are_refused_inline(app):
    client, _user = _signed_in(app)
    garbage = os.urandom(10 * 1024 * 1024)
    response = _upload(client, garbage, filename="garbage.csv")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "not a CSV text file" in html and 'class="field-error"' in html
    too_big = b"email\n" + b"a@example.test\n" * (11 * 1024 * 1024 // 15)
    response = _upload(client, too_big, filename="big.csv")
    assert response.status_code == 422
    assert "the limit is 10 MB" in response.get_data(as_text=True)
    assert _upload(client, b"x" * (41 * 1024 * 1024), filename="huge.csv").status_code == 413
    assert "The file is empty." in _upload(client, b"  \n").get_data(as_text=True)
    assert "Choose a CSV file" in client.post(
        "/imports/", data={"csrf_token": csrf_token(client, "/imports/"), "entity": "contact"}
    ).get_data(as_text=True)
    assert Import.select().count() == 0


def _refused_header(client, content: bytes) -> str:
    """Upload ``content``, check it is refused inline with nothing stored, and
    return the page."""
    response = _upload(client, content, filename="hostile.csv")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="field-error"' in html and 'id="import-upload"' in html
    assert len(html) < 100_000  # the upload page again, no mapping of the file's columns
    stored = [model.select().count() for model in (Import, ImportFile, BackgroundTask)]
    assert stored == [0, 0, 0]
    return html


def test_c2_a_file_with_100000_columns_is_refused_at_upload(app):
    """C2: more than 500 columns gets a 422 saying how many, before any mapping
    page is built, and nothing is stored."""
    client, _user = _signed_in(app)
    header = ",".join(f"column {n}" for n in range(100_000))
    html = _refused_header(client, f"{header}\n{'x,' * 99_999}x\n".encode())
    assert "This file has 100,000 columns; leadflow reads at most 500." in html


def test_c2_a_header_name_over_10000_characters_is_refused_at_upload(app):
    """C2: a column name over 10,000 characters gets a 422 naming the column and
    its length (it was a 500), and nothing is stored."""
    client, _user = _signed_in(app)
    html = _refused_header(client, f"email,{'n' * 20_000},phone\nada@example.test,x,1\n".encode())
    assert "Column 2 of the header row is 20,000 characters long; leadflow reads at most 10,000" in html


@pytest.mark.parametrize("rows", [1, 20_000], ids=["small", "past-the-parser-field-limit"])
def test_c2_an_unterminated_quote_in_the_header_is_refused_at_upload(app, rows):
    """C2: a quote opened in the header row and never closed gets a 422 that says
    so (it was a 500), whether it swallows a few lines or a large file, and
    nothing is stored."""
    client, _user = _signed_in(app)
    content = b'email,"first name,last name\n' + b"ada@example.test,Ada,Lovelace\n" * rows
    html = _refused_header(client, content)
    assert "A quote in the header row is not closed on its line" in html


def test_c2_headers_at_the_limits_still_upload(app):
    """C2: 500 columns, a 10,000-character name and a quoted name over two lines
    (a spreadsheet's line break in a cell) are all still read."""
    client, _user = _signed_in(app)
    names = ["email", '"First\nname"', "n" * 10_000, *(f"extra {n}" for n in range(497))]
    upload = _uploaded(client, (",".join(names) + "\nada@example.test,Ada\n").encode())
    assert len(upload.headers) == 500
    assert upload.headers[:2] == ["email", "First name"] and len(upload.headers[2]) == 10_000
    assert client.get(f"/imports/{upload.id}").status_code == 200


def test_c2_oversized_fields_are_rejected_per_row(app, run_jobs):
    client, _user = _signed_in(app)
    content = (
        "email,first name,job title\n"
        f"huge@example.test,{'x' * 20_000},Engineer\n"
        f"long@example.test,{'y' * 101},Engineer\n"
        "fine@example.test,Fine,Engineer\n"
    ).encode()
    done = _import(app, client, run_jobs, content)
    assert (done.created, done.failed) == (1, 2)
    reasons = {r[0]: r[2] for r in _report(client, done)[1:]}
    assert "over the limit" in reasons["2"]
    assert reasons["3"] == "longer than 100 characters"


def test_c2_script_tags_in_every_field_are_stored_as_text_and_rendered_escaped(app, run_jobs):
    client, _user = _signed_in(app)
    script = "<script>alert(1)</script>"
    content = (
        f"email,first name,last name,job title,company,{script}\n"
        f"x@example.test,{script},{script},{script},{script},{script}\n"
    ).encode()
    upload = _uploaded(client, content)
    html = client.get(f"/imports/{upload.id}").get_data(as_text=True)
    assert script not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    done = _import(app, client, run_jobs, content)
    assert _counts(done) == (1, 0, 0, 0)
    contact = Contact.get(Contact.email == "x@example.test")
    assert (contact.first_name, contact.last_name, contact.job_title) == (script, script, script)
    assert contact.account.name == script
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert script not in page and "&lt;script&gt;" in page
    listing = client.get("/imports/").get_data(as_text=True)
    assert script not in listing


def test_c2_duplicate_rows_inside_one_file_create_one_record(app, run_jobs):
    client, _user = _signed_in(app)
    content = b"email,first name\nsame@example.test,One\nSAME@example.test ,Two\nother@example.test,Three\n"
    done = _import(app, client, run_jobs, content)
    assert (done.created, done.failed) == (2, 1)
    assert Contact.get(Contact.email == "same@example.test").first_name == "One"
    [row] = _report(client, done)[1:]
    assert row[0] == "3" and row[2] == "duplicate of line 2 (same email)"


def test_c2_the_preview_shows_each_cells_error_and_the_mapping_can_be_adjusted(app):
    client, _user = _signed_in(app)
    upload = _uploaded(client, b"Mail,Nickname\nbad-mail,Ada\nok@example.test,Bob\n")
    html = client.get(f"/imports/{upload.id}").get_data(as_text=True)
    assert f'class="cell-error">bad-mail<span class="cell-reason">{validation.EMAIL_REASON}</span>' in html
    response = client.post(
        f"/imports/{upload.id}/mapping",
        data=_form(client, upload, {"Nickname": "first_name"}),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.startswith('<section id="import-mapping"') or 'id="import-mapping"' in fragment[:200]
    assert "<html" not in fragment
    assert Import.get_by_id(upload.id).mapping == {"Mail": "email", "Nickname": "first_name"}
    twice = _form(client, upload, {"Nickname": "email"})
    response = client.post(f"/imports/{upload.id}/mapping", data=twice, headers={"HX-Request": "true"})
    assert "Several columns are mapped to Email" in response.get_data(as_text=True)


def test_c2_the_job_is_queued_once_and_safe_to_run_twice(app, run_jobs):
    from leads.imports.jobs import run_import

    client, _user = _signed_in(app)
    upload = _uploaded(client, CONTACTS_CSV.encode())
    assert _start(client, upload).status_code == 302
    second = _start(client, upload)  # a double click
    assert second.status_code == 302
    assert BackgroundTask.select().count() == 1
    run_jobs()
    with app.app_context():
        assert run_import(upload.id) == {"skipped": True}
    assert _counts(Import.get_by_id(upload.id)) == (3, 0, 0, 0)


def test_c2_an_interrupted_import_resumes_after_its_last_chunk(app, run_jobs, monkeypatch):
    """A job retried after a crash: committed chunks are not written twice and
    the counts stay exact."""
    from leads.core import csv_io
    from leads.imports import jobs, uploads
    from leads.imports.writers import writer_for

    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    client, _user = _signed_in(app)
    upload = _uploaded(client, CONTACTS_CSV.encode())
    _start(client, upload)
    # As if the first chunk (2 rows) had committed before the worker died.
    chunk_writer = writer_for(Import.get_by_id(upload.id))
    with app.app_context():
        stored = Import.get_by_id(upload.id)
        rows = list(
            csv_io.prepare_rows(
                csv_io.read_rows(uploads.file_of(stored), uploads.sniffed_of(stored)),
                stored.mapping,
                stored.entity,
            )
        )
        jobs.import_chunk(stored, rows[:2], chunk_writer, jobs.Counts())
    run_jobs()
    done = Import.get_by_id(upload.id)
    assert _counts(done) == (3, 0, 0, 0)
    assert Contact.select().count() == 3


# --- Roles -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [REP, TELEPROSPECTOR])
def test_g1_reps_and_teleprospectors_cannot_import(app, role):
    client, _user = _signed_in(app, role)
    owner, _ = _signed_in(app, MARKETER)
    upload = _uploaded(owner, CONTACTS_CSV.encode())
    token = csrf_token(client, "/leads")
    assert client.get("/imports/").status_code == 403
    assert client.post("/imports/", data={"csrf_token": token}).status_code == 403
    for path in ("", "/progress", "/errors.csv"):
        assert client.get(f"/imports/{upload.id}{path}").status_code == 403
    for path in ("/mapping", "/start"):
        assert client.post(f"/imports/{upload.id}{path}", data={"csrf_token": token}).status_code == 403
    assert Import.get_by_id(upload.id).status == "mapping"


@pytest.mark.parametrize("role", [MARKETER, MANAGER, ADMIN])
def test_c2_marketers_managers_and_admins_may_import(app, role):
    client, _user = _signed_in(app, role)
    assert client.get("/imports/").status_code == 200
    assert _upload(client, CONTACTS_CSV.encode()).status_code == 302


# --- Export ------------------------------------------------------------------------


def _export(client, query="") -> list[dict]:
    response = client.get(f"/leads/export.csv{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_c2_export_streams_every_matching_lead_with_the_lists_filters(app):
    client, _user = _signed_in(app, MANAGER)
    for n in range(60):
        make_lead(last_name=f"Many{n:02d}", status=lifecycle.OPEN)
    make_lead(last_name="Gone", status=lifecycle.DISQUALIFIED, status_reason="no_interest")
    rows = _export(client)
    assert len(rows) == 61  # every page, not only the first 50
    only_open = _export(client, "?status=open&sort=name&page=2")
    assert [r["Last name"] for r in only_open] == [f"Many{n:02d}" for n in range(60)]
    assert _export(client, "?q=gone")[0]["Last name"] == "Gone"
    html = client.get("/leads?status=open").get_data(as_text=True)
    assert 'href="/leads/export.csv?status=open"' in html


def test_g1_export_gives_a_rep_only_their_own_leads(app):
    client, rep = _signed_in(app, REP)
    mine = make_lead(owner=rep, last_name="Mine")
    make_lead(last_name="NotMine")
    rows = _export(client)
    assert [r["Id"] for r in rows] == [str(mine.id)]
    assert _export(client, f"?owner={rep.id + 1}") == []


def test_c2_export_neutralises_spreadsheet_formulas(app):
    client, _user = _signed_in(app, ADMIN)
    make_lead(
        first_name="=cmd|' /C calc'!A0",
        company="@SUM(1+1)",
        last_name="-2+3",
        topic="+1",
        phone="+33123456789",
    )
    [row] = _export(client)
    assert row["First name"] == "'=cmd|' /C calc'!A0"
    assert row["Company"] == "'@SUM(1+1)"
    assert row["Last name"] == "'-2+3"
    assert row["Topic"] == "'+1"
    assert row["Phone"] == "'+33123456789"


def test_c2_m1_imported_contacts_are_found_by_form_intake_afterwards(app, run_jobs):
    """The import keeps the intake's match-key index (and its watermark) in
    step: a form submission for an imported person matches them (M4), and no
    capture request has to index the import again."""
    from leads.core.matching import CONTACT, FILL_EMPTY
    from leads.intake.match_keys import DbIndex, load_strategies
    from leads.intake.match_or_create import match_or_create
    from leads.intake.models import MatchKeyWatermark

    client, _user = _signed_in(app)
    make_contact(email="before@example.test")
    with app.app_context():
        DbIndex().catch_up(CONTACT)  # a capture ran before the import
    _import(app, client, run_jobs, CONTACTS_CSV.encode())
    newest = Contact.select().order_by(Contact.id.desc()).first()
    assert MatchKeyWatermark.get_by_id(CONTACT).last_id == newest.id
    with app.app_context():
        outcome = match_or_create(
            CONTACT, {"email": " Grace@Example.test"}, load_strategies(CONTACT), FILL_EMPTY
        )
    assert outcome.matched
    assert outcome.record_id == Contact.get(Contact.email == "GRACE@example.test").id


def test_c2_s4_imported_records_are_rescored_once_per_chunk(app, run_jobs):
    """A contact import that fills a scored field re-scores the contact's open
    leads (S4: ``rescore_records`` after each chunk's commit)."""
    from leads.scoring.models import LeadScore
    from tests.scoring.test_scoring_pipeline import live_model

    client, marketer = _signed_in(app)
    live_model(app, marketer, run_jobs=run_jobs)
    contact = make_contact(email="dir@example.test", job_title=None)
    lead = make_lead(contact=contact, email="dir@example.test")
    done = _import(app, client, run_jobs, b"email,job title\ndir@example.test,Marketing Director\n")
    assert _counts(done) == (0, 1, 0, 0)
    run_jobs()
    score = LeadScore.get(LeadScore.lead == lead.id)
    assert score.score == 20
