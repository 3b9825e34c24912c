"""CSV files in other encodings (SPEC C2): CP1250, ISO-8859-2, Shift-JIS and
UTF-16 without a BOM are read right (one committed fixture each, made by
``fixtures/make_fixtures.py``); a UTF-8 file with a few CP1252 rows stays UTF-8,
its good rows stored right and the others reported by line; and the user can
choose the encoding on the mapping page. The pure reading first, then the
pages and the import job on SQLite and PostgreSQL."""

from __future__ import annotations

import os

import pytest

from leads.core import csv_io
from leads.imports.models import Import
from leads.records.models import Contact
from tests.imports.fixtures import make_fixtures as fx
from tests.imports.test_imports import _counts, _form, _import, _report, _signed_in, _uploaded

FOLDER = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name: str) -> bytes:
    with open(os.path.join(FOLDER, name), "rb") as file:
        return file.read()


def values(rows) -> list[tuple[str, ...]]:
    return [tuple(record.values[header] for header in fx.HEADER) for record in rows]


def test_the_committed_fixtures_are_what_the_script_makes_C2(tmp_path):
    fx.main(str(tmp_path))
    for name in (*fx.FILES, fx.MIXED):
        assert (tmp_path / name).read_bytes() == fixture(name), name


@pytest.mark.parametrize("name", sorted(fx.FILES))
def test_each_encoding_is_detected_and_read_right_C2(name):
    rows, encoding = fx.FILES[name]
    raw = fixture(name)
    sniffed = csv_io.sniff(raw)
    assert sniffed.encoding in {encoding, "cp932" if encoding == "shift_jis" else encoding}
    assert not sniffed.has_bom and sniffed.delimiter == ","
    assert csv_io.read_headers(raw, sniffed) == list(fx.HEADER)
    records = list(csv_io.read_rows(raw, sniffed))
    assert all(record.problem is None for record in records)
    assert values(records) == fx.ROWS[rows]


def test_a_utf8_file_with_a_few_cp1252_rows_stays_utf8_and_reports_those_rows_C2():
    raw = fixture(fx.MIXED)
    sniffed = csv_io.sniff(raw)
    assert sniffed.encoding == "utf-8"
    records = list(csv_io.read_rows(raw, sniffed))
    bad = [record.line for record in records if record.problem]
    assert bad == list(fx.MIXED_CP1252_LINES)
    good = [record.values["First name"] for record in records if not record.problem]
    assert good == ["Chloé", "François"]
    assert csv_io.undecodable_lines(raw, sniffed) == (2, [3, 5])


def test_a_mostly_cp1252_file_is_still_cp1252_C2():
    western = fx.text(fx.ROWS["western"])
    raw = western.encode("cp1252")
    assert csv_io.sniff(raw).encoding == "cp1252"
    assert values(csv_io.read_rows(raw, csv_io.sniff(raw))) == fx.ROWS["western"]


def test_the_user_may_read_a_file_in_another_encoding_C2():
    raw = fixture("contacts-iso-8859-2.csv")
    as_cp1250 = csv_io.with_encoding(raw, "cp1250")
    read = values(csv_io.read_rows(raw, as_cp1250))
    assert read[2][1] != "Świątek"  # letters ISO-8859-2 and CP1250 put at other bytes
    with pytest.raises(csv_io.CsvError, match="Unknown encoding"):
        csv_io.with_encoding(raw, "no-such-codec")


# --- The pages and the job ----------------------------------------------------------


@pytest.mark.parametrize("name", ["contacts-cp1250.csv", "contacts-shift-jis.csv", "contacts-utf-16-le.csv"])
def test_c2_an_import_in_another_encoding_stores_the_names_right(app, run_jobs, name):
    client, _user = _signed_in(app)
    rows, _encoding = fx.FILES[name]
    done = _import(app, client, run_jobs, fixture(name))
    assert _counts(done) == (len(fx.ROWS[rows]), 0, 0, 0)
    stored = {(c.first_name, c.last_name, c.email, c.job_title) for c in Contact.select()}
    assert stored == set(fx.ROWS[rows])


def test_c2_a_utf8_file_with_cp1252_rows_imports_the_good_rows_right_and_reports_the_others(app, run_jobs):
    client, _user = _signed_in(app)
    upload = _uploaded(client, fixture(fx.MIXED))
    page = client.get(f"/imports/{upload.id}").get_data(as_text=True)
    assert "2 rows are not valid UTF-8 text" in page and "lines 3, 5" in page
    done = _import(app, client, run_jobs, fixture(fx.MIXED))
    assert (done.created, done.failed) == (2, 2)
    assert {c.first_name for c in Contact.select()} == {"Chloé", "François"}  # not "ChloÃ©"
    report = _report(client, done)
    lines = sorted(int(row[0]) for row in report[1:])
    assert lines == list(fx.MIXED_CP1252_LINES)
    assert all("not valid UTF-8 text" in row[2] for row in report[1:])


def test_c2_the_encoding_is_chosen_on_the_mapping_page_and_the_import_uses_it(app, run_jobs):
    client, _user = _signed_in(app)
    upload = _uploaded(client, fixture("contacts-iso-8859-2.csv"))
    page = client.get(f"/imports/{upload.id}").get_data(as_text=True)
    assert '<select id="encoding" name="encoding">' in page or 'name="encoding"' in page
    assert "Świątek" in page
    changed = client.post(
        f"/imports/{upload.id}/mapping",
        data=_form(client, upload, encoding="cp1250"),
        headers={"HX-Request": "true"},
    )
    html = changed.get_data(as_text=True)
    assert changed.status_code == 200 and "Świątek" not in html
    assert Import.get_by_id(upload.id).encoding == "cp1250"
    assert '<option selected value="cp1250">' in html
    # Starting with another encoding than the stored one shows the rows read anew first.
    upload = Import.get_by_id(upload.id)
    again = client.post(f"/imports/{upload.id}/start", data=_form(client, upload, encoding="iso8859-2"))
    assert again.status_code == 200 and "Świątek" in again.get_data(as_text=True)
    upload = Import.get_by_id(upload.id)
    assert upload.encoding == "iso8859-2" and upload.status == "mapping"
    started = client.post(f"/imports/{upload.id}/start", data=_form(client, upload, encoding="iso8859-2"))
    assert started.status_code == 302
    run_jobs()
    assert Contact.get(Contact.email == "aga@example.test").last_name == "Świątek"


def test_c2_a_header_read_anew_keeps_the_columns_mapping(app):
    client, _user = _signed_in(app)
    raw = "Prénom,Email\r\nÉlodie,elodie@example.test\r\n".encode("cp1252")
    upload = _uploaded(client, raw)
    assert upload.encoding == "cp1252" and upload.headers == ["Prénom", "Email"]
    client.post(f"/imports/{upload.id}/mapping", data=_form(client, upload, encoding="utf-8"))
    upload = Import.get_by_id(upload.id)
    assert upload.headers == ["Pr\ufffdnom", "Email"]
    assert upload.mapping == {"Pr\ufffdnom": "first_name", "Email": "email"}
