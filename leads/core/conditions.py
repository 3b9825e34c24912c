"""Conditions over a lead's facts: the one small language shared by scoring
audiences (S1), attribute rules (S2), behaviour-rule property filters,
qualification terms (Q6) and the assignment rules (R4).

A ``Condition`` is ``(entity, field, operator, value)``; a ``Group`` joins
conditions, or further groups, with AND or OR. Both are frozen values that
evaluate against plain ``Facts`` and round-trip through JSON dicts
(``to_dict`` / ``from_dict``). The ``validate_*`` functions check raw dicts
from a form or the API and return ``FieldError(field, reason)`` items that the
UI shows inline and the API returns as they are. No database, no Flask.

The semantics, chosen so that a marketer can predict them:

- Text is compared trimmed and case-insensitively.
- A number, or a numeric string, is compared as a number; dates, datetimes and
  ISO strings as moments. When one side is a date without a time, the two are
  compared by day ("created_at ≥ 2024-05-01" includes the whole of May 1st).
- Missing is empty: an absent field, ``None``, blank text and an empty list
  are all empty. Every operator but ``is_empty`` is false on an empty value —
  ``not_equals`` too, as in SQL — so "country is not FR" does not pick up the
  leads that have no country; add "or country is empty" to include them.
- A list value (tags, several pages…) matches when any of its items does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, NamedTuple

from leads.core import fields as catalogue
from leads.core.fields import ACCOUNT, BOOL, CONTACT, DATE, LEAD, NUMBER
from leads.core.fields import TEXT as TEXT  # the catalogue's kinds are the language's

INTERACTION = "interaction"
# The records a segment or an attribute rule can look at; INTERACTION is only
# for filters over an interaction's properties.
RECORD_ENTITIES = (LEAD, CONTACT, ACCOUNT)

OPERATORS = {
    "equals": "equals",
    "not_equals": "does not equal",
    "contains": "contains",
    "in_list": "is one of",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
}
UNARY = frozenset({"is_empty", "is_not_empty"})
ORDERING = frozenset({"gt", "gte", "lt", "lte"})

# The fields the facts loader puts in each record dict, with their kind: the
# catalogue's (``leads.core.fields``) that conditions may test. The builder
# offers these; validation refuses other fields of these entities and values
# that cannot match the field's kind.
FIELDS: dict[str, dict[str, str]] = {
    entity: {spec.name: spec.type for spec in catalogue.testable(entity)} for entity in RECORD_ENTITIES
}
# Operators that make sense for each kind (text and unknown kinds: all).
_KIND_OPERATORS = {
    NUMBER: frozenset(OPERATORS) - {"contains"},
    DATE: frozenset(OPERATORS) - {"contains"},
    BOOL: frozenset({"equals", "not_equals", "is_empty", "is_not_empty"}),
}

AND, OR = "and", "or"
MAX_TEXT = 500
MAX_ITEMS = 500
MAX_DEPTH = 5
_SEQUENCES = (list, tuple, set, frozenset)
_COLLECTIONS = (*_SEQUENCES, dict)
_NUMBERS = (int, float, Decimal)
_NUMBERS_OR_TEXT = (*_NUMBERS, str)
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class FieldError(NamedTuple):
    """One problem with a definition: where (a dotted path) and why, in words."""

    field: str
    reason: str

    def to_dict(self) -> dict:
        """The API's error item: ``{"field": ..., "reason": ...}``."""
        return {"field": self.field, "reason": self.reason}


