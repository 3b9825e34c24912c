"""The JSON API's contract in one place.

One registry drives both the checks and the documentation:

- ``LEAD``, ``CONTACT``, ``ACCOUNT`` list each resource's writable fields, built
  from the field catalogue (``leads.core.fields``: which fields, who writes
  them, their lengths) and the model columns (nullability, referenced models),
  and ``ACTION_ARGS`` the arguments of each stage action. ``validate`` cleans a
  request body against them; the OpenAPI request schemas are generated from them.
- The ``*_json`` functions serialise records explicitly (no model dumping):
  the catalogue fields the API exposes, plus a few keys worked out from the
  record (``SHOWN_ONLY``); the response schemas beside them are built the same way.
- ``@operation(...)`` documents a view; ``openapi_document`` walks the URL map
  and builds the OpenAPI 3.1 document from those declarations and each route's
  policy, so a route cannot be served without being documented (a test checks).

Error convention: every refusal is ``{"errors": [{"field", "reason"}]}``.
400 for anything wrong in what the client sent (malformed JSON, a body that is
not an object, unknown or read-only fields, wrong types, lengths, shapes, ids
that do not exist, bad query parameters), with one entry per faulty field and
``field: null`` when the body as a whole is at fault; 401 no valid token; 403
the token's role may not call the route; 404 no such record (or one the
token's user may not see); 409 the lead's state refuses the stage action.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import peewee as pw

from auth.models import REP, Team, User
from leads.core import fields as catalogue
from leads.core import lifecycle
from leads.records import listing
from leads.records.models import Account, Campaign, Contact, Lead, LeadHistory, ProductLine
from leads.stages.fields import active_fields

MAX_PER_PAGE = 200
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
COUNTRY_RE = re.compile(r"[A-Za-z]{2}")
NOTE_MAX = 2000
QUALIFICATION_TEXT_MAX = 2000

Errors = list[tuple[str | None, str]]


# --------------------------------------------------------------------------- fields


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
            out["format"] = "email"
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
    "tp_accept": "P4: a teleprospector accepts a stage-3 lead; it moves to stage 4.",
    "qualify": "P5: record the teleprospecting findings (body: values).",
    "assign": "P6: give a stage-5 lead to a sales rep (body: owner_id).",
    "sales_accept": "P6: the owning rep accepts the lead.",
    "decline": "R6: the owning rep hands the lead back to the unassigned queue.",
    "convert": "P6: a sales-accepted lead becomes an opportunity (status qualified).",
    "disqualify": "P6: close the lead as disqualified (body: reason).",
}


# --------------------------------------------------------------------------- validation


def parse_body(
    raw: bytes, is_json: bool, required: bool = True, allow_list: bool = False
) -> tuple[dict | list | None, Errors]:
    """The request body as a JSON object (or array, with ``allow_list``), or the
    reason it is not one (field None).

    An empty body is ``{}`` when ``required`` is false (stage actions without arguments)."""
    if not raw.strip():
        return ({}, []) if not required else (None, [(None, "A JSON object body is required.")])
    if not is_json:
        return None, [(None, "Send the body as JSON with Content-Type: application/json.")]
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        return None, [(None, f"Malformed JSON: {error}.")]
    if isinstance(data, list) and allow_list:
        return data, []
    if not isinstance(data, dict):
        return None, [(None, "The body must be a JSON object" + (" or array." if allow_list else "."))]
    return data, []


def validate(
    resource: Resource, payload: Mapping, creating: bool, writable: Iterable[str] | None = None
) -> tuple[dict, Errors]:
    """Clean ``payload`` for ``resource``; returns ``{model attr: value}`` and the errors.

    Only the resource's fields are accepted, and of those only ``writable`` when
    given (a rep's narrower set); required fields must be there on create."""
    allowed = resource.names if writable is None else frozenset(writable)
    values: dict = {}
    errors: Errors = []
    for key, value in payload.items():
        spec = resource.field(key)
        if spec is None:
            errors.append((key, resource.read_only_reason if key in resource.read_only else "Unknown field."))
        elif key not in allowed:
            errors.append((key, "Your role may not change this field."))
        else:
            cleaned, reason = clean(spec, value)
            if reason:
                errors.append((key, reason))
            else:
                values[spec.attr] = cleaned
    if creating:
        errors += [(f.name, "Required.") for f in resource.fields if f.required and f.name not in payload]
        if not errors and resource.create_rule:
            errors += resource.create_rule(values)
    return values, errors


def clean(spec: Field, value) -> tuple[object, str | None]:
    """One value checked and normalised for ``spec``: (value, None) or (None, reason)."""
    if value is None:
        return (None, None) if spec.nullable and not spec.required else (None, "Must not be null.")
    if spec.kind in ("string", "email", "country", "enum"):
        return _clean_string(spec, value)
    if spec.kind in ("integer", "ref"):
        return _clean_integer(spec, value)
    if spec.kind == "boolean":
        return (value, None) if isinstance(value, bool) else (None, "Must be true or false.")
    if spec.kind == "object":
        return (value, None) if isinstance(value, dict) else (None, "Must be a JSON object.")
    raise AssertionError(f"unknown field kind {spec.kind}")


def _clean_string(spec: Field, value) -> tuple[object, str | None]:
    if not isinstance(value, str):
        return None, "Must be a string."
    value = value.strip()
    if not value:
        if spec.required:
            return None, "Must not be blank."
        return (None if spec.nullable else ""), None
    if spec.max_length and len(value) > spec.max_length:
        return None, f"At most {spec.max_length} characters."
    if spec.kind == "email" and not EMAIL_RE.fullmatch(value):
        return None, "Not a valid email address."
    if spec.kind == "country":
        if not COUNTRY_RE.fullmatch(value):
            return None, "A two-letter ISO 3166 country code, e.g. FR."
        value = value.upper()
    if spec.choices and value not in spec.choices:
        return None, "One of: " + ", ".join(spec.choices) + "."
    return value, None


def _clean_integer(spec: Field, value) -> tuple[object, str | None]:
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "Must be an integer."
    if spec.minimum is not None and value < spec.minimum:
        return None, f"Must be at least {spec.minimum}."
    if spec.maximum is not None and value > spec.maximum:
        return None, f"Must be at most {spec.maximum}."
    if spec.kind == "ref":
        return _check_ref(spec, value)
    return value, None


def _check_ref(spec: Field, value: int) -> tuple[object, str | None]:
    row = spec.model.get_or_none(spec.model.id == value)
    if spec.active_rep:
        if row is None or row.role != REP or not row.is_active:
            return None, "Must be the id of an active sales rep."
    elif row is None:
        return None, f"No {_label(spec.model)} with this id."
    return value, None


def validate_action(action: str, payload: Mapping) -> tuple[dict, str | None, Errors]:
    """The arguments of a stage action: (``perform`` keyword arguments, note, errors)."""
    specs = {f.name: f for f in (*ACTION_ARGS.get(action, ()), _NOTE)}
    args: dict = {}
    errors: Errors = []
    for key, value in payload.items():
        spec = specs.get(key)
        if spec is None:
            errors.append((key, f"Unknown field for the {action} action."))
            continue
        cleaned, reason = clean(spec, value)
        if reason:
            errors.append((key, reason))
        elif spec.kind == "object":
            args[spec.attr], nested = clean_qualification(cleaned)
            errors += [(f"{key}.{name}", why) for name, why in nested]
        else:
            args[spec.attr] = cleaned
    errors += [(name, "Required.") for name, spec in specs.items() if spec.required and name not in payload]
    note = args.pop("note", None)
    return args, note, errors


def clean_qualification(values: Mapping) -> tuple[dict, Errors]:
    """P5 findings checked against the active qualification fields (their kinds and choices)."""
    fields = {f.key: f for f in active_fields()}
    cleaned: dict = {}
    errors: Errors = []
    for key, value in values.items():
        spec = fields.get(key)
        if spec is None:
            errors.append((key, "Not an active qualification field."))
        elif spec.kind == "yesno":
            if isinstance(value, bool):
                cleaned[key] = value
            else:
                errors.append((key, "Must be true or false."))
        elif not isinstance(value, str):
            errors.append((key, "Must be a string."))
        elif spec.kind == "select" and value not in spec.choices:
            errors.append((key, "One of: " + ", ".join(spec.choices) + "."))
        elif len(value) > QUALIFICATION_TEXT_MAX:
            errors.append((key, f"At most {QUALIFICATION_TEXT_MAX} characters."))
        else:
            cleaned[key] = value.strip()
    return cleaned, errors


def parse_int_arg(
    args: Mapping[str, str], name: str, errors: Errors, default=None, minimum: int = 1, maximum=None
):
    """A positive integer query parameter; a bad one is added to ``errors``."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
        bound = f" between {minimum} and {maximum}" if maximum is not None else f" of at least {minimum}"
        errors.append((name, f"Must be a whole number{bound}."))
        return default
    return int(raw)


def parse_search_arg(args: Mapping[str, str], errors: Errors) -> str:
    """The ``q`` search words, within the lead list's limits; a bad one is added to ``errors``."""
    q = " ".join((args.get("q") or "").split())
    if len(q) > listing.MAX_QUERY_LENGTH or len(q.split()) > listing.MAX_QUERY_WORDS:
        errors.append(
            ("q", f"At most {listing.MAX_QUERY_LENGTH} characters and {listing.MAX_QUERY_WORDS} words.")
        )
        return ""
    return q


# --------------------------------------------------------------------------- serialisation


def iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a Z."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


class Names:
    """Display names of the rows that records point at, loaded in one query per
    model for a whole page (no N+1)."""

    LABELS = {
        Contact: lambda row: row.name,
        Account: lambda row: row.name,
        Campaign: lambda row: row.name,
        ProductLine: lambda row: row.name,
        Team: lambda row: row.name,
        User: lambda row: row.name,
    }

    def __init__(self, wanted: Mapping[type, Iterable[int | None]]):
        self._names: dict[tuple[type, int], str] = {}
        for model, ids in wanted.items():
            ids = {i for i in ids if i is not None}
            if ids:
                label = self.LABELS.get(model, lambda row: row.name)
                for row in model.select().where(model.id.in_(sorted(ids))):
                    self._names[model, row.id] = label(row)

    def ref(self, model: type, row_id: int | None) -> dict | None:
        """``{"id", "name"}`` for a pointed-at row, or None."""
        if row_id is None:
            return None
        return {"id": row_id, "name": self._names.get((model, row_id))}

    @classmethod
    def for_records(cls, record: str, rows: Iterable) -> Names:
        """The names every reference the API shows of ``rows`` (of ``record``) needs."""
        rows = list(rows)
        wanted: dict[type, list] = {}
        for spec, model in _SHOWN_REFS[record]:
            wanted.setdefault(model, []).extend(getattr(row, spec.name) for row in rows)
        return cls(wanted)

    @classmethod
    def for_leads(cls, leads: Iterable[Lead]) -> Names:
        return cls.for_records(catalogue.LEAD, leads)

    @classmethod
    def for_contacts(cls, contacts: Iterable[Contact]) -> Names:
        return cls.for_records(catalogue.CONTACT, contacts)

    @classmethod
    def for_accounts(cls, accounts: Iterable[Account]) -> Names:
        return cls.for_records(catalogue.ACCOUNT, accounts)

    @classmethod
    def for_history(cls, rows: Iterable[LeadHistory]) -> Names:
        return cls({User: (row.actor_id for row in rows)})


# What the API shows of each record: the catalogue's exposed columns, and the
# model each shown reference points at.
_SHOWN = {record: catalogue.exposed(record) for record in MODELS}
_SHOWN_REFS = {
    record: tuple((spec, column_of(record, spec).rel_model) for spec in specs if spec.is_ref)
    for record, specs in _SHOWN.items()
}
_REF_MODELS = {record: {spec.name: model for spec, model in refs} for record, refs in _SHOWN_REFS.items()}


def fields_json(record: str, row, names: Names) -> dict:
    """The catalogue fields the API shows of ``row``: times in ISO 8601, a
    reference as its id (``<attr>_id``) and ``{"id", "name"}`` (``<attr>``)."""
    out: dict = {}
    models = _REF_MODELS[record]
    for spec in _SHOWN[record]:
        value = getattr(row, spec.name)
        if spec.is_ref:
            out[spec.name], out[spec.attr] = value, names.ref(models[spec.name], value)
        else:
            out[spec.name] = iso(value) if spec.type == catalogue.DATE else value
    return out


def lead_json(lead: Lead, names: Names) -> dict:
    """A lead as the API shows it."""
    return {
        "id": lead.id,
        "name": lead.name,
        **fields_json(catalogue.LEAD, lead, names),
        "stage_label": lead.stage_label,
        "status_reason_label": lead.status_reason_label,
        "qualification": dict(lead.qualification or {}),
    }


def contact_json(contact: Contact, names: Names) -> dict:
    """A contact as the API shows it."""
    return {"id": contact.id, "name": contact.name, **fields_json(catalogue.CONTACT, contact, names)}


def account_json(account: Account, names: Names) -> dict:
    """An account as the API shows it."""
    return {"id": account.id, **fields_json(catalogue.ACCOUNT, account, names)}


def history_json(row: LeadHistory, names: Names) -> dict:
    """One P7 history entry: what changed, from, to, who or what rule, when."""
    stage = row.kind == "stage"
    return {
        "id": row.id,
        "kind": row.kind,
        "old_value": row.old_value,
        "new_value": row.new_value,
        "old_label": _stage_name(row.old_value) if stage else None,
        "new_label": _stage_name(row.new_value) if stage else None,
        "actor_id": row.actor_id,
        "actor": names.ref(User, row.actor_id),
        "via": row.via,
        "note": row.note,
        "created_at": iso(row.created_at),
    }


def _stage_name(value: str | None) -> str | None:
    if value is None or not value.isdigit():
        return None
    return lifecycle.STAGES.get(int(value))


def page_json(items: list[dict], page: int, per_page: int, total: int) -> dict:
    """A list answer: ``{"data", "page", "per_page", "total"}``."""
    return {"data": items, "page": page, "per_page": per_page, "total": total}


# --------------------------------------------------------------------------- response schemas


def _nullable(kind: str, **extra) -> dict:
    return {"type": [kind, "null"], **extra}


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_REF = {"oneOf": [{"$ref": "#/components/schemas/Ref"}, {"type": "null"}]}


def _object(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


_JSON_TYPES = {catalogue.TEXT: "string", catalogue.NUMBER: "integer", catalogue.BOOL: "boolean"}


def _value_schema(spec: catalogue.Field, column: pw.Field) -> dict:
    """How the API shows a catalogue field's value, as a JSON Schema."""
    base = _JSON_TYPES.get(spec.type, "string")
    out: dict = {"type": [base, "null"] if column.null else base}
    if spec.format == catalogue.EMAIL:
        out["format"] = "email"
    if spec.type == catalogue.DATE:
        out["format"] = "date-time"
    if spec.choices:
        out["enum"] = list(spec.choices)
    return out


def _fields_schema(record: str) -> dict:
    """The response properties of the catalogue fields the API shows of ``record``
    (a reference: its id and its ``Ref``)."""
    properties = {}
    for spec in _SHOWN[record]:
        column = column_of(record, spec)
        properties[spec.name] = _value_schema(spec, column)
        if spec.is_ref:
            properties[spec.attr] = _REF
    return properties


OUTPUT_SCHEMAS = {
    "Ref": _object({"id": _INT, "name": _nullable("string")}),
    "Lead": _object(
        {
            "id": _INT,
            "name": _STRING,
            **_fields_schema(catalogue.LEAD),
            "stage_label": _STRING,
            "status_reason_label": _STRING,
            "qualification": {"type": "object", "additionalProperties": True},
        }
    ),
    "Contact": _object({"id": _INT, "name": _STRING, **_fields_schema(catalogue.CONTACT)}),
    "Account": _object({"id": _INT, **_fields_schema(catalogue.ACCOUNT)}),
    "HistoryEntry": _object(
        {
            "id": _INT,
            "kind": {
                "type": "string",
                "description": "stage, status, status_reason, sales_ready, owner, qualification",
            },
            "old_value": _nullable("string"),
            "new_value": _nullable("string"),
            "old_label": _nullable("string", description="Stage name, for stage changes."),
            "new_label": _nullable("string", description="Stage name, for stage changes."),
            "actor_id": _nullable("integer"),
            "actor": _REF,
            "via": _nullable("string", description="The page, API call or rule that made the change."),
            "note": _nullable("string"),
            "created_at": _TIME,
        }
    ),
    "InteractionIn": {
        "type": "object",
        "required": ["type", "external_id"],
        "additionalProperties": False,
        "description": "Whose it is: lead_id, contact_id or email (a contact's, else the newest lead's).",
        "properties": {
            "type": {
                "type": "string",
                "maxLength": 50,
                "description": "email_opened, form_submitted, web_visit… or a custom type.",
            },
            "external_id": {
                "type": "string",
                "maxLength": 200,
                "description": "Unique per source: the same event posted twice counts once (E3).",
            },
            "source": {"type": "string", "maxLength": 100, "description": 'Defaults to "api".'},
            "occurred_at": {"type": "string", "format": "date-time", "description": "Defaults to now."},
            "properties": {"type": "object", "description": "page_id, event_id, campaign_id…"},
            "lead_id": _INT,
            "contact_id": _INT,
            "email": {"type": "string", "format": "email"},
        },
    },
    "InteractionResults": _object(
        {
            "created": _INT,
            "duplicates": _INT,
            "rejected": _INT,
            "data": {
                "type": "array",
                "items": _object(
                    {
                        "index": _INT,
                        "status": {"type": "string", "enum": ["created", "duplicate", "rejected"]},
                        "id": _nullable("integer"),
                        "errors": {
                            "type": "array",
                            "items": _object({"field": _nullable("string"), "reason": _STRING}),
                        },
                    }
                ),
            },
        }
    ),
    "LeadScores": _object(
        {
            "data": {
                "type": "array",
                "items": _object(
                    {
                        "model_id": _INT,
                        "model": _STRING,
                        "live": _BOOL,
                        "score": _INT,
                        "grade": _nullable("string"),
                        "sales_ready": _BOOL,
                        "computed_at": _TIME,
                        "breakdown": {
                            "type": "array",
                            "items": _object(
                                {
                                    "rule_id": _STRING,
                                    "label": _STRING,
                                    "points": _INT,
                                    "occurrences": _INT,
                                    "capped": _BOOL,
                                }
                            ),
                        },
                    }
                ),
            }
        }
    ),
    "Error": _object(
        {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
                        "field": _nullable(
                            "string",
                            description="The faulty field or query parameter; null for the whole request.",
                        ),
                        "reason": _STRING,
                    }
                ),
            }
        }
    ),
}


