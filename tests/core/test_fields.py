"""The field catalogue (``leads.core.fields``) is the one list of a record's
fields: it agrees with the peewee models and the condition language, and the
import, capture, matching, API and form code read it (S1 S2 C2 C3 M1 G1 W2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import peewee as pw
import pytest

from auth import models as auth_models
from leads.api import openapi, resources
from leads.core import conditions, csv_io, matching
from leads.core import fields as catalogue
from leads.core.fields import ACCOUNT, CONTACT, LEAD
from leads.imports import writers
from leads.intake import capture
from leads.intake.match_or_create import WRITABLE
from leads.records import forms
from leads.records.models import Account, Contact, Lead

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = {LEAD: Lead, CONTACT: Contact, ACCOUNT: Account}
# Columns that are no catalogue field: the row's id, and a lead's findings,
# keyed by the configurable qualification fields (leads.stages.fields).
NOT_CATALOGUED = {LEAD: {"id", "qualification"}, CONTACT: {"id"}, ACCOUNT: {"id"}}
INTEGER_LIMITS = {pw.BigIntegerField: 2**63 - 1, pw.SmallIntegerField: 2**15 - 1, pw.IntegerField: 2**31 - 1}
COLUMN_TYPES = {
    catalogue.TEXT: (pw.CharField, pw.TextField),
    catalogue.NUMBER: (pw.IntegerField, pw.ForeignKeyField),
    catalogue.BOOL: (pw.BooleanField,),
    catalogue.DATE: (pw.DateTimeField, pw.DateField),
}


def _limit(column: pw.Field) -> int:
    return next(limit for kind, limit in INTEGER_LIMITS.items() if isinstance(column, kind))


def _column_problem(spec: catalogue.Field, column: pw.Field | None) -> str | None:
    """Why ``column`` cannot hold the catalogue field ``spec``, or None."""
    if column is None:
        return "no such column"
    if not isinstance(column, COLUMN_TYPES[spec.type]):
        return f"a {type(column).__name__} cannot hold a {spec.type} field"
    if spec.is_ref != isinstance(column, pw.ForeignKeyField):
        return "a reference is a foreign key, and a foreign key a reference"
    if isinstance(column, pw.CharField) and spec.max_length != column.max_length:
        return f"max_length {spec.max_length}, the column's {column.max_length}"
    if spec.maximum is not None and spec.maximum != _limit(column):
        return f"maximum {spec.maximum}, the column's {_limit(column)}"
    return None


# --------------------------------------------------------------------------- catalogue ↔ models


def test_every_catalogue_field_is_a_column_of_its_model_with_its_type_and_length_C2_M1():
    """C2/M1: what the import, matching and the API read and write is a column of
    the record, of a compatible type, exactly as long (or as large) as the column;
    a field that is no column says what it becomes, and that fits too."""
    for record, model in MODELS.items():
        for spec in catalogue.of(record):
            if spec.stored:
                problem = _column_problem(spec, model._meta.fields.get(spec.attr))
                assert problem is None, (record, spec.name, problem)
                continue
            assert spec.attr not in model._meta.fields, (record, spec.name)
            target, _, column = spec.via.partition(".")
            if column:  # e.g. a contact's company is its account's name
                assert _column_problem(spec, MODELS[target]._meta.fields[column]) is None, spec


def test_every_column_of_a_record_is_in_the_catalogue():
    """A new column is a catalogue entry too: nothing lists a record's fields but the catalogue."""
    for record, model in MODELS.items():
        listed = {spec.attr for spec in catalogue.of(record) if spec.stored}
        assert set(model._meta.fields) - NOT_CATALOGUED[record] == listed, record