class DefinitionError(ValueError):
    """A definition (segment, model, criteria) that does not validate."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{error.field}: {error.reason}" for error in self.errors))


# --- Facts -----------------------------------------------------------------


@dataclass(frozen=True)
class InteractionFact:
    """Something the person did, as the engine sees it (E3: ``key`` identifies it)."""

    type: str
    occurred_at: dt.datetime
    properties: Mapping[str, Any] = field(default_factory=dict)
    source: str = "api"
    external_id: str = ""

    @property
    def key(self) -> tuple:
        """What makes two facts the same event: ``(source, external_id)``; without an
        external id, the whole content."""
        if self.external_id:
            return (self.source, self.external_id)
        return (self.source, "", self.type.casefold(), as_utc(self.occurred_at), _frozen(self.properties))


@dataclass(frozen=True)
class Facts:
    """Everything the rules may look at for one lead: its record, its parent contact
    and account (either may be None, E1), and the interactions that count for it
    (S3: the caller gathers the lead's, its contact's or its account's contacts')."""

    lead: Mapping[str, Any] = field(default_factory=dict)
    contact: Mapping[str, Any] | None = None
    account: Mapping[str, Any] | None = None
    interactions: tuple[InteractionFact, ...] = ()

    def record(self, entity: str) -> Mapping[str, Any] | None:
        """The lead, contact or account dict (None when the lead has none)."""
        if entity == LEAD:
            return self.lead
        if entity == CONTACT:
            return self.contact
        return self.account if entity == ACCOUNT else None

    @cached_property
    def events(self) -> dict[str, list[InteractionFact]]:
        """The interactions once each (E3), grouped by casefolded type; worked out
        once per ``Facts`` and shared by every model and criteria that reads it."""
        return unique_by_type(self.interactions)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as naive UTC, how every timestamp is stored."""
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def unique_interactions(interactions) -> tuple[InteractionFact, ...]:
    """E3: one fact per event key, times as naive UTC, in time order.

    When two facts share a key but differ, the earliest (then the smallest)
    wins, so the result never depends on the order the facts were given in."""
    return tuple(sorted(_deduplicated(interactions), key=_position))


def unique_by_type(interactions) -> dict[str, list[InteractionFact]]:
    """``unique_interactions`` grouped by casefolded type (in no set order), so
    that each rule reads only its own type."""
    groups: dict[str, list[InteractionFact]] = {}
    for event in _deduplicated(interactions):
        groups.setdefault(event.type.casefold(), []).append(event)
    return groups


def matching_events(
    events: Mapping[str, list[InteractionFact]],
    interaction_type: str,
    filters: tuple[Condition, ...] = (),
    since: dt.datetime | None = None,
) -> list[InteractionFact]:
    """The events (grouped by ``unique_by_type``) of ``interaction_type`` that
    happened after ``since`` (None: ever) and whose properties pass ``filters``."""
    found = events.get(interaction_type.casefold(), ())
    if since is not None:
        found = [event for event in found if event.occurred_at > since]
    for condition in filters:
        found = [event for event in found if condition.test(event.properties)]
    return list(found)


def _deduplicated(interactions) -> Iterable[InteractionFact]:
    chosen: dict[tuple, InteractionFact] = {}
    for fact in interactions:
        if fact.occurred_at.tzinfo is not None:
            fact = InteractionFact(
                fact.type, as_utc(fact.occurred_at), fact.properties, fact.source, fact.external_id
            )
        key = (fact.source, fact.external_id) if fact.external_id else fact.key
        held = chosen.get(key)
        if held is None:
            chosen[key] = fact
        elif held is not fact and held != fact and _rank(fact) < _rank(held):
            chosen[key] = fact
    return chosen.values()


def _rank(fact: InteractionFact) -> tuple:
    return (fact.occurred_at, fact.type, repr(_frozen(fact.properties)))


def _position(fact: InteractionFact) -> tuple:
    # Keys are unique here, so (source, external_id) settles ties; only facts
    # without an external id need their content compared.
    content = "" if fact.external_id else repr(fact.key)
    return (fact.occurred_at, fact.source, fact.external_id, content)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict | Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


# --- Values ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Operand:
    """A condition's value read every way it can be compared, once."""

    text: str
    number: Decimal | None
    moment: dt.date | None
    boolean: bool | None


def _operand(value: Any) -> _Operand:
    if isinstance(value, bool):
        return _Operand("true" if value else "false", None, None, value)
    text = _text(value)
    return _Operand(text, _number(value), _moment(value), _BOOLS.get(text))


def _text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip().casefold()


def _number(value: Any) -> Decimal | None:
    """The value as a finite number, or None (booleans and dates are not numbers)."""
    if type(value) is int:
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, _NUMBERS_OR_TEXT):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _moment(value: Any) -> dt.date | None:
    """The value as a naive-UTC datetime or a date, or None."""
    if isinstance(value, dt.datetime):
        return as_utc(value)
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return as_utc(dt.datetime.fromisoformat(text))
    except ValueError:
        return None


def _compare_moments(a: dt.date, b: dt.date) -> int:
    if not isinstance(a, dt.datetime) or not isinstance(b, dt.datetime):
        a = a.date() if isinstance(a, dt.datetime) else a
        b = b.date() if isinstance(b, dt.datetime) else b
    return (a > b) - (a < b)


