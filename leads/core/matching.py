"""Matching strategies (SPEC M1–M5) as pure functions: no duplicates on intake.

A ``MatchingStrategy`` is an entity type and a list of fields (M1). Every field
is normalised before comparison (emails trimmed and case-folded, phone numbers
to E.164, names with whitespace collapsed and case-folded), so two records match
when every normalised field is equal. A blank field never matches anything: a
record whose key would contain a blank has no key for that strategy.

``find_match(strategies, record, index)`` tries the source's strategies in
order and stops at the first that finds something (M3); ``index`` is anything
with ``lookup(strategy, key) -> list[int]`` (the database edge answers with an
indexed query, the CSV import with ``InMemoryIndex``). ``merge`` decides what a
matched record takes from the submission (M4), never blanking a field.

No database, no Flask: the edges load records as dicts, call this and store
the answer.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import phonenumbers

from leads.core import fields as catalogue
from leads.core.fields import ACCOUNT, CONTACT, LEAD

# SPEC M1 speaks of contacts and leads; accounts (imported by C2) use the same
# machinery so that re-importing an account file changes nothing.
ENTITIES = {CONTACT: "Contact", LEAD: "Lead", ACCOUNT: "Account"}

# The fields a strategy may compare, per entity: the catalogue's matching
# fields (``leads.core.fields``). ``source`` on a lead is the key of the form /
# marketing page / capture source it came from (M2).
MATCH_FIELDS = {entity: catalogue.names(catalogue.matchable(entity)) for entity in ENTITIES}

FILL_EMPTY, OVERWRITE, KEEP = "fill_empty", "overwrite", "keep"
UPDATE_POLICIES = {
    FILL_EMPTY: "Fill empty fields only",
    OVERWRITE: "Overwrite with submitted values",
    KEEP: "Keep the existing record as it is",
}


# --------------------------------------------------------------------------- normalisers


class Normalised(NamedTuple):
    """A normalised value, or ``None`` with the reason it could not be normalised."""

    value: str | None
    reason: str | None = None


def is_blank(value: object) -> bool:
    """True for ``None`` and for strings that are empty once trimmed (``0`` is not blank)."""
    return value is None or (isinstance(value, str) and not value.strip())


_SPACES = re.compile(r"\s+")


def normalise_email(value: object) -> str | None:
    """The email trimmed and case-folded (M1); ``None`` when blank."""
    if is_blank(value):
        return None
    return _fixed_point(_fold_email, str(value)) or None


def _fold_email(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip().casefold())


def _fixed_point(step: Callable[[str], str], text: str) -> str:
    """Apply ``step`` until it changes nothing, so the normaliser is idempotent
    (a case fold can produce text that folds or trims further)."""
    for _ in range(100):  # a guard; real text settles in one or two rounds
        after = step(text)
        if after == text:
            break
        text = after
    return text


def normalise_text(value: object) -> str | None:
    """Names, companies and other text for comparison: trimmed, inner whitespace
    collapsed to one space, Unicode-normalised and case-folded; ``None`` when blank."""
    if is_blank(value):
        return None
    return _fixed_point(_fold_text, str(value)) or None


def _fold_text(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _SPACES.sub(" ", folded).strip()


def normalise_key(value: object) -> str | None:
    """Identifiers (form keys, ids): trimmed text, case kept; ``None`` when blank."""
    if is_blank(value):
        return None
    return str(value).strip()


def normalise_country(value: object) -> str | None:
    """An ISO 3166-1 alpha-2 code upper-cased (``uk`` reads as ``GB``); ``None`` if blank."""
    if is_blank(value):
        return None
    code = str(value).strip().upper()
    return {"UK": "GB"}.get(code, code)


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def normalise_domain(value: object) -> str | None:
    """A company's web domain: case-folded, without scheme, ``www.``, port, path or
    trailing dot (``https://www.Acme.com/about`` → ``acme.com``); ``None`` if blank."""
    if is_blank(value):
        return None
    return _fixed_point(_bare_domain, str(value)) or None


def _bare_domain(text: str) -> str:
    text = _SCHEME.sub("", text.strip().casefold())
    if "@" in text:  # an email address given as the domain
        text = text.rsplit("@", 1)[1]
    text = re.split(r"[/?#:]", text, maxsplit=1)[0].strip().rstrip(".")
    return text.removeprefix("www.")


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "no valid country code: write it with + and the country code, or give the country"
    ),
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short to be a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short to be a phone number",
    phonenumbers.NumberParseException.TOO_LONG: "too long to be a phone number",
}
MAX_PHONE_INPUT = 64