def test_catalogue_entries_are_well_formed():
    """Kinds and formats are known, names unique per record, references are
    ``<attr>_id`` numbers, and every number someone writes has a maximum."""
    for record in catalogue.RECORDS:
        specs = catalogue.of(record)
        assert len({spec.name for spec in specs}) == len(specs), record
        for spec in specs:
            assert spec.type in catalogue.KINDS and spec.format in (*catalogue.FORMATS, None), spec
            assert spec.label and spec.label[0].isupper(), spec
            if spec.is_ref:
                assert spec.type == catalogue.NUMBER and spec.name == f"{spec.attr}_id", spec
            elif spec.type == catalogue.NUMBER and (spec.writers or spec.csv):
                assert spec.maximum is not None, spec
            if spec.condition or spec.api or spec.writers:
                assert spec.stored, spec


def test_the_writers_are_the_apps_roles_and_a_rep_writes_only_lead_person_fields_G1_W2():
    """G1/W2: roles are auth's; a sales rep may change the person fields of their
    leads (name, email, phone, company, job title, country) and nothing else."""
    roles = {r for record in catalogue.RECORDS for spec in catalogue.of(record) for r in spec.writers}
    assert roles <= set(auth_models.ROLES)
    assert catalogue.EDITORS == {
        auth_models.ADMIN,
        auth_models.MARKETER,
        auth_models.MANAGER,
        auth_models.INTEGRATION,
    }
    person = {"first_name", "last_name", "email", "phone", "company", "job_title", "country"}
    assert catalogue.writable_by(LEAD, auth_models.REP) == resources.LEAD_PERSON_FIELDS == person
    assert catalogue.writable_by(CONTACT, auth_models.REP) == catalogue.writable_by(ACCOUNT, "rep") == set()
    assert not catalogue.writable_by(LEAD, auth_models.TELEPROSPECTOR)


# --------------------------------------------------------------------------- catalogue ↔ condition language


def test_the_condition_language_tests_exactly_the_catalogue_fields_S1_S2():
    """S1/S2: every field a segment or an attribute rule may test is a catalogue
    field of that record, with the same kind, and the other way round."""
    for entity in conditions.RECORD_ENTITIES:
        for name, kind in conditions.FIELDS[entity].items():
            spec = catalogue.get(entity, name)
            assert spec is not None and spec.condition, (entity, name)
            assert spec.type == kind, (entity, name)
        assert list(conditions.FIELDS[entity]) == [s.name for s in catalogue.testable(entity)]
    assert (conditions.TEXT, conditions.NUMBER, conditions.DATE, conditions.BOOL) == catalogue.KINDS


def test_the_condition_language_refuses_what_the_catalogue_does_not_offer_S2():
    """S2: a contact has no ``company`` to test (it names the account: test
    ``account.name``), and a lead's ``updated_at`` is not offered."""
    for entity, name in ((CONTACT, "company"), (LEAD, "updated_at"), (CONTACT, "full_name")):
        condition = {"entity": entity, "field": name, "operator": "is_empty"}
        assert [e.field for e in conditions.validate_condition(condition)] == ["field"], name
    ok = {"entity": ACCOUNT, "field": "employee_count", "operator": "gte", "value": 200}
    assert conditions.validate_condition(ok) == []


# --------------------------------------------------------------------------- the consumers read it


def test_the_import_reads_its_fields_headers_labels_and_lengths_from_the_catalogue_C2():
    """C2: the mapping's fields, header spellings, labels and lengths are the catalogue's."""
    for entity in catalogue.RECORDS:
        specs = catalogue.importable(entity)
        assert csv_io.IMPORT_FIELDS[entity] == tuple(s.name for s in specs)
        assert csv_io._synonyms(entity) == {s.name: s.csv for s in specs}
        assert csv_io.MAX_LENGTHS[entity] == {s.name: s.max_length for s in specs if s.max_length}
        assert all(csv_io.FIELD_LABELS[s.name] == s.import_label for s in specs), entity
        written = writers.LEAD_COLUMNS if entity == LEAD else getattr(writers, f"{entity.upper()}_COLUMNS")
        assert set(written) - {"source"} == {s.name for s in specs if s.stored}
    assert csv_io.FIELD_LABELS["country"] == "Country (ISO-2)"