def is_empty(value: Any) -> bool:
    """Missing is empty: None, blank text and empty collections."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, _COLLECTIONS):
        return not value
    return False


def _items(value: Any) -> tuple:
    if isinstance(value, _SEQUENCES):
        return tuple(item for item in value if not is_empty(item))
    return (value,)


def _equal(actual: Any, expected: _Operand) -> bool:
    if isinstance(actual, bool):
        return expected.boolean is not None and actual == expected.boolean
    if isinstance(actual, _NUMBERS):
        number = _number(actual)
        return number is not None and number == expected.number
    if isinstance(actual, dt.date):
        return expected.moment is not None and _compare_moments(_moment(actual), expected.moment) == 0
    text = _text(actual)
    if text == expected.text:
        return True
    if expected.number is not None:
        number = _number(text)
        return number is not None and number == expected.number
    if expected.moment is not None:
        moment = _moment(text)
        return moment is not None and _compare_moments(moment, expected.moment) == 0
    return False


def _order(actual: Any, expected: _Operand) -> int | None:
    """-1, 0 or 1 comparing ``actual`` to the operand as numbers or moments; None
    when they cannot be compared."""
    if isinstance(actual, bool):
        return None
    if expected.number is not None:
        number = _number(actual)
        if number is not None:
            return (number > expected.number) - (number < expected.number)
    if expected.moment is not None:
        moment = _moment(actual)
        if moment is not None:
            return _compare_moments(moment, expected.moment)
    return None


def _ordering(*accepted: int) -> Callable[[Any, tuple[_Operand, ...]], bool]:
    def test(actual, operands):
        return any(_order(item, operands[0]) in accepted for item in _items(actual))

    return test


_TESTS: dict[str, Callable[[Any, tuple[_Operand, ...]], bool]] = {
    "equals": lambda actual, ops: any(_equal(item, ops[0]) for item in _items(actual)),
    "not_equals": lambda actual, ops: not any(_equal(item, ops[0]) for item in _items(actual)),
    "contains": lambda actual, ops: any(ops[0].text in _text(item) for item in _items(actual)),
    "in_list": lambda actual, ops: any(_equal(item, op) for item in _items(actual) for op in ops),
    "gt": _ordering(1),
    "gte": _ordering(0, 1),
    "lt": _ordering(-1),
    "lte": _ordering(-1, 0),
}


def split_list(value: Any) -> tuple | None:
    """An ``in_list`` value as a tuple of non-blank items: a list as is, text split on
    commas and new lines; None when it is neither."""
    if isinstance(value, str):
        value = re.split(r"[,\n]", value)
    if not isinstance(value, list | tuple):
        return None
    return tuple(item.strip() if isinstance(item, str) else item for item in value if not is_empty(item))


def as_integer(value: Any) -> int | None:
    """A whole number from JSON or a form field (12, "-5", 12.0), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit() and len(text) < 20:
            return int(text)
    return None


def as_property_filter(data: Any) -> Any:
    """A filter over an interaction's properties is a condition whose entity is
    ``interaction``; JSON may leave the entity out."""
    if isinstance(data, Mapping) and "entity" not in data:
        return {**data, "entity": INTERACTION}
    return data


def property_filters_to_json(filters: tuple[Condition, ...]) -> list[dict]:
    """Property filters as JSON, without the implied entity."""
    return [{k: v for k, v in condition.to_dict().items() if k != "entity"} for condition in filters]


