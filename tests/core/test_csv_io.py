"""CSV import and export cores (C2; M1/M2 for duplicates inside a file), pure:
no database, no app."""

from __future__ import annotations

import os
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.core import csv_io, matching, validation
from leads.core.csv_io import (
    CsvError,
    Record,
    Sniffed,
    export_csv,
    guess_mapping,
    neutralise_cell,
    prepare_rows,
    read_headers,
    read_rows,
    sniff,
    validate_row,
)

SCRIPT = "<script>alert('x')</script>"


def rows_of(raw: bytes) -> list[Record]:
    """Every record of a file, sniffed first."""
    return list(read_rows(raw, sniff(raw)))


def prepared(text: str, entity: str = "contact", **kw) -> list[csv_io.PreparedRow]:
    """A UTF-8 CSV text through sniff, guessed mapping and prepare_rows."""
    raw = text.encode()
    sniffed = sniff(raw)
    mapping = guess_mapping(read_headers(raw, sniffed), entity)
    return list(prepare_rows(read_rows(raw, sniffed), mapping, entity, **kw))


# --------------------------------------------------------------------------- sniffing (C2)


@pytest.mark.parametrize(
    "raw, encoding, bom",
    [
        ("Prénom,Email\nÉlodie,e@x.fr\n".encode(), "utf-8", False),
        (b"\xef\xbb\xbf" + "Prénom,Email\nÉlodie,e@x.fr\n".encode(), "utf-8", True),
        ("Prénom,Email\nÉlodie,e@x.fr – ok\n".encode("cp1252"), "cp1252", False),
        ("Prénom,Email\nÉlodie,e@x.fr\n".encode("latin-1") + b"\x81\n", "latin-1", False),
        ("Prénom\tEmail\nÉlodie\te@x.fr\n".encode("utf-16"), "utf-16", True),
    ],
)
def test_sniff_detects_encoding_and_bom_C2(raw, encoding, bom):
    sniffed = sniff(raw)
    assert (sniffed.encoding, sniffed.has_bom) == (encoding, bom)
    assert read_headers(raw, sniffed) == ["Prénom", "Email"]
    assert rows_of(raw)[0].values["Prénom"] == "Élodie"


@pytest.mark.parametrize(
    "text, delimiter",
    [
        ("name,email,city\nAda,a@x.io,London\n", ","),
        ("name;email;city\nAda;a@x.io;1,5\n", ";"),
        ("name\temail\tcity\nAda\ta@x.io\tParis; France\n", "\t"),
        ('name,note\n"Ada","a; b; c; d"\n"Bob","e; f"\n', ","),
        ("email\na@x.io\n", ","),
        ('a;b;c\n"x,y";2;3\n"z,w";4;5\n', ";"),
    ],
)
def test_sniff_detects_the_delimiter_C2(text, delimiter):
    assert sniff(text.encode()).delimiter == delimiter


def test_bom_is_not_part_of_the_first_header_C2():
    raw = b"\xef\xbb\xbfEmail;Name\r\na@x.io;Ada\r\n"
    sniffed = sniff(raw)
    assert sniffed.describe() == "UTF-8 (BOM), semicolon-separated"
    assert rows_of(raw) == [Record(2, {"Email": "a@x.io", "Name": "Ada"})]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty"),
        (b"  \r\n", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00binary xlsx", "not a CSV text file"),
        (bytes(range(1, 32)) * 100, "not a CSV text file"),
    ],
)
def test_empty_or_binary_files_get_a_clear_error_C2(raw, message):
    with pytest.raises(CsvError, match=message):
        sniff(raw)