# --------------------------------------------------------------------------- OpenAPI


@dataclass(frozen=True)
class Param:
    """A documented query parameter."""

    name: str
    schema: dict
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """What a view documents: the rest (path, method, parameters, security) comes from its route and policy."""

    summary: str
    tag: str
    response: str | None = None  # component schema of the success body
    status: int = 200
    body: str | None = None  # component schema of the request body
    body_required: bool = True
    query: tuple[Param, ...] = ()
    path: Mapping[str, dict] = field(default_factory=dict)  # schema overrides for path parameters
    errors: tuple[int, ...] = (400, 401, 403, 404)
    description: str = ""


def operation(**kwargs):
    """Document a view for the OpenAPI document (the registry is the URL map)."""

    def decorate(view):
        view.openapi = Operation(**kwargs)
        return view

    return decorate


def search_param(columns: str) -> Param:
    """The documented ``q`` parameter of a directory list."""
    return Param(
        "q",
        {"type": "string", "maxLength": listing.MAX_QUERY_LENGTH},
        f"Words (at most {listing.MAX_QUERY_WORDS}), each a case-insensitive prefix of the {columns}.",
    )


PAGE_PARAMS = (
    Param("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number, from 1."),
    Param("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}, "Rows per page."),
)

ERROR_RESPONSES = {
    400: ("BadRequest", "Invalid request: one entry per faulty field (field null: the body as a whole)."),
    401: ("Unauthorized", "No valid API token (missing, unknown, revoked, or its user deactivated)."),
    403: ("Forbidden", "The token's role may not call this route."),
    404: ("NotFound", "No such record, or one the token's user may not see."),
    409: ("Conflict", "The lead's current state (or the caller's role) refuses this stage action."),
}

INFO = {
    "title": "leadflow API",
    "version": "1",
    "description": (
        "Token-authenticated JSON API (send `Authorization: Bearer <token>`). "
        "Tokens act as their user and role: a sales rep's token sees only that rep's leads. "
        'Errors are always `{"errors": [{"field", "reason"}]}`: 400 invalid request '
        "(every faulty field listed; field null for a malformed body), 401 no valid token, "
        "403 role refused, 404 not found or not visible, 409 stage action refused. "
        "Times are ISO 8601 in UTC."
    ),
}


def request_schemas() -> dict:
    """Create/update request schemas generated from the resources' writable fields."""
    schemas = {}
    for resource in (LEAD, CONTACT, ACCOUNT):
        properties = {f.name: f.schema() for f in resource.fields}
        required = sorted(f.name for f in resource.fields if f.required)
        schemas[f"{resource.name}Create"] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            **({"required": required} if required else {}),
        }
        schemas[f"{resource.name}Update"] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            "description": "Only the fields sent change.",
        }
    action_fields = {f.name: f for specs in ACTION_ARGS.values() for f in specs}
    schemas["ActionRequest"] = {
        "type": "object",
        "description": "Arguments by action: "
        + "; ".join(f"{action}: {', '.join(f.name for f in specs)}" for action, specs in ACTION_ARGS.items())
        + "; note is accepted by every action.",
        "properties": {**{name: f.schema() for name, f in action_fields.items()}, "note": _NOTE.schema()},
        "additionalProperties": False,
    }
    return schemas