# --- Conditions and groups -------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """``entity.field operator value``; build it with ``from_dict`` to have it checked."""

    entity: str
    field: str
    operator: str
    value: Any = None
    _operands: tuple[_Operand, ...] = field(init=False, repr=False, compare=False)
    _check: Callable | None = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.operator in UNARY:
            object.__setattr__(self, "value", None)
            values = ()
        elif self.operator == "in_list":
            object.__setattr__(self, "value", split_list(self.value) or ())
            values = self.value
        else:
            values = (self.value,)
        object.__setattr__(self, "_operands", tuple(_operand(value) for value in values))
        object.__setattr__(self, "_check", _TESTS.get(self.operator))

    def test(self, record: Mapping[str, Any] | None) -> bool:
        """Whether the condition holds for ``record`` (a field → value mapping;
        None is a record with nothing in it)."""
        actual = record.get(self.field) if record else None
        if self._check is None:  # is_empty, is_not_empty
            return is_empty(actual) == (self.operator == "is_empty")
        if actual is None or is_empty(actual):
            return False
        return self._check(actual, self._operands)

    def matches(self, facts: Facts) -> bool:
        """Whether the condition holds for the lead described by ``facts``."""
        return self.test(facts.record(self.entity))

    def describe(self) -> str:
        """The condition in words, e.g. "Contact job title contains 'director'"."""
        subject = self.field.replace("_", " ")
        if self.entity != INTERACTION:  # a property filter reads fine without it
            subject = f"{self.entity.capitalize()} {subject}"
        verb = OPERATORS[self.operator]
        if self.operator in UNARY:
            return f"{subject} {verb}"
        if self.operator == "in_list":
            return f"{subject} {verb} {', '.join(str(item) for item in self.value)}"
        return (
            f"{subject} {verb} {self.value!r}"
            if isinstance(self.value, str)
            else f"{subject} {verb} {self.value}"
        )

    def to_dict(self) -> dict:
        """The JSON form."""
        value = list(self.value) if self.operator == "in_list" else self.value
        return {"entity": self.entity, "field": self.field, "operator": self.operator, "value": value}

    @classmethod
    def from_dict(cls, data: Any, *, entities=RECORD_ENTITIES, fields=FIELDS) -> Condition:
        """Check and build a condition; raises ``DefinitionError`` when invalid."""
        errors = validate_condition(data, entities=entities, fields=fields)
        if errors:
            raise DefinitionError(errors)
        return build_condition(data)


@dataclass(frozen=True)
class Group:
    """Items (conditions, terms or groups) joined by AND or OR. An empty AND holds, an
    empty OR does not; validation refuses empty groups anyway."""

    op: str = AND
    items: tuple = ()

    def holds(self, leaf_holds: Callable[[Any], bool]) -> bool:
        """Whether the group holds, ``leaf_holds`` deciding each non-group item."""
        results = (
            item.holds(leaf_holds) if isinstance(item, Group) else leaf_holds(item) for item in self.items
        )
        return all(results) if self.op == AND else any(results)

    def leaves(self) -> Iterator:
        """Every non-group item, depth first."""
        for item in self.items:
            if isinstance(item, Group):
                yield from item.leaves()
            else:
                yield item

    def to_dict(self) -> dict:
        """The JSON form: ``{"op": "and"|"or", "items": [...]}``."""
        return {"op": self.op, "items": [item.to_dict() for item in self.items]}

    @classmethod
    def from_dict(cls, data: Any) -> Group:
        """Check and build a segment (a group of conditions over lead, contact and
        account); raises ``DefinitionError`` when invalid."""
        errors = validate_segment(data)
        if errors:
            raise DefinitionError(errors)
        return build_segment(data)


def matches(segment: Group | Condition | None, facts: Facts) -> bool:
    """Whether the lead described by ``facts`` is in ``segment`` (None: everyone)."""
    if segment is None:
        return True
    if isinstance(segment, Condition):
        return segment.matches(facts)
    return segment.holds(lambda condition: condition.matches(facts))


def is_group(data: Any) -> bool:
    """Whether a JSON node is a group (it has ``items``) rather than a leaf."""
    return isinstance(data, Mapping) and "items" in data


def build_condition(data: Mapping) -> Condition:
    """A condition from a dict that ``validate_condition`` accepted."""
    value = data.get("value")
    if isinstance(value, str):
        value = value.strip()
    return Condition(data["entity"], data["field"].strip(), data["operator"], value)


def build_group(data: Any, build_leaf: Callable[[Any], Any]) -> Group:
    """A group from a dict that ``validate_group`` accepted; a lone leaf becomes an AND
    group of one."""
    if not is_group(data):
        return Group(AND, (build_leaf(data),))
    items = tuple(
        build_group(item, build_leaf) if is_group(item) else build_leaf(item) for item in data["items"]
    )
    return Group(data.get("op", AND), items)


def build_segment(data: Any) -> Group:
    """A segment from a dict that ``validate_segment`` accepted."""
    return build_group(data, build_condition)