def test_ten_megabytes_of_random_bytes_fail_fast_with_a_clear_error_C2():
    garbage = os.urandom(10 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(CsvError, match="not a CSV text file"):
        sniff(garbage)
    with pytest.raises(CsvError, match="not a CSV text file"):
        list(read_rows(garbage, Sniffed("latin-1", ",")))
    assert time.perf_counter() - started < 2


def test_a_file_over_the_size_limit_is_refused_C2():
    with pytest.raises(CsvError, match="the limit is"):
        sniff(b"email\n" + b"a@x.io\n" * 200, max_bytes=1000)


def test_a_wrong_encoding_choice_reports_the_rows_not_a_crash_C2():
    [record] = list(read_rows("a,b\né,b\n".encode("cp1252"), Sniffed("utf-8", ",")))
    assert record.line == 2 and record.problem.startswith("This row is not valid UTF-8 text")


# --------------------------------------------------------------------------- reading (C2)


def test_quoted_newlines_keep_the_line_where_the_record_starts_C2():
    raw = b'name,note\r\nAda,"line one\r\nline two\r\nline three"\r\nBob,plain\n\nCyd,"a\nb"\nDan,x\n'
    records = rows_of(raw)
    assert [r.line for r in records] == [2, 5, 7, 9]
    assert records[0].values["note"] == "line one\r\nline two\r\nline three"
    assert all(r.problem is None for r in records)


def test_ragged_rows_are_reported_and_reading_goes_on_C2():
    raw = b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n1,2,3,,\n7,8,9\n"
    records = rows_of(raw)
    assert [(r.line, r.problem) for r in records] == [
        (2, None),
        (3, "This row has 2 values; the header has 3 columns."),
        (4, "This row has 4 values; the header has 3 columns."),
        (5, None),  # trailing empty cells are harmless
        (6, None),
    ]
    assert records[2].values[csv_io.EXTRA_VALUES] == "4"


def test_oversized_fields_are_reported_per_row_C2():
    raw = b"name,note\nAda," + b"x" * 20_000 + b"\nBob,ok\n"
    first, second = rows_of(raw)
    assert first.problem == "note: 20000 characters is over the limit of 10000."
    assert len(first.values["note"]) < 200
    assert second == Record(3, {"name": "Bob", "note": "ok"})


def test_a_field_the_parser_cannot_hold_stops_with_a_message_not_a_crash_C2():
    raw = b'name,note\nAda,ok\nBob,"' + b"x" * 200_000 + b'"\nCyd,never read\n'
    records = rows_of(raw)
    assert records[0].problem is None
    assert records[-1].line == 3 and "cannot be read from this line on" in records[-1].problem


def test_an_unclosed_quote_is_reported_not_swallowed_silently_C2():
    raw = b'name,note\nAda,ok\nBob,"open quote\nCyd,x\nDan,y\n'
    records = rows_of(raw)
    assert [(r.line, r.problem) for r in records] == [
        (2, None),
        (3, "The file cannot be read from this line on (a quoted value is never closed)."),
    ]
    closed = rows_of(b'name,note\nBob,"two\nlines"\n')
    assert closed == [Record(2, {"name": "Bob", "note": "two\nlines"})]


def test_headers_are_cleaned():
    assert csv_io.clean_headers([" Email ", "", "Email", "Email", "\ufeffName"]) == [
        "Email",
        "Column 2",
        "Email (2)",
        "Email (3)",
        "Name",
    ]
    with pytest.raises(CsvError, match="no header row"):
        read_headers(b",,\n", Sniffed("utf-8", ","))


def headers_of(raw: bytes) -> list[str]:
    """The cleaned header row of a file, sniffed first."""
    return read_headers(raw, sniff(raw))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            (",".join(["c"] * 501) + "\nx\n").encode(),
            "This file has 501 columns; leadflow reads at most 500.",
        ),
        (f"a,b,{'n' * 10_001}\n".encode(), "Column 3 of the header row is 10,001 characters long"),
        # past the csv module's own field limit: still a plain message, not its error
        (f"a,{'n' * 200_000}\n".encode(), "A column name in the header row is over 131,072 characters long"),
        (b'email,"name\n', "A quote in the header row is not closed on its line"),
        (b'email,"name\n' + b"a@example.test,Ada\n" * 10_000, "A quote in the header row is not closed"),
        # closed at last, thousands of characters later: a name over several lines
        (b'email,"name\n' + b"a@example.test,Ada\n" * 1_000 + b'b@example.test,"Bob"\n', "is not closed"),
        # names within the limits that still fill more than the longest valid header
        ((('"' + '""' * 10_000 + '",') * 260).encode(), "The header row is over 5,001,500 characters long"),
    ],
    ids=[
        "columns",
        "long-name",
        "past-field-limit",
        "open-quote",
        "open-quote-big",
        "closed-late",
        "too-long",
    ],
)
def test_c2_headers_leadflow_does_not_read_are_refused_in_words(raw, message):
    """C2: too many columns, an oversized column name or a quote left open in the
    header row is a ``CsvError`` saying what is wrong."""
    with pytest.raises(CsvError, match=re.escape(message)):
        headers_of(raw)