def test_matching_and_capture_read_their_fields_from_the_catalogue_M1_C3():
    """M1/C3: the fields a strategy may compare, how each is normalised, what a
    capture form may send (and how long) and what intake writes are the catalogue's."""
    for entity in matching.ENTITIES:
        assert matching.MATCH_FIELDS[entity] == tuple(s.name for s in catalogue.matchable(entity))
        assert WRITABLE[entity] == tuple(s.name for s in catalogue.writable(entity))
    assert matching.NORMALISERS["email"] is matching.normalise_email
    assert matching.NORMALISERS["source"] is matching.normalise_key
    assert capture.CAPTURE_FIELDS == {name: s.capture_max for name, s in catalogue.capturable().items()}
    assert capture.CAPTURE_FIELDS["country"] == 60 and capture.CAPTURE_FIELDS["email"] == 254


def test_a_name_shared_by_several_records_means_the_same_thing_C2_C3_M1():
    """C2/C3/M1: the import's labels, the capture's lengths and matching's
    normalisers are keyed by name alone, so records sharing a name agree on them."""
    seen: dict[tuple, set] = {}
    for record in catalogue.RECORDS:
        for spec in catalogue.of(record):
            if spec.csv:
                seen.setdefault(("label", spec.name), set()).add(spec.import_label)
            if spec.capture:
                seen.setdefault(("capture", spec.name), set()).add(spec.capture_max)
            if spec.match:
                seen.setdefault(("format", spec.name), set()).add(spec.format)
    assert all(len(values) == 1 for values in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}


def test_the_api_writes_and_shows_the_catalogue_fields_G1():
    """G1: the API's writable fields, read-only keys and response keys follow the
    catalogue; lengths come from it (and so from the columns)."""
    for resource, record in (
        (resources.LEAD, LEAD),
        (resources.CONTACT, CONTACT),
        (resources.ACCOUNT, ACCOUNT),
    ):
        writable = [s for s in catalogue.writable(record) if s.api]
        assert [f.name for f in resource.fields] == [s.name for s in writable]
        assert all(resource.field(s.name).max_length == s.max_length for s in writable if s.max_length)
        shown = {s.name for s in catalogue.exposed(record)} | {s.attr for s in catalogue.exposed(record)}
        properties = set(openapi.OUTPUT_SCHEMAS[resource.name]["properties"])
        assert properties == shown | set(resources.SHOWN_ONLY[record])
        assert resource.read_only == properties - resource.names - {
            s.attr for s in catalogue.exposed(record) if s.is_ref
        }


def test_the_record_forms_take_labels_lengths_and_values_from_the_catalogue_C1():
    """C1: each form field is labelled and limited as its catalogue field."""
    for form, record in ((forms.ContactForm, CONTACT), (forms.AccountForm, ACCOUNT), (forms.LeadForm, LEAD)):
        declared = form.declared()
        assert form.record == record and declared, form
        for spec in declared:
            unbound = getattr(form, spec.attr)
            assert unbound.args[0] == spec.label, (form, spec.name)
            lengths = [v.max for v in unbound.kwargs.get("validators", ()) if hasattr(v, "max")]
            assert lengths in ([], [spec.max_length], [spec.maximum]), (form, spec.name, lengths)
    assert [s.name for s in forms.ContactForm.declared()] == list(
        catalogue.names(catalogue.writable(CONTACT))
    )


def test_a_lead_made_from_a_contact_takes_the_values_they_share_C6_E2():
    """C6/E2: a lead created for a contact (by a rule, or from the contact's page)
    copies the person values both records hold: the catalogue says which."""
    from leads.intake import auto_leads

    person = ("first_name", "last_name", "email", "phone", "job_title", "country")
    assert catalogue.shared(CONTACT, LEAD) == auto_leads.PERSON == person


# --------------------------------------------------------------------------- adding a field

