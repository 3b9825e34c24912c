"""The JSON API's resources: one registry drives both the checks
(``leads.api.validation``) and the documentation (``leads.api.openapi``).

``LEAD``, ``CONTACT``, ``ACCOUNT`` list each resource's writable fields, built
from the field catalogue (``leads.core.fields``: which fields, who writes
them, their lengths) and the model columns (nullability, referenced models),
and ``ACTION_ARGS`` the arguments of each stage action. ``validate`` cleans a
request body against them; the OpenAPI request schemas are generated from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw

from auth.models import REP, User
from leads.core import fields as catalogue
from leads.core import lifecycle
from leads.core.numbers import MAX_ID
from leads.records.models import Account, Contact, Lead

NOTE_MAX = 2000

Errors = list[tuple[str | None, str]]


@dataclass(frozen=True)
class Field:
    """One writable JSON field: its key, the model attribute it sets and its rules."""

    name: str
    attr: str
    kind: str  # string, email, country, integer, boolean, ref, enum, object
    description: str = ""
    required: bool = False  # on create; a required string may not be blank either
    nullable: bool = True
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    model: type | None = None  # for refs
    active_rep: bool = False  # a ref that must be an active sales rep
    choices: tuple = ()

    def schema(self) -> dict:
        """This field as a JSON Schema (OpenAPI 3.1) property."""
        base = {
            "string": "string",
            "email": "string",
            "country": "string",
            "integer": "integer",
            "boolean": "boolean",
            "ref": "integer",
            "enum": "string",
            "object": "object",
        }[self.kind]
        out: dict = {"type": [base, "null"] if self.nullable else base}
        if self.max_length:
            out["maxLength"] = self.max_length
        if self.kind == "email":
            out["format"] = "idn-email"  # international addresses are accepted (and stored) as sent
        if self.kind == "country":
            out["pattern"] = "^[A-Za-z]{2}$"
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["enum"] = list(self.choices) + ([None] if self.nullable else [])
        if self.description:
            out["description"] = self.description
        return out


MODELS = {catalogue.LEAD: Lead, catalogue.CONTACT: Contact, catalogue.ACCOUNT: Account}
# The JSON kind of a catalogue format, and what the document says of it when
# the catalogue field has no ``help`` of its own.
_FORMAT_KINDS = {catalogue.EMAIL: "email", catalogue.COUNTRY: "country"}
_FORMAT_HELP = {
    catalogue.EMAIL: "Email address.",
    catalogue.COUNTRY: "ISO 3166-1 alpha-2 country code, e.g. FR (stored upper-case).",
}


def column_of(record: str, spec: catalogue.Field) -> pw.Field:
    """The model column a catalogue field of ``record`` is stored in."""
    return MODELS[record]._meta.fields[spec.attr]


def api_field(spec: catalogue.Field, column: pw.Field) -> Field:
    """The JSON field of a writable catalogue field: its kind, length and limits
    from the catalogue, its nullability (and a reference's model) from the column."""
    if spec.is_ref:
        description = spec.help or f"Id of an existing {_label(column.rel_model)}."
        active_rep = spec.format == catalogue.OWNER
        return Field(
            spec.name,
            spec.attr,
            "ref",
            description,
            nullable=column.null,
            model=column.rel_model,
            active_rep=active_rep,
            minimum=1,
            maximum=MAX_ID,
        )
    if spec.type == catalogue.NUMBER:
        return Field(
            spec.name, spec.attr, "integer", spec.help, nullable=column.null, minimum=0, maximum=spec.maximum
        )
    if spec.type == catalogue.BOOL:
        return Field(spec.name, spec.attr, "boolean", spec.help, nullable=column.null)
    if spec.type != catalogue.TEXT:
        raise ValueError(f"The API cannot write {spec.type} fields such as {spec.name!r} yet.")
    return Field(
        spec.name,
        spec.attr,
        _FORMAT_KINDS.get(spec.format, "string"),
        spec.help or _FORMAT_HELP.get(spec.format, ""),
        required=spec.required,
        nullable=column.null,
        max_length=spec.max_length,
    )


def _label(model: type) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", model.__name__).lower()


@dataclass(frozen=True)
class Resource:
    """A record type the API creates and updates: its writable fields, the keys
    it shows but that only change some other way, and why."""

    name: str
    fields: tuple[Field, ...]
    read_only: frozenset[str] = frozenset()
    read_only_reason: str = "Read-only."
    create_rule: Callable[[dict], Errors] | None = None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)