def test_c2_only_the_header_row_is_parsed_however_large_the_file():
    """C2: the header check parses a bounded start of the file, so three million
    columns are counted only as far as the longest valid header goes."""
    many = (",".join(["c"] * 3_000_000) + "\n").encode()
    with pytest.raises(CsvError, match=re.escape(f"more than {csv_io.MAX_HEADER_CHARS // 2 + 1:,} columns")):
        read_headers(many, Sniffed("utf-8", ","))


def test_c2_headers_within_the_limits_read_as_before():
    """C2: quoted names, a name over two lines, a UTF-16 file cut mid-character by
    the bounded read, exactly 500 columns and a 10,000-character name all pass."""
    assert headers_of(b'"email","First\nname"\na@example.test,Ada\n') == ["email", "First name"]
    utf16 = ("Prénom,Email\n" + "é,x\n" * 3_000_000).encode("utf-16")
    assert read_headers(utf16, Sniffed("utf-16", ",", has_bom=True)) == ["Prénom", "Email"]
    assert len(headers_of((",".join(f"c{n}" for n in range(500)) + "\nx\n").encode())) == 500
    assert headers_of(f"email,{'n' * 10_000}\n".encode())[1] == "n" * 10_000


# --------------------------------------------------------------------------- mapping (C2)


@pytest.mark.parametrize(
    "header, field",
    [
        ("E-mail", "email"),
        ("Email address", "email"),
        ("Courriel", "email"),
        ("Contact email", "email"),
        ("Company", "company"),
        ("Organisation", "company"),
        ("Société", "company"),
        ("Phone", "phone"),
        ("Tel", "phone"),
        ("Téléphone", "phone"),
        ("Mobile phone", "phone"),
        ("First name", "first_name"),
        ("Prénom", "first_name"),
        ("given_name", "first_name"),
        ("Last Name", "last_name"),
        ("Surname", "last_name"),
        ("Full name", "full_name"),
        ("Job title", "job_title"),
        ("Country", "country"),
        ("Favourite colour", None),
    ],
)
def test_guess_mapping_reads_common_headers_C2(header, field):
    assert guess_mapping([header], "contact") == {header: field}


def test_guess_mapping_gives_each_field_once_and_knows_accounts_C2():
    assert guess_mapping(["Email", "E-mail", "Work email"], "lead") == {
        "Email": "email",
        "E-mail": None,
        "Work email": None,
    }
    assert guess_mapping(["Company", "Website", "Employees", "Revenue"], "account") == {
        "Company": "name",
        "Website": "domain",
        "Employees": "employee_count",
        "Revenue": "annual_revenue",
    }
    assert guess_mapping(["Subject", "Email"], "lead")["Subject"] == "topic"


def test_validate_mapping_names_what_is_missing_or_doubled_C2():
    assert csv_io.validate_mapping({"Name": "full_name"}, "contact") == ["Map a column to Email (required)."]
    assert csv_io.validate_mapping({"A": "email", "B": "email"}, "contact") == [
        "Several columns are mapped to Email; keep one."
    ]
    assert csv_io.validate_mapping({"A": "email", "B": "owner_id"}, "contact") == [
        "'owner_id' is not a contact field."
    ]
    assert csv_io.validate_mapping({"A": "email"}, "lead", defaults={"topic": "Fair"}) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ada Lovelace", ("Ada", "Lovelace")),
        ("Lovelace, Ada", ("Ada", "Lovelace")),
        ("Jean Pierre  Dupont", ("Jean Pierre", "Dupont")),
        ("Anna van der Berg", ("Anna", "van der Berg")),
        ("Cher", ("Cher", "")),
        ("", ("", "")),
    ],
)
def test_split_full_name(text, expected):
    assert csv_io.split_full_name(text) == expected


# --------------------------------------------------------------------------- validating (C2)


def test_validate_row_cleans_values_C2():
    clean, errors = validate_row(
        {
            "full_name": "  Élodie   Dupont ",
            "email": " Elodie@Example.fr ",
            "phone": "01 23 45 67 89",
            "country": "fr",
            "company": "",
        },
        "contact",
    )
    assert errors == []
    assert clean == {
        "first_name": "Élodie",
        "last_name": "Dupont",
        "email": "Elodie@example.fr",  # the normalised form: the domain lower-cased
        "phone": "+33123456789",
        "country": "FR",
    }