def _list_schema(item: str) -> dict:
    return _object(
        {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "page": _INT,
            "per_page": _INT,
            "total": _INT,
        }
    )


def components() -> dict:
    """Schemas, error responses and the bearer security scheme."""
    schemas = {**OUTPUT_SCHEMAS, **request_schemas()}
    for item in ("Lead", "Contact", "Account"):
        schemas[f"{item}Page"] = _list_schema(item)
    schemas["History"] = _object(
        {"data": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryEntry"}}}
    )
    return {
        "schemas": schemas,
        "responses": {
            name: {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            for name, description in ERROR_RESPONSES.values()
        },
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token (lf_…)."}
        },
    }


RULE_ARG = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")


def openapi_path(rule: str) -> str:
    """``/leads/<int:lead_id>`` → ``/leads/{lead_id}``."""
    return RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule)


def _path_parameters(rule, doc: Operation) -> list[dict]:
    params = []
    for match in RULE_ARG.finditer(rule.rule):
        name = match["name"]
        schema = {"type": "integer", "minimum": 1} if match["converter"] == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": doc.path.get(name, schema)})
    return params


def _operation_object(rule, view) -> dict:
    doc: Operation = view.openapi
    policy = getattr(view, "policy", None)
    out: dict = {"operationId": rule.endpoint.split(".", 1)[1], "summary": doc.summary, "tags": [doc.tag]}
    if doc.description:
        out["description"] = doc.description
    parameters = _path_parameters(rule, doc) + [
        {"name": p.name, "in": "query", "required": False, "schema": p.schema, "description": p.description}
        for p in doc.query
    ]
    if parameters:
        out["parameters"] = parameters
    if doc.body:
        out["requestBody"] = {
            "required": doc.body_required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{doc.body}"}}},
        }
    success = {"description": "OK" if doc.status == 200 else "Created"}
    if doc.response:
        success["content"] = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{doc.response}"}}
        }
    out["responses"] = {str(doc.status): success}
    if policy is not None and policy.public:
        out["security"] = []
    else:
        out["x-roles"] = sorted(policy.roles) if policy else []
        for code in doc.errors:
            out["responses"][str(code)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"}
    return out


def openapi_document(url_map, view_functions: Mapping[str, Callable], prefix: str = "/api/v1/") -> dict:
    """The OpenAPI 3.1 document of every documented route under ``prefix``
    (the API's blueprints: leads, contacts and accounts; campaigns)."""
    paths: dict[str, dict] = {}
    for rule in sorted(url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(prefix):
            continue
        view = view_functions[rule.endpoint]
        if getattr(view, "openapi", None) is None:
            continue  # undocumented: the OpenAPI test names it
        item = paths.setdefault(openapi_path(rule.rule), {})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            item[method.lower()] = _operation_object(rule, view)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": components(),
    }