# Keys the API shows that are no catalogue field: worked out from the record
# (its id, display name and labels) or, for a lead's qualification findings,
# keyed by the configurable qualification fields (``leads.stages.fields``).
SHOWN_ONLY = {
    catalogue.LEAD: ("id", "name", "stage_label", "status_reason_label", "qualification"),
    catalogue.CONTACT: ("id", "name"),
    catalogue.ACCOUNT: ("id",),
}


def resource(record: str, **options) -> Resource:
    """The API resource of ``record``: the catalogue fields it exposes that
    someone may write, and the exposed rest as read-only."""
    specs = [spec for spec in catalogue.writable(record) if spec.api]
    read_only = {spec.name for spec in catalogue.exposed(record) if not spec.writers}
    return Resource(
        record.capitalize(),
        tuple(api_field(spec, column_of(record, spec)) for spec in specs),
        read_only=frozenset(read_only | set(SHOWN_ONLY[record])),
        **options,
    )


# A sales rep may change only these fields, and only of their own leads (W2).
LEAD_PERSON_FIELDS = catalogue.writable_by(catalogue.LEAD, REP)

LEAD = resource(
    catalogue.LEAD,
    read_only_reason="Changes only through POST /api/v1/leads/{lead_id}/actions/{action}.",
)
CONTACT = resource(
    catalogue.CONTACT,
    create_rule=lambda values: (
        []
        if values.get("email") or values.get("first_name") or values.get("last_name")
        else [(None, "Give at least an email, a first name or a last name.")]
    ),
)
ACCOUNT = resource(catalogue.ACCOUNT)

_NOTE = Field("note", "note", "string", "Shown in the lead's history.", max_length=NOTE_MAX)
ACTION_ARGS: dict[str, tuple[Field, ...]] = {
    "move": (
        Field(
            "stage",
            "stage",
            "integer",
            "Target stage (P1).",
            required=True,
            nullable=False,
            minimum=1,
            maximum=5,
        ),
    ),
    "assign": (
        Field(
            "owner_id",
            "owner_id",
            "ref",
            "The sales rep who gets the lead (P6).",
            required=True,
            nullable=False,
            model=User,
            active_rep=True,
            minimum=1,
            maximum=MAX_ID,
        ),
    ),
    "qualify": (
        Field(
            "values",
            "values",
            "object",
            "Qualification findings by field key (P5): text for text fields, one of the "
            "choices for choice fields, true/false for yes/no fields.",
            required=True,
            nullable=False,
        ),
    ),
    "disqualify": (
        Field(
            "reason",
            "reason",
            "enum",
            "Why the lead is closed.",
            required=True,
            nullable=False,
            choices=tuple(lifecycle.DISQUALIFY_REASONS),
        ),
    ),
}
ACTION_HELP = {
    "move": "P1: move an open lead to any stage by hand (body: stage).",
    "ready_for_tp": "P2: from stage 2, hand the lead to teleprospecting (stage 3).",
    "sales_ready": "P3/P5: mark the lead sales-ready; it goes to stage 5.",
    "tp_accept": "P4: a teleprospector accepts a stage-3 lead, which claims it; it moves to stage 4.",
    "qualify": "P5: record the teleprospecting findings (body: values); another teleprospector's claim is a 403.",
    "assign": "P6: give a stage-5 lead to a sales rep (body: owner_id).",
    "sales_accept": "P6: the owning rep accepts the lead.",
    "decline": "R6: the owning rep hands the lead back to the unassigned queue.",
    "convert": "P6: a sales-accepted lead becomes an opportunity (status qualified).",
    "disqualify": "P6: close the lead as disqualified (body: reason).",
}