def test_phone_is_read_with_the_row_country_then_the_default_region_C2():
    assert (
        validate_row({"email": "a@x.io", "phone": "020 7946 0018", "country": "GB"}, "contact", "FR")[0][
            "phone"
        ]
        == "+442079460018"
    )
    assert (
        validate_row({"email": "a@x.io", "phone": "(202) 555-0143"}, "contact", "US")[0]["phone"]
        == "+12025550143"
    )
    _clean, errors = validate_row({"email": "a@x.io", "phone": "0612345678"}, "contact")
    assert errors == [
        ("phone", "no valid country code: write it with + and the country code, or give the country")
    ]


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("email", "not-an-email", validation.EMAIL_REASON),
        ("email", "a@b", validation.EMAIL_REASON),
        ("email", "a@b.c", validation.EMAIL_REASON),
        ("email", "a b@x.io", validation.EMAIL_REASON),
        ("email", "a@x.io<script>", validation.EMAIL_REASON),
        ("country", "France", validation.COUNTRY_REASON),
        ("country", "ZZ", validation.COUNTRY_REASON),
        ("first_name", "x" * 101, "longer than 100 characters"),
        ("job_title", "x" * 151, "longer than 150 characters"),
        ("email", "a" * 60 + "@" + "b" * 200 + ".com", validation.EMAIL_REASON),
        ("last_name", "Bad\x1bName", "contains control characters"),
        ("last_name", "Bad\x00Name", validation.NUL_REASON),
        ("owner_id", "3", "not a contact field"),
    ],
)
def test_validate_row_reports_field_and_reason_C2(field, value, reason):
    row = {"email": "ok@example.com", field: value}
    assert (field, reason) in validate_row(row, "contact")[1]


def test_required_fields_per_entity_C2():
    assert validate_row({"first_name": "Ada"}, "contact")[1] == [("email", "required")]
    assert validate_row({"email": "a@x.io"}, "lead")[1] == [("topic", "required")]
    assert validate_row({"email": "a@x.io"}, "lead", defaults={"topic": "Import"})[1] == []
    assert validate_row({"domain": "acme.com"}, "account")[1] == [("name", "required")]
    assert validate_row({"email": "bad"}, "contact")[1] == [("email", validation.EMAIL_REASON)]


def test_account_values_are_normalised_C2():
    clean, errors = validate_row(
        {
            "name": "Acme",
            "domain": "https://www.ACME.com/",
            "employee_count": "1 200",
            "annual_revenue": "3,500,000",
        },
        "account",
    )
    assert errors == []
    assert clean == {"name": "Acme", "domain": "acme.com", "employee_count": 1200, "annual_revenue": 3500000}
    errors = validate_row({"name": "A", "domain": "not a domain", "employee_count": "12.5"}, "account")[1]
    assert errors == [
        ("domain", "not a web domain (e.g. example.com)"),
        ("employee_count", "not a whole number"),
    ]


def test_lengths_follow_the_model_columns():
    """The import refuses what the database column could not hold."""
    from leads.records import models

    columns = {"contact": models.Contact, "lead": models.Lead, "account": models.Account}
    for entity, limits in csv_io.MAX_LENGTHS.items():
        for name, limit in limits.items():
            column = (
                models.Account.name
                if (entity, name) == ("contact", "company")
                else columns[entity]._meta.fields[name]
            )
            assert column.max_length == limit, (entity, name)


def test_script_tags_stay_plain_text_in_every_field_C2():
    """Nothing is stripped: the template escapes on output."""
    header = "Topic,First name,Last name,Email,Company,Job title"
    text = f"{header}\n{SCRIPT},{SCRIPT},{SCRIPT},s@x.io,{SCRIPT},{SCRIPT}\n"
    (row,) = prepared(text, "lead")
    assert row.ok
    assert {row.clean[f] for f in ("topic", "first_name", "last_name", "company", "job_title")} == {SCRIPT}


# --------------------------------------------------------------------------- duplicates in one file (M1, M2, C2)


def test_duplicate_rows_in_one_file_point_to_the_earlier_line_C2_M1():
    text = "Email,Name\nada@example.com,Ada\nbob@example.com,Bob\n  ADA@Example.com ,Ada again\n"
    rows = prepared(text)
    assert [r.ok for r in rows] == [True, True, False]
    assert rows[2].duplicate_of == 2
    assert rows[2].errors == (("", "duplicate of line 2 (same email)"),)


