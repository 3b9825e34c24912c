"""The JSON API's checks: a request body parsed and cleaned against a resource
(``leads.api.resources``) or a stage action's arguments, and the query
parameters of the lists.

Error convention: every refusal is ``{"errors": [{"field", "reason"}]}``.
400 when the body as a whole is at fault (malformed JSON, not an object, empty:
``field: null``); 422 for refused values (unknown or read-only fields, wrong
types, lengths, shapes, ids that do not exist, numbers past 64 bits, text holding
a NUL character anywhere in the body, bad or unknown query parameters), with one
entry per faulty field; 401 no valid token; 403
the token's role may not call the route; 404 no such record (or one the
token's user may not see); 409 the lead's state refuses the stage action.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from auth.models import REP
from leads.api.resources import _NOTE, ACTION_ARGS, Errors, Field, Resource, _label
from leads.core import validation
from leads.core.numbers import MAX_ID, in_int64, whole_number
from leads.records import listing
from leads.stages.fields import active_fields

MAX_PER_PAGE = 200
MAX_PAGE = listing.MAX_PAGE
QUALIFICATION_TEXT_MAX = 2000


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
    if not (isinstance(data, dict) or (isinstance(data, list) and allow_list)):
        return None, [(None, "The body must be a JSON object" + (" or array." if allow_list else "."))]
    too_large = [(path, "A number out of range: at most 19 digits.") for path in _huge_numbers(data)]
    if too_large:
        return None, too_large
    if isinstance(data, list):
        return data, []  # each item is checked on its own: a bad one never stops the others
    nul = validation.find_nul(data)
    if nul is not None:
        return None, [(nul, validation.NUL_REASON)]
    return data, []


def _huge_numbers(value, path: str | None = None) -> list[str | None]:
    """Where ``value`` holds an integer no 64-bit column takes (``a.b`` for a key
    in an object, ``[2].a`` in an array): such a number is refused before any
    check reaches the database with it, wherever it sits (a reference, a
    segment's value, an interaction's properties)."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _huge_numbers(item, _join(path, str(key)))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _huge_numbers(item, f"{path or ''}[{i}]")]
    if isinstance(value, int) and not isinstance(value, bool) and not in_int64(value):
        return [path]
    return []


def _join(path: str | None, key: str) -> str:
    return key if path is None else f"{path}.{key}"


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


# The checks every door shares: an email in its normalised form, a country code
# upper-cased from the one list (``leads.core.validation``).
_FORMAT_CHECKS = {"email": validation.check_email, "country": validation.check_country}


def _clean_string(spec: Field, value) -> tuple[object, str | None]:
    if not isinstance(value, str):
        return None, "Must be a string."
    value = value.strip()
    if not value:
        if spec.required:
            return None, "Must not be blank."
        if spec.kind in ("email", "country"):  # a blank is no address or code: null clears it
            return (
                None,
                "Must not be blank; send null to clear it." if spec.nullable else "Must not be blank.",
            )
        return (None if spec.nullable else ""), None
    if spec.kind in _FORMAT_CHECKS:  # first: "France" is no country, whatever its length
        value, reason = _FORMAT_CHECKS[spec.kind](value)
        if reason:
            return None, reason
    if spec.max_length and len(value) > spec.max_length:
        return None, f"At most {spec.max_length} characters."
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
    args: Mapping[str, str], name: str, errors: Errors, default=None, minimum: int = 1, maximum: int = MAX_ID
):
    """A whole-number query parameter from ``minimum`` to ``maximum`` (by default
    the range of a record id); a bad one is added to ``errors``."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    value = whole_number(raw, minimum, maximum)
    if value is None:
        errors.append((name, f"Must be a whole number from {minimum} to {maximum}."))
        return default
    return value


def parse_search_arg(args: Mapping[str, str], errors: Errors) -> str:
    """The ``q`` search words, within the lead list's limits; a bad one is added to ``errors``."""
    q = " ".join((args.get("q") or "").split())
    if validation.has_nul(q):
        errors.append(("q", validation.NUL_REASON))
        return ""
    if len(q) > listing.MAX_QUERY_LENGTH or len(q.split()) > listing.MAX_QUERY_WORDS:
        errors.append(
            ("q", f"At most {listing.MAX_QUERY_LENGTH} characters and {listing.MAX_QUERY_WORDS} words.")
        )
        return ""
    return q