def normalise_phone(value: object, default_region: str | None = None) -> Normalised:
    """The phone number in E.164 (``+33123456789``), read with ``default_region``
    (ISO-2, e.g. ``"FR"``) when written without ``+``; ``Normalised(None, reason)``
    when blank, unparseable or not a valid number."""
    if is_blank(value):
        return Normalised(None, "blank")
    text = str(value).strip()
    if len(text) > MAX_PHONE_INPUT:
        return Normalised(None, "too long to be a phone number")
    region = normalise_country(default_region)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        return Normalised(None, _PARSE_REASONS.get(error.error_type, "not a phone number"))
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code)
        return Normalised(None, f"not a valid phone number for {where}")
    return Normalised(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _phone_for(record: Mapping, default_region: str | None) -> str | None:
    """The record's phone in E.164: its own country first, then the default region."""
    region = normalise_country(record.get("country")) or default_region
    return normalise_phone(record.get("phone"), region).value


# How each format is compared; a field without one is text (``normalise_text``)
# and ``phone`` reads the record's country too (``normalise_field``).
_BY_FORMAT: dict[str, Callable[[object], str | None]] = {
    catalogue.EMAIL: normalise_email,
    catalogue.DOMAIN: normalise_domain,
    catalogue.COUNTRY: normalise_country,
    catalogue.KEY: normalise_key,
    catalogue.REF: normalise_key,
    catalogue.OWNER: normalise_key,
}
NORMALISERS: dict[str, Callable[[object], str | None]] = {
    spec.name: _BY_FORMAT[spec.format]
    for entity in ENTITIES
    for spec in catalogue.matchable(entity)
    if spec.format in _BY_FORMAT
}


def normalise_field(field: str, record: Mapping, default_region: str | None = None) -> str | None:
    """The comparable form of ``record[field]`` (``None`` when blank or invalid)."""
    if field == "phone":
        return _phone_for(record, default_region)
    return NORMALISERS.get(field, normalise_text)(record.get(field))


# --------------------------------------------------------------------------- strategies


@dataclass(frozen=True)
class MatchingStrategy:
    """M1: an entity type and the fields that must all be equal for a match.

    ``is_default`` marks the one strategy per entity that new sources get (M3)."""

    id: str | int
    name: str
    entity: str
    fields: tuple[str, ...]
    is_default: bool = False

    def __post_init__(self):
        # Stored strategies come back from JSON as lists; keep the dataclass hashable.
        object.__setattr__(self, "fields", tuple(self.fields))

    def describe(self) -> str:
        """``email + source`` — the fields, for reasons and the UI."""
        return " + ".join(self.fields)


# M2: the defaults. Accounts match on their web domain; ``ACCOUNT_BY_NAME`` is the
# fallback an account import puts after it (``IMPORT_CHAINS``).
CONTACT_BY_EMAIL = MatchingStrategy("contact-email", "Contact by email", CONTACT, ("email",), True)
LEAD_BY_EMAIL_AND_SOURCE = MatchingStrategy(
    "lead-email-source", "Lead by email and source form", LEAD, ("email", "source"), True
)
ACCOUNT_BY_DOMAIN = MatchingStrategy("account-domain", "Account by domain", ACCOUNT, ("domain",), True)
ACCOUNT_BY_NAME = MatchingStrategy("account-name", "Account by name", ACCOUNT, ("name",), False)
BUILTIN_STRATEGIES = (CONTACT_BY_EMAIL, LEAD_BY_EMAIL_AND_SOURCE, ACCOUNT_BY_DOMAIN, ACCOUNT_BY_NAME)
# What a CSV import (C2) tries, in order, when the user picks nothing else.
IMPORT_CHAINS = {
    CONTACT: (CONTACT_BY_EMAIL,),
    LEAD: (LEAD_BY_EMAIL_AND_SOURCE,),
    ACCOUNT: (ACCOUNT_BY_DOMAIN, ACCOUNT_BY_NAME),
}


def strategy_errors(strategy: MatchingStrategy) -> list[tuple[str, str]]:
    """What is wrong with one strategy, as ``(field, reason)`` pairs (empty when valid)."""
    errors = []
    if not strategy.name.strip():
        errors.append(("name", "Give the strategy a name."))
    if strategy.entity not in ENTITIES:
        return [*errors, ("entity", "Choose contact, lead or account.")]
    if not strategy.fields:
        errors.append(("fields", "Choose at least one field."))
    unknown = [f for f in strategy.fields if f not in MATCH_FIELDS[strategy.entity]]
    if unknown:
        errors.append(("fields", f"Not a {strategy.entity} field: {', '.join(unknown)}."))
    if len(set(strategy.fields)) != len(strategy.fields):
        errors.append(("fields", "A field appears twice."))
    return errors


def defaults_errors(strategies: Iterable[MatchingStrategy]) -> list[str]:
    """M3: every entity type that has strategies has exactly one default."""
    errors = []
    strategies = list(strategies)
    for entity, label in ENTITIES.items():
        of_entity = [s for s in strategies if s.entity == entity]
        defaults = [s for s in of_entity if s.is_default]
        if of_entity and len(defaults) != 1:
            errors.append(f"{label} strategies need exactly one default (found {len(defaults)}).")
    return errors


def strategies_for(
    strategies: Iterable[MatchingStrategy], entity: str, chosen: Sequence[str | int] = ()
) -> tuple[MatchingStrategy, ...]:
    """M3: the strategies a source applies, in order: the ids it ``chosen`` (each
    source may pick its own), or else the single default for ``entity``.

    Raises ``ValueError`` for an unknown id or a strategy of another entity."""
    by_id = {s.id: s for s in strategies}
    if chosen:
        picked = []
        for strategy_id in chosen:
            strategy = by_id.get(strategy_id)
            if strategy is None or strategy.entity != entity:
                raise ValueError(f"No {entity} matching strategy {strategy_id!r}.")
            picked.append(strategy)
        return tuple(picked)
    defaults = tuple(s for s in by_id.values() if s.entity == entity and s.is_default)
    return defaults[:1]


def match_key(strategy: MatchingStrategy, record: Mapping, default_region: str | None = None) -> tuple | None:
    """M1: the normalised values of the strategy's fields, or ``None`` when any is
    blank or invalid once normalised (a blank never matches)."""
    key = []
    for field in strategy.fields:
        value = normalise_field(field, record, default_region)
        if value is None:
            return None
        key.append(value)
    return tuple(key)


def encode_key(key: tuple) -> str:
    """A key as one deterministic string, for an indexed text column or a dict."""
    return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- finding a match


class MatchIndex(Protocol):
    """Where existing records are looked up: ids of the records of
    ``strategy.entity`` whose key for ``strategy`` equals ``key``."""

    def lookup(self, strategy: MatchingStrategy, key: tuple) -> list[int]: ...


class InMemoryIndex:
    """A ``MatchIndex`` held in a dict (CSV import, duplicate rows in a file, tests)."""

    def __init__(self, default_region: str | None = None):
        self.default_region = default_region
        self._ids: dict[tuple, list[int]] = {}

    def add(self, strategies: Iterable[MatchingStrategy], record: Mapping, record_id: int) -> None:
        """Index ``record`` under every strategy it has a key for."""
        for strategy in strategies:
            key = match_key(strategy, record, self.default_region)
            if key is not None:
                self.add_key(strategy, key, record_id)

    def add_key(self, strategy: MatchingStrategy, key: tuple, record_id: int) -> None:
        """Index ``record_id`` under an already computed ``key``."""
        self._ids.setdefault((strategy.id, key), []).append(record_id)

    def lookup(self, strategy: MatchingStrategy, key: tuple) -> list[int]:
        """Ids stored under ``key`` for ``strategy``, in insertion order."""
        return list(self._ids.get((strategy.id, key), ()))


@dataclass(frozen=True)
class MatchResult:
    """The outcome of ``find_match``: the record to update, or ``None`` to create
    one (M5); the strategy that decided; a reason to show on the timeline."""

    existing_id: int | None
    strategy_id: str | int | None
    reason: str
    candidates: tuple[int, ...] = ()

    @property
    def matched(self) -> bool:
        """True when an existing record was found (M4)."""
        return self.existing_id is not None


def find_match(
    strategies: Sequence[MatchingStrategy],
    record: Mapping,
    index: MatchIndex,
    default_region: str | None = None,
) -> MatchResult:
    """M1/M3–M5: try ``strategies`` in order; the first that finds existing records
    decides. Several records under one key: the oldest (lowest id) wins and the
    reason says how many matched. No strategy finds anything: create (M5)."""
    skipped = []
    for strategy in strategies:
        key = match_key(strategy, record, default_region)
        if key is None:
            skipped.append(f"{strategy.name} skipped ({strategy.describe()} blank or invalid)")
            continue
        ids = sorted(set(index.lookup(strategy, key)))
        if ids:
            return MatchResult(ids[0], strategy.id, _match_reason(strategy, ids), tuple(ids))
        skipped.append(f"{strategy.name}: no {strategy.entity} with this {strategy.describe()}")
    reason = "; ".join(skipped) if skipped else "no matching strategy"
    return MatchResult(None, None, f"New record: {reason}.")


def _match_reason(strategy: MatchingStrategy, ids: list[int]) -> str:
    reason = f"Matched {strategy.entity} #{ids[0]} on {strategy.describe()} ({strategy.name})"
    if len(ids) > 1:
        others = ", ".join(f"#{i}" for i in ids[1:6]) + (" …" if len(ids) > 6 else "")
        reason += f"; {len(ids)} records match, the oldest wins (also {others})"
    return reason + "."


# --------------------------------------------------------------------------- update policies


def merge(
    existing: Mapping, incoming: Mapping, policy: str, fields: Iterable[str] | None = None
) -> tuple[dict, list[str]]:
    """M4: what a matched record takes from a submission under ``policy``.

    Returns ``(changes, reasons)``: ``changes`` maps field → new value (only real
    changes); ``reasons`` says why per field. A blank incoming value never
    replaces anything, so no policy can blank a field. ``fields`` limits which
    incoming fields are considered (default: all of them)."""
    if policy not in UPDATE_POLICIES:
        raise ValueError(f"Unknown update policy {policy!r}.")
    changes: dict = {}
    reasons: list[str] = []
    for field in incoming if fields is None else fields:
        new = incoming.get(field)
        if is_blank(new):
            continue
        new = new.strip() if isinstance(new, str) else new
        old = existing.get(field)
        if old == new or (isinstance(old, str) and old.strip() == new):
            continue
        if policy == KEEP:
            reasons.append(f"{field}: kept (policy keep)")
        elif is_blank(old):
            changes[field] = new
            reasons.append(f"{field}: filled (was blank)")
        elif policy == OVERWRITE:
            changes[field] = new
            reasons.append(f"{field}: overwritten (policy overwrite)")
        else:
            reasons.append(f"{field}: kept existing value (policy fill_empty)")
    return changes, reasons