def test_lead_duplicates_follow_the_lead_strategy_email_and_source_M2_C2():
    text = "Email,Topic\nada@example.com,One\nada@example.com,Two\n"
    rows = prepared(text, "lead", defaults={"source": "import-42"})
    assert rows[1].duplicate_of == 2
    other = matching.MatchingStrategy("lt", "Lead by email and topic", "lead", ("email", "topic"))
    rows = prepared(text, "lead", defaults={"source": "import-42"}, strategies=[other])
    assert all(r.ok for r in rows)


def test_invalid_rows_are_not_remembered_as_duplicates_C2():
    rows = prepared("Email,Country\nada@example.com,ZZ\nada@example.com,FR\n")
    assert [r.ok for r in rows] == [False, True]


def test_ragged_rows_become_row_errors_C2():
    (row,) = prepared("Email,Name\na@x.io,Ada,extra\n")
    assert row.errors == (("", "This row has 3 values; the header has 2 columns."),)
    assert csv_io.row_errors(row)[0].line == 2


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+33123456789", "'+33123456789"),
        ("-1+2", "'-1+2"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1+1", "'  =1+1"),
        ("-12.5", "-12.5"),
        (-5, "-5"),
        (0, "0"),
        (None, ""),
        ("Ada", "Ada"),
        ("a=b", "a=b"),
        ("'quoted", "'quoted"),
        (SCRIPT, SCRIPT),
    ],
)
def test_formula_injection_is_neutralised(value, cell):
    assert neutralise_cell(value) == cell


def test_export_streams_quoted_rows_with_a_bom():
    chunks = list(export_csv([{"name": "Ada", "email": "=HYPERLINK(1)"}], ["name", ("email", "E-mail")]))
    assert chunks == ['\ufeff"name","E-mail"\r\n', '"Ada","\'=HYPERLINK(1)"\r\n']


def test_error_report_has_line_field_reason_and_original_values_C2():
    rows = prepared("Email,Name\nbad,=cmd()\nok@x.io,Fine\n")
    errors = [e for r in rows for e in csv_io.row_errors(r)]
    report = "".join(csv_io.error_report_csv(errors, ["Email", "Name"], bom=False))
    assert (
        report == '"Line","Field","Reason","Email","Name"\r\n'
        f'"2","Email","{validation.EMAIL_REASON}","bad","\'=cmd()"\r\n'
    )


# Control characters other than tab and line breaks make a file "binary" (refused).
cell_text = st.text(
    st.one_of(st.characters(exclude_categories=("Cs", "Cc")), st.sampled_from("\t\r\n")), max_size=20
)


@settings(deadline=None)
@given(st.lists(st.tuples(cell_text, cell_text), min_size=1, max_size=5))
def test_export_then_import_round_trips_text(pairs):
    """Property: what we export reads back unchanged, but for the apostrophe
    that disarms a formula trigger."""
    rows = [{"id": str(n), "a": a, "b": b} for n, (a, b) in enumerate(pairs)]
    raw = "".join(export_csv(rows, ["id", "a", "b"])).encode()
    records = list(read_rows(raw, sniff(raw)))
    assert [r.problem for r in records] == [None] * len(rows)
    for row, record in zip(rows, records, strict=True):
        for name in ("a", "b"):
            assert record.values[name] == neutralise_cell(row[name])
            assert record.values[name] in (row[name], "'" + row[name])
            first = record.values[name].lstrip()[:1]
            assert first not in csv_io.FORMULA_TRIGGERS or csv_io._PLAIN_NUMBER.fullmatch(record.values[name])


def test_a_nul_in_a_data_row_refuses_that_row_only_C2():
    """A NUL further down a text file is no sign of a binary file: its row is
    refused with the shared reason, the other rows import."""
    rows = prepared("Email,First name\nada@example.com,Ada\nbob@example.com,B\x00b\n")
    assert [r.ok for r in rows] == [True, False]
    assert rows[1].errors == (("first_name", validation.NUL_REASON),)


def test_a_nul_in_the_header_line_is_a_binary_file_C2():
    with pytest.raises(CsvError, match="not a CSV text file"):
        sniff(b"Email,Na\x00me\nada@example.com,Ada\n")