ADD_A_FIELD = textwrap.dedent(
    """
    import json, sys
    import peewee as pw
    from leads.core import fields
    assert "leads.core.conditions" not in sys.modules  # nothing has read the catalogue yet

    # The change a new field takes: its model column, its catalogue entry (and a migration).
    from leads.records.models import Contact
    Contact._meta.add_field("nickname", pw.CharField(max_length=40, null=True))
    fields.CATALOGUE[fields.CONTACT] += (
        fields.Field(
            "nickname", fields.TEXT, "Nickname", max_length=40, writers=fields.EDITORS,
            csv=("nickname", "alias"), capture=True, match=True, api=True, condition=True,
        ),
    )

    from leads.api import openapi, resources, serialise, validation
    from leads.core import conditions, csv_io, matching
    from leads.imports import writers
    from leads.intake import capture
    from leads.intake.match_or_create import WRITABLE

    condition = {"entity": "contact", "field": "nickname", "operator": "equals", "value": "Bob"}
    strategy = matching.MatchingStrategy(1, "By nickname", "contact", ("nickname",))
    person = {"nickname": "  Bob ", "email": "bob@example.com"}
    row = Contact(nickname="Bob", email="bob@example.com")
    print(json.dumps({
        "condition_kind": conditions.FIELDS["contact"].get("nickname"),
        "condition_errors": conditions.validate_condition(condition),
        "csv_mapping": csv_io.guess_mapping(["Alias", "E-mail"], "contact"),
        "csv_errors": csv_io.validate_row({"nickname": "x" * 41, "email": "a@b.co"}, "contact")[1],
        "import_columns": list(writers.CONTACT_COLUMNS),
        "strategy_errors": matching.strategy_errors(strategy),
        "match_key": list(matching.match_key(strategy, {"nickname": " BOB "})),
        "capture_limit": capture.CAPTURE_FIELDS.get("nickname"),
        "captured": capture.check_submission(person)[0].get("nickname"),
        "intake_writes": "nickname" in WRITABLE["contact"],
        "api_writes": validation.validate(resources.CONTACT, {"nickname": "Bob"}, creating=False),
        "api_request": openapi.request_schemas()["ContactCreate"]["properties"].get("nickname"),
        "api_response": openapi.OUTPUT_SCHEMAS["Contact"]["properties"].get("nickname"),
        "api_shows": serialise.contact_json(row, serialise.Names({})).get("nickname"),
    }))
    """
)


@pytest.fixture(scope="module")
def with_a_new_field() -> dict:
    """What the consumers make of a contact field added to the model and the
    catalogue only (in a fresh interpreter, so this process keeps its catalogue)."""
    done = subprocess.run(
        [sys.executable, "-c", ADD_A_FIELD], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_field_added_to_the_catalogue_can_be_tested_by_conditions_S1_S2(with_a_new_field):
    """S1/S2: segments and attribute rules may test the new field at once."""
    assert with_a_new_field["condition_kind"] == "text"
    assert with_a_new_field["condition_errors"] == []


def test_a_field_added_to_the_catalogue_is_imported_C2(with_a_new_field):
    """C2: its header spellings map it, its length is checked, the import writes it."""
    assert with_a_new_field["csv_mapping"] == {"Alias": "nickname", "E-mail": "email"}
    assert with_a_new_field["csv_errors"] == [["nickname", "longer than 40 characters"]]
    assert "nickname" in with_a_new_field["import_columns"]


def test_a_field_added_to_the_catalogue_is_matched_and_captured_M1_C3(with_a_new_field):
    """M1/C3: a strategy may compare it (as text), a capture form may send it, intake writes it."""
    assert with_a_new_field["strategy_errors"] == []
    assert with_a_new_field["match_key"] == ["bob"]
    assert with_a_new_field["capture_limit"] == 40 and with_a_new_field["captured"] == "Bob"
    assert with_a_new_field["intake_writes"] is True


def test_a_field_added_to_the_catalogue_is_in_the_api_G1(with_a_new_field):
    """G1: the API takes it from its writers, documents it with its length and shows it."""
    assert with_a_new_field["api_writes"] == [{"nickname": "Bob"}, []]
    assert with_a_new_field["api_request"] == {"type": ["string", "null"], "maxLength": 40}
    assert with_a_new_field["api_response"] == {"type": ["string", "null"]}
    assert with_a_new_field["api_shows"] == "Bob"