# --- Validation ------------------------------------------------------------


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate_group(
    data: Any, path: str, validate_leaf: Callable[[Any, str], list[FieldError]], depth: int = 1
) -> list[FieldError]:
    """Errors in a group of leaves (checked by ``validate_leaf(item, path)``); a lone
    leaf is accepted as a group of one."""
    if not is_group(data):
        return validate_leaf(data, path)
    errors = []
    if data.get("op", AND) not in (AND, OR):
        errors.append(FieldError(_at(path, "op"), "Choose AND or OR."))
    items = data["items"]
    if not isinstance(items, list | tuple) or not items:
        return [*errors, FieldError(_at(path, "items"), "Add at least one condition.")]
    if depth > MAX_DEPTH:
        return [*errors, FieldError(path or "items", f"Groups nest at most {MAX_DEPTH} deep.")]
    for index, item in enumerate(items):
        where = f"{_at(path, 'items')}[{index}]"
        errors += (
            validate_group(item, where, validate_leaf, depth + 1)
            if is_group(item)
            else validate_leaf(item, where)
        )
    return errors


def validate_segment(data: Any, path: str = "", *, fields=FIELDS) -> list[FieldError]:
    """Errors in a segment over lead, contact and account fields."""
    return validate_group(data, path, lambda item, where: validate_condition(item, where, fields=fields))


def validate_condition(
    data: Any, path: str = "", *, entities=RECORD_ENTITIES, fields: Mapping | None = FIELDS
) -> list[FieldError]:
    """Errors in one condition dict (``entity``, ``field``, ``operator``, ``value``).

    ``fields`` maps entity → {field: kind}; an entity it lists accepts only
    those fields, and the kind decides which operators and values make sense.
    Pass ``fields=None`` to accept any field (interaction properties)."""
    if not isinstance(data, Mapping):
        return [FieldError(path or "condition", "Expected a condition.")]
    errors = []
    entity, name, operator = data.get("entity"), data.get("field"), data.get("operator")
    if entity not in entities:
        errors.append(FieldError(_at(path, "entity"), f"Choose one of: {', '.join(entities)}."))
    kind = None
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError(_at(path, "field"), "Choose a field."))
    elif len(name) > 100:
        errors.append(FieldError(_at(path, "field"), "Field names are at most 100 characters."))
    elif fields is not None and entity in fields:
        kind = fields[entity].get(name.strip())
        if kind is None:
            errors.append(FieldError(_at(path, "field"), f"Unknown {entity} field {name!r}."))
    if operator not in OPERATORS:
        errors.append(FieldError(_at(path, "operator"), f"Unknown operator {operator!r}."))
    elif operator not in _KIND_OPERATORS.get(kind, OPERATORS):
        allowed = ", ".join(OPERATORS[op] for op in OPERATORS if op in _KIND_OPERATORS[kind])
        errors.append(FieldError(_at(path, "operator"), f"For this field use: {allowed}."))
    else:
        errors += _validate_value(data.get("value"), operator, kind, _at(path, "value"))
    return errors


def _validate_value(value: Any, operator: str, kind: str | None, path: str) -> list[FieldError]:
    if operator in UNARY:
        return []
    if operator != "in_list":
        reason = _value_problem(value, operator, kind)
        return [FieldError(path, reason)] if reason else []
    items = split_list(value)
    if items is None:
        return [FieldError(path, "Give a list of values.")]
    if not items:
        return [FieldError(path, "Give at least one value.")]
    if len(items) > MAX_ITEMS:
        return [FieldError(path, f"Give at most {MAX_ITEMS} values.")]
    for index, item in enumerate(items):
        reason = _value_problem(item, operator, kind)
        if reason:
            return [FieldError(f"{path}[{index}]", reason)]
    return []


def _value_problem(value: Any, operator: str, kind: str | None) -> str | None:
    """Why one value cannot be used with ``operator`` on a field of ``kind``, or None."""
    if is_empty(value):
        return "Enter a value."
    if not isinstance(value, str | int | float | bool | Decimal):
        return "Enter a single value."
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"Values are at most {MAX_TEXT} characters."
    if isinstance(value, float | Decimal) and not Decimal(str(value)).is_finite():
        return "Enter a finite number."
    if kind == BOOL:
        return None if _operand(value).boolean is not None else "Choose yes or no."
    if kind == NUMBER and _number(value) is None:
        return "Enter a number."
    if kind == DATE and _moment(value) is None:
        return "Enter a date (YYYY-MM-DD)."
    if operator in ORDERING and _number(value) is None and _moment(value) is None:
        return "Enter a number or a date (YYYY-MM-DD) to compare with."
    return None
