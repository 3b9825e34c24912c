"""Intake (C2–C6, M1–M5): the database edge of ``leads.core.matching``.

How to use it row by row (the CSV import, C2, does this inside its own
``with transaction():`` — nothing here commits, enqueues or opens a
top-level transaction; a savepoint only)::

    from leads.intake import services as intake
    from leads.core.matching import CONTACT, LEAD, ACCOUNT, FILL_EMPTY, OVERWRITE, KEEP

    strategies = intake.load_strategies(CONTACT)          # the default (M3)
    strategies = intake.load_strategies(LEAD, [3, 5])     # chosen ids, in order
    index = intake.DbIndex()                              # MatchIndex over match_key
    with transaction():
        for values in rows:
            outcome = intake.match_or_create(CONTACT, values, strategies, FILL_EMPTY, index=index)
            outcome.record_id, outcome.created, outcome.reason, outcome.changes

- ``values`` are model field names with cleaned Python values: the
  catalogue's writable columns of the entity (``WRITABLE``, from
  ``leads.core.fields``; e.g. a contact's ``first_name, last_name, email,
  phone, job_title, country, account_id, owner_id``). Unknown keys are ignored.
- ``match_or_create`` finds the record (M1/M3 strategies in order), updates
  it per ``policy`` (M4, ``matching.merge``: never blanks a field) or creates
  it (M5), and keeps the ``match_key`` table in step. It returns an
  ``Outcome`` (record id, created?, strategy id, reason, changes). For a lead
  it also writes the match reason on the lead's timeline (``LeadHistory``
  kind ``"match"``, the reason in ``note``) unless ``history=False``.
- Several match_or_create calls with the same key inside one transaction see
  each other (the key rows are written at once), so duplicate rows inside one
  file become one record.
- In the same transaction the caller tells what changed (``records_changed``;
  a new lead tells itself, ``lead_created``), so it is re-scored (S4).
- ``index_records(entity, ids)``: (re)compute the keys of records written by
  other paths (hand edits, bulk inserts); ``rebuild_index(strategy_id)``
  recomputes one strategy's keys for every record (a strategy's fields changed).
  Records *created* elsewhere need nothing: ``DbIndex`` indexes the records
  above its watermark before its first lookup. A key whose record was edited
  elsewhere never decides a match (it is checked against the record), but the
  record's new values are only found once ``index_records`` ran for it.
- Keep one ``DbIndex`` for a whole run: it caches the stored strategies
  (``load_strategies(entity, chosen, index)``) and the records it loaded.
- ``match_history_row(lead_id, outcome, via)`` builds the timeline row for an
  outcome (e.g. the contact's match, shown on the lead it belongs to).

The public capture (C3–C5): ``capture(source, payload, client)`` checks the
submission (consent, honeypot, sizes, the webhook's field mapping), then in
one transaction matches or creates the contact and, if the source creates
leads, the lead, and writes the match on the lead's timeline; then it records
the form_submitted / event_registered interaction through
``leads.intake.interactions.record_interactions`` (its own transaction, so the scoring jobs
are enqueued only once everything is committed; E3 makes it idempotent).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import peewee as pw

from auth.models import ADMIN
from leads.base import signals
from leads.base.db import db, is_sqlite, transaction, utcnow
from leads.core import fields as catalogue
from leads.core import lifecycle, matching
from leads.core.matching import ACCOUNT, CONTACT, LEAD
from leads.intake.models import (
    EVENT,
    WEBHOOK,
    CaptureSource,
    MatchingStrategyRecord,
    MatchKey,
    MatchKeyWatermark,
)
from leads.records.models import Account, Contact, Lead, LeadHistory
from leads.stages.services import record_created

MODELS = {CONTACT: Contact, LEAD: Lead, ACCOUNT: Account}
# What intake may write, per entity: the catalogue's writable columns (model
# field names; ``*_id`` for foreign keys).
WRITABLE = {entity: catalogue.names(catalogue.writable(entity)) for entity in MODELS}
# A match never moves a record to another source form (it is part of its key, M2).
NEVER_MERGED = {"source"}
MAX_KEY = 300
# The public capture acts as nobody: it may resolve any record it just wrote.
CAPTURE_ACTOR = SimpleNamespace(id=None, role=ADMIN, name="Capture")


# --------------------------------------------------------------------------- strategies


def ensure_defaults() -> None:
    """M3: every entity type has its built-in default when it has no strategy at all
    (a fresh database whose seed rows were removed)."""
    present = {entity for (entity,) in MatchingStrategyRecord.select(MatchingStrategyRecord.entity).tuples()}
    missing = [s for s in matching.BUILTIN_STRATEGIES if s.is_default and s.entity not in present]
    for strategy in missing:
        MatchingStrategyRecord.insert(
            name=strategy.name, entity=strategy.entity, fields=list(strategy.fields), is_default=True
        ).on_conflict_ignore().execute()


def strategy_rows(entity: str | None = None):
    """Stored strategies (one entity, or all), defaults first, then by name."""
    query = MatchingStrategyRecord.select()
    if entity is not None:
        query = query.where(MatchingStrategyRecord.entity == entity)
    return query.order_by(
        MatchingStrategyRecord.entity, MatchingStrategyRecord.is_default.desc(), MatchingStrategyRecord.name
    )


def stored_strategies(entity: str) -> list[matching.MatchingStrategy]:
    """Every stored strategy of ``entity`` (its default restored if missing)."""
    stored = [row.to_core() for row in strategy_rows(entity)]
    if not any(s.is_default for s in stored):
        ensure_defaults()
        stored = [row.to_core() for row in strategy_rows(entity)]
    return stored


def load_strategies(
    entity: str, chosen: Sequence[int] = (), index: DbIndex | None = None
) -> tuple[matching.MatchingStrategy, ...]:
    """M3: the strategies to apply for ``entity``: the stored ones ``chosen`` (in
    order; ids no longer stored are skipped), else the entity's default. With an
    ``index``, its cached list of stored strategies is used (no query)."""
    stored = index.stored(entity) if index is not None else stored_strategies(entity)
    known = {s.id for s in stored}
    picked = [i for i in chosen if i in known]
    return matching.strategies_for(stored, entity, picked)


# --------------------------------------------------------------------------- the index


def _encode(key: tuple) -> str:
    text = matching.encode_key(key)
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def record_values(entity: str, ids: Iterable[int]) -> dict[int, dict]:
    """The records' current values as plain dicts (``*_id`` for foreign keys)."""
    model = MODELS[entity]
    ids = list(ids)
    out: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        for row in model.select().where(model.id.in_(ids[start : start + 500])).dicts():
            out[row["id"]] = _as_values(model, row)
    return out


def _as_values(model, row: Mapping) -> dict:
    values = {}
    for name, value in row.items():
        model_field = model._meta.fields.get(name)
        values[f"{name}_id" if isinstance(model_field, pw.ForeignKeyField) else name] = value
    if model is Lead:
        values.setdefault("company", row.get("company"))
    return values


def _key_rows(entity: str, record_id: int, values: Mapping, strategies, region) -> list[dict]:
    rows = []
    for strategy in strategies:
        key = matching.match_key(strategy, values, region)
        if key is not None:
            rows.append(dict(entity=entity, strategy=str(strategy.id), key=_encode(key), record_id=record_id))
    return rows


def index_records(
    entity: str,
    ids: Iterable[int],
    default_region: str | None = None,
    *,
    strategies: Sequence[matching.MatchingStrategy] | None = None,
    values: Mapping[int, Mapping] | None = None,
) -> None:
    """(Re)compute the match keys of these records for every stored strategy of
    ``entity`` (call it after writing records by another path). A key another
    record already owns stays with that record (the oldest wins). ``strategies``
    and ``values`` save the queries when the caller has them."""
    ids = sorted(set(ids))
    if not ids:
        return
    if strategies is None:
        strategies = [row.to_core() for row in strategy_rows(entity)]
    if values is None:
        values = record_values(entity, ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        MatchKey.delete().where((MatchKey.entity == entity) & MatchKey.record_id.in_(chunk)).execute()
    rows = [
        r
        for record_id in ids
        if record_id in values
        for r in _key_rows(entity, record_id, values[record_id], strategies, default_region)
    ]
    for start in range(0, len(rows), 200):
        MatchKey.insert_many(rows[start : start + 200]).on_conflict_ignore().execute()


def rebuild_index(strategy_id: int) -> int:
    """Recompute one stored strategy's keys for every record of its entity (after
    its fields changed, or when it is new). Returns how many keys it holds."""
    strategy = MatchingStrategyRecord.get_by_id(strategy_id).to_core()
    model = MODELS[strategy.entity]
    MatchKey.delete().where(MatchKey.strategy == str(strategy.id)).execute()
    last, count = 0, 0
    while True:
        rows = list(model.select().where(model.id > last).order_by(model.id).limit(1000).dicts())
        if not rows:
            return count
        keys = [
            r
            for row in rows
            for r in _key_rows(strategy.entity, row["id"], _as_values(model, row), [strategy], None)
        ]
        for start in range(0, len(keys), 200):
            MatchKey.insert_many(keys[start : start + 200]).on_conflict_ignore().execute()
        count += len(keys)
        last = rows[-1]["id"]


class DbIndex:
    """``matching.MatchIndex`` over the ``match_key`` table (an indexed lookup).

    Before its first lookup for an entity it indexes the records created by
    other paths since the last time (the watermark). A key whose record was
    edited elsewhere or deleted is dropped when met (and the record re-keyed),
    so a stale key never decides a match."""

    def __init__(self, default_region: str | None = None):
        self.default_region = default_region
        self.loaded: dict[tuple[str, int], dict] = {}
        self._caught_up: set[str] = set()
        self._stored: dict[str, list[matching.MatchingStrategy]] = {}

    def stored(self, entity: str) -> list[matching.MatchingStrategy]:
        """The stored strategies of ``entity``, read once per index."""
        if entity not in self._stored:
            self._stored[entity] = stored_strategies(entity)
        return self._stored[entity]

    def lookup(self, strategy: matching.MatchingStrategy, key: tuple) -> list[int]:
        """Ids of the records of ``strategy.entity`` whose current key is ``key``."""
        entity = strategy.entity
        self.catch_up(entity)
        ids = [
            record_id
            for (record_id,) in MatchKey.select(MatchKey.record_id)
            .where(
                (MatchKey.entity == entity)
                & (MatchKey.strategy == str(strategy.id))
                & (MatchKey.key == _encode(key))
            )
            .tuples()
        ]
        if not ids:
            return []
        values = record_values(entity, ids)
        found = []
        for record_id in ids:
            current = values.get(record_id)
            if current is not None and matching.match_key(strategy, current, self.default_region) == key:
                self.loaded[(entity, record_id)] = current
                found.append(record_id)
            else:
                if current is None:
                    _drop_keys(entity, [record_id])
                else:
                    index_records(entity, [record_id], self.default_region, strategies=self.stored(entity))
        return found

    def catch_up(self, entity: str) -> None:
        """Index the records of ``entity`` above the watermark (written by other paths)."""
        if entity in self._caught_up:
            return
        self._caught_up.add(entity)
        last = (
            MatchKeyWatermark.select(MatchKeyWatermark.last_id)
            .where(MatchKeyWatermark.entity == entity)
            .scalar()
        )
        if last is None:
            MatchKeyWatermark.insert(entity=entity, last_id=0).on_conflict_ignore().execute()
            last = 0
        model = MODELS[entity]
        while True:
            ids = [
                i
                for (i,) in model.select(model.id)
                .where(model.id > last)
                .order_by(model.id)
                .limit(1000)
                .tuples()
            ]
            if not ids:
                return
            index_records(entity, ids, self.default_region, strategies=self.stored(entity))
            MatchKeyWatermark.update(last_id=ids[-1]).where(
                (MatchKeyWatermark.entity == entity) & (MatchKeyWatermark.last_id < ids[-1])
            ).execute()
            last = ids[-1]

    def values_of(self, entity: str, record_id: int) -> dict:
        """The record's current values (loaded by the lookup that found it)."""
        if (entity, record_id) not in self.loaded:
            self.loaded[(entity, record_id)] = record_values(entity, [record_id])[record_id]
        return self.loaded[(entity, record_id)]


def _drop_keys(entity: str, ids: list[int]) -> None:
    MatchKey.delete().where((MatchKey.entity == entity) & MatchKey.record_id.in_(ids)).execute()


def _advance_watermark(entity: str, record_id: int) -> None:
    """A record intake created and indexed itself: move the watermark past it when
    nothing lies between (a gap is left for ``catch_up`` to index)."""
    MatchKeyWatermark.update(last_id=record_id).where(
        (MatchKeyWatermark.entity == entity) & (MatchKeyWatermark.last_id == record_id - 1)
    ).execute()


# --------------------------------------------------------------------------- match or create


@dataclass
class Outcome:
    """What ``match_or_create`` did: the record, whether it was created (M5) or
    matched (M4), by which strategy, why, and what changed on a match."""

    entity: str
    record_id: int
    created: bool
    strategy_id: int | str | None
    reason: str
    changes: dict = field(default_factory=dict)
    change_reasons: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.created


class _KeyTaken(Exception):
    """Another transaction claimed the key between our lookup and our insert."""


def match_or_create(
    entity: str,
    values: Mapping,
    strategies: Sequence[matching.MatchingStrategy],
    policy: str,
    *,
    index: DbIndex | None = None,
    default_region: str | None = None,
    history: bool = True,
    via: str = "intake",
    actor=None,
) -> Outcome:
    """M1–M5 for one record inside the caller's transaction: find it with
    ``strategies`` (in order), update it per ``policy`` or create it, and keep
    its match keys current. Leads get a ``"match"`` row on their timeline."""
    index = index or DbIndex(default_region)
    values = {name: values[name] for name in WRITABLE[entity] if name in values}
    for attempt in range(2):
        result = matching.find_match(strategies, values, index, index.default_region)
        if result.matched:
            outcome = _update(entity, result, values, policy, index)
            break
        try:
            outcome = _create(entity, result, values, strategies, index)
            break
        except _KeyTaken:
            if attempt:
                raise
    if entity == LEAD and history:
        _write_match_history(outcome, via, actor)
    return outcome


def _update(entity: str, result: matching.MatchResult, values: dict, policy: str, index: DbIndex) -> Outcome:
    existing = index.values_of(entity, result.existing_id)
    mergeable = [name for name in values if name not in NEVER_MERGED]
    changes, reasons = matching.merge(existing, values, policy, mergeable)
    if changes:
        model = MODELS[entity]
        model.update(
            {_column(model, name): value for name, value in changes.items()} | {model.updated_at: utcnow()}
        ).where(model.id == result.existing_id).execute()
        merged = {**existing, **changes}
        index.loaded[(entity, result.existing_id)] = merged
        stored = index.stored(entity)
        if _touches_keys(stored, changes):
            index_records(
                entity,
                [result.existing_id],
                index.default_region,
                strategies=stored,
                values={result.existing_id: merged},
            )
    return Outcome(entity, result.existing_id, False, result.strategy_id, result.reason, changes, reasons)


def _touches_keys(strategies, changes: Mapping) -> bool:
    """True when a changed field is part of a key (a phone's key reads the country too)."""
    read = {f for s in strategies for f in s.fields}
    if "phone" in read:
        read.add("country")
    return bool(read & set(changes))


def _column(model, name: str):
    fields = model._meta.fields
    return fields[name] if name in fields else fields[name.removesuffix("_id")]


def _create(entity, result, values, strategies, index: DbIndex) -> Outcome:
    model = MODELS[entity]
    row = {_column(model, name): value for name, value in values.items() if value is not None}
    with db.atomic():  # a savepoint: undone if another transaction claimed a key meanwhile
        record_id = model.insert(row).execute()
        keys = _key_rows(entity, record_id, values, index.stored(entity), index.default_region)
        for start in range(0, len(keys), 200):
            MatchKey.insert_many(keys[start : start + 200]).on_conflict_ignore().execute()
        deciding = {(str(s.id)) for s in strategies}
        wanted = [k for k in keys if k["strategy"] in deciding]
        # SQLite's IMMEDIATE transactions serialize writers: no one can claim a
        # key between our lookup and our insert there.
        if wanted and not is_sqlite() and _owned_elsewhere(entity, record_id, wanted):
            raise _KeyTaken()
        _advance_watermark(entity, record_id)
    if entity == LEAD:
        record_created(Lead(id=record_id, stage=values.get("stage", lifecycle.INQUIRY)), None, via="intake")
    index.loaded[(entity, record_id)] = dict(values, id=record_id)
    return Outcome(entity, record_id, True, None, result.reason)


def _owned_elsewhere(entity: str, record_id: int, keys: list[dict]) -> bool:
    for k in keys:
        owner = (
            MatchKey.select(MatchKey.record_id)
            .where(
                (MatchKey.entity == entity)
                & (MatchKey.strategy == k["strategy"])
                & (MatchKey.key == k["key"])
            )
            .scalar()
        )
        if owner != record_id:
            return True
    return False


def _write_match_history(outcome: Outcome, via: str, actor) -> None:
    """M4/M5: the match and its reason on the lead's timeline."""
    LeadHistory.insert(match_history_row(outcome.record_id, outcome, via, actor)).execute()


def match_history_row(lead_id: int, outcome: Outcome, via: str, actor=None) -> dict:
    """A ``LeadHistory`` row (kind ``match``) saying how ``outcome``'s record was
    found or created, and what the submission changed on it."""
    what = {CONTACT: "contact", LEAD: "lead", ACCOUNT: "account"}[outcome.entity]
    return {
        "lead": lead_id,
        "kind": "match",
        "new_value": f"new {what}" if outcome.created else f"existing {what}",
        "actor": getattr(actor, "id", None),
        "via": via[:200],
        "note": outcome.reason + _changes_text(outcome),
        "created_at": utcnow(),
    }


# --------------------------------------------------------------------------- public capture

HONEYPOT = "website"
CONSENT = "consent"
TRUTHY = {"1", "true", "yes", "on", "y", "oui", "agree", "accepted"}
# Our capture fields (the catalogue's) and their longest accepted value: the
# columns' sizes, a country's checked for a two-letter code afterwards.
CAPTURE_FIELDS = {name: spec.capture_max for name, spec in catalogue.capturable().items()}
MAX_VALUE = 2000  # any other submitted value (also the honeypot's and unmapped fields')
MAX_FIELDS = 60
CONTROL_FIELDS = {"csrf_token", "submit", CONSENT, HONEYPOT}

CREATED, MATCHED, DROPPED, REJECTED = "created", "matched", "dropped", "rejected"


@dataclass
class CaptureResult:
    """What one submission did: ``status`` (created, matched, dropped by the
    honeypot, rejected with ``errors``), the contact and lead, and the reasons."""

    status: str
    errors: list[dict] = field(default_factory=list)
    contact: Outcome | None = None
    lead: Outcome | None = None
    interaction_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status != REJECTED

    def to_dict(self) -> dict:
        """The JSON answer (never says whether a bot was spotted)."""
        if not self.ok:
            return {"status": "rejected", "errors": self.errors}
        return {"status": "received"}


def source_by_key(key: str) -> CaptureSource | None:
    """The active capture source with this public key, or None."""
    if not key or len(key) > 64:
        return None
    return CaptureSource.get_or_none((CaptureSource.key == key) & (CaptureSource.active == True))  # noqa: E712


def _error(name: str | None, reason: str) -> dict:
    return {"field": name, "reason": reason}


def map_payload(source: CaptureSource, payload: Mapping) -> dict:
    """C5: an external payload in our field names (``field_mapping``: their
    field → ours); fields already named like ours pass through."""
    if source.kind != WEBHOOK or not source.field_mapping:
        return dict(payload)
    mapped = {}
    for name, value in payload.items():
        ours = source.field_mapping.get(name)
        if ours:
            mapped[ours] = value
        elif name not in mapped:
            mapped[name] = value
    return mapped


def check_submission(payload: Mapping) -> tuple[dict | None, list[dict]]:
    """C3: a submission's cleaned fields (ours, plus the other answers), or its
    errors. Values must be plain text or numbers and not oversized."""
    errors: list[dict] = []
    if len(payload) > MAX_FIELDS:
        return None, [_error(None, f"At most {MAX_FIELDS} fields.")]
    cleaned: dict = {}
    answers: dict = {}
    for name, value in payload.items():
        if not isinstance(name, str) or len(name) > 100:
            errors.append(_error(None, "Field names are at most 100 characters."))
            continue
        if value is None or isinstance(value, bool) and name != CONSENT:
            continue
        if not isinstance(value, str | int | float | bool):
            errors.append(_error(name, "Must be text."))
            continue
        text = value if isinstance(value, bool) else str(value).strip()
        limit = CAPTURE_FIELDS.get(name, MAX_VALUE)
        if isinstance(text, str) and len(text) > limit:
            errors.append(_error(name, f"At most {limit} characters."))
        elif name in CAPTURE_FIELDS:
            cleaned[name] = text or None
        elif name not in CONTROL_FIELDS and text != "":
            answers[name] = text
    if errors:
        return None, errors
    cleaned["answers"] = answers
    return cleaned, []


def _check_person(values: dict) -> list[dict]:
    errors = []
    email = values.get("email")
    if email and ("@" not in email or " " in email):
        errors.append(_error("email", "Not an email address."))
    country = values.get("country")
    if country:
        code = matching.normalise_country(country)
        if len(code) != 2 or not code.isalpha():
            errors.append(_error("country", "Give the two-letter country code, e.g. FR."))
        values["country"] = code
    if values.get("phone"):
        phone = matching.normalise_phone(values["phone"], values.get("country"))
        if phone.value is None:
            errors.append(_error("phone", f"Phone: {phone.reason}."))
        values["phone"] = phone.value
    if not (email or values.get("phone")):
        errors.append(_error("email", "Give an email address or a phone number."))
    return errors


def has_consent(payload: Mapping) -> bool:
    """C3: the person agreed (a truthy ``consent`` field)."""
    value = payload.get(CONSENT)
    if isinstance(value, bool):
        return value
    return str(value or "").strip().casefold() in TRUTHY


def capture(source: CaptureSource, payload: Mapping, client: str | None = None) -> CaptureResult:
    """C3–C5, M1–M5: one public submission. Honeypot filled: dropped (nothing
    stored). No consent, oversized or unusable fields: rejected (nothing
    stored). Else the contact (and the lead, if the source creates leads) is
    matched or created in one transaction, and the interaction recorded."""
    payload = map_payload(source, payload)
    if str(payload.get(HONEYPOT) or "").strip():
        return CaptureResult(DROPPED)
    if not has_consent(payload):
        return CaptureResult(
            REJECTED, [_error(CONSENT, "Consent is required: tick the box to agree to be contacted.")]
        )
    values, errors = check_submission(payload)
    if errors:
        return CaptureResult(REJECTED, errors)
    errors = _check_person(values)
    if errors:
        return CaptureResult(REJECTED, errors)
    with transaction():
        result = _store_submission(source, values)
        if result.contact.changes:
            signals.records_changed.send(__name__, cause="capture", contact_ids=[result.contact.record_id])
    result.interaction_id = _record_interaction(source, values, result, client)
    return result


def _store_submission(source: CaptureSource, values: dict) -> CaptureResult:
    index = DbIndex()
    policy = source.update_policy
    via = f"capture: {source.name}"
    contact_values = {name: values.get(name) for name in WRITABLE[CONTACT] if values.get(name) is not None}
    contact = match_or_create(
        CONTACT,
        contact_values,
        load_strategies(CONTACT, source.contact_strategies, index),
        policy,
        index=index,
    )
    lead = None
    if source.creates_lead:
        account_id = index.values_of(CONTACT, contact.record_id).get("account_id")
        lead_values = {
            **{name: values.get(name) for name in WRITABLE[LEAD] if values.get(name) is not None},
            "topic": _topic(source),
            "source": source.lead_source,
            "contact_id": contact.record_id,
            "account_id": account_id,
            "campaign_id": source.campaign_id,
            "product_line_id": source.product_line_id,
        }
        lead = match_or_create(
            LEAD,
            lead_values,
            load_strategies(LEAD, source.lead_strategies, index),
            policy,
            index=index,
            via=via,
            history=False,
        )
        LeadHistory.insert_many(
            [match_history_row(lead.record_id, lead, via), match_history_row(lead.record_id, contact, via)]
        ).execute()
    return CaptureResult(MATCHED if contact.matched else CREATED, contact=contact, lead=lead)


def _changes_text(outcome: Outcome) -> str:
    return " " + "; ".join(outcome.change_reasons) + "." if outcome.change_reasons else ""


def _topic(source: CaptureSource) -> str:
    if source.campaign_id:
        return source.campaign.name[:200]
    if source.kind == EVENT and source.event_id:
        return f"{source.name} ({source.event_id})"[:200]
    return source.name[:200]


def _record_interaction(source: CaptureSource, values: dict, result: CaptureResult, client) -> int | None:
    """The form_submitted / event_registered interaction, credited to the matched
    or created contact and lead (M4), for the scoring workers (S4)."""
    from leads.intake.interactions import record_interactions

    properties = {
        "form": source.name,
        "capture_source_id": source.id,
        "kind": source.kind,
        "match": result.contact.reason[:500],
    }
    if source.campaign_id:
        properties["campaign_id"] = source.campaign_id
    if source.product_line_id:
        properties["product_line_id"] = source.product_line_id
    if source.kind == EVENT:
        properties["event_id"] = source.event_id
    answers = values.get("answers") or {}
    if answers and len(json.dumps(answers, default=str)) < 2500:
        properties["answers"] = answers
    item = {
        "type": "event_registered" if source.kind == EVENT else "form_submitted",
        "external_id": uuid.uuid4().hex,
        "source": source.lead_source,
        "properties": properties,
        "contact_id": result.contact.record_id,
    }
    if result.lead is not None:
        item["lead_id"] = result.lead.record_id
    [stored] = record_interactions([item], CAPTURE_ACTOR, source.lead_source)
    return stored.id


# --------------------------------------------------------------------------- management (M3, C3–C6)


class IntakeError(Exception):
    """A management write refused: ``errors`` are ``(field, reason)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(reason for _, reason in errors))
        self.errors = errors


def parse_fields(text: str) -> tuple[str, ...]:
    """``"email, source"`` → ``("email", "source")`` (order kept)."""
    return tuple(part.strip() for part in (text or "").replace("+", ",").split(",") if part.strip())


def save_strategy(
    name: str, entity: str, fields: Sequence[str], is_default: bool, row: MatchingStrategyRecord | None = None
) -> MatchingStrategyRecord:
    """M1/M3: create or change a strategy. Making it the default unsets the
    entity's old default; the default itself cannot be un-defaulted (choose
    another one instead). Its keys are rebuilt when its fields change."""
    core = matching.MatchingStrategy(row.id if row else 0, name.strip(), entity, tuple(fields), is_default)
    errors = matching.strategy_errors(core)
    if row is not None and row.is_default and not is_default:
        errors.append(
            ("is_default", "Each entity keeps one default: make another strategy the default instead.")
        )
    if row is not None and row.entity != entity:
        errors.append(("entity", "A strategy keeps its entity type: create a new one instead."))
    clash = MatchingStrategyRecord.select().where(
        (MatchingStrategyRecord.name == name.strip()) & (MatchingStrategyRecord.id != (row.id if row else 0))
    )
    if clash.exists():
        errors.append(("name", "A strategy with this name already exists."))
    if errors:
        raise IntakeError(errors)
    refields = row is None or tuple(row.fields) != core.fields
    with transaction():
        if is_default:
            MatchingStrategyRecord.update(is_default=False).where(
                (MatchingStrategyRecord.entity == entity) & (MatchingStrategyRecord.is_default == True)  # noqa: E712
            ).execute()
        if row is None:
            row = MatchingStrategyRecord.create(
                name=core.name, entity=entity, fields=list(core.fields), is_default=is_default
            )
        else:
            MatchingStrategyRecord.update(
                name=core.name, fields=list(core.fields), is_default=is_default, updated_at=utcnow()
            ).where(MatchingStrategyRecord.id == row.id).execute()
        if refields:
            rebuild_index(row.id)
    return MatchingStrategyRecord.get_by_id(row.id)


def delete_strategy(row: MatchingStrategyRecord) -> None:
    """Remove a strategy that is not the default; sources that chose it drop it."""
    if row.is_default:
        raise IntakeError(
            [("is_default", "The default strategy cannot be removed: make another the default first.")]
        )
    with transaction():
        for source in CaptureSource.select():
            contact = [i for i in source.contact_strategies if i != row.id]
            lead = [i for i in source.lead_strategies if i != row.id]
            if contact != source.contact_strategies or lead != source.lead_strategies:
                CaptureSource.update(contact_strategies=contact, lead_strategies=lead).where(
                    CaptureSource.id == source.id
                ).execute()
        MatchKey.delete().where(MatchKey.strategy == str(row.id)).execute()
        row.delete_instance()


def new_source_key() -> str:
    """An unguessable public key for a capture source's URL."""
    import secrets

    return secrets.token_urlsafe(24)


def parse_mapping(text: str) -> dict[str, str]:
    """C5: the webhook's field mapping from its JSON text (their field → our field)."""
    if not (text or "").strip():
        return {}
    try:
        mapping = json.loads(text)
    except ValueError as error:
        raise IntakeError([("field_mapping", f"Not valid JSON: {error.msg}.")]) from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise IntakeError(
            [("field_mapping", 'Give a JSON object of their field to ours, e.g. {"mail": "email"}.')]
        )
    ours = set(CAPTURE_FIELDS) | {CONSENT}
    unknown = sorted(v for v in mapping.values() if v not in ours)
    if unknown:
        raise IntakeError(
            [
                (
                    "field_mapping",
                    f"Not one of our fields: {', '.join(unknown)} (use {', '.join(sorted(ours))}).",
                )
            ]
        )
    return mapping


SOURCE_FIELDS = (
    "name",
    "kind",
    "event_id",
    "field_mapping",
    "contact_strategies",
    "lead_strategies",
    "campaign_id",
    "product_line_id",
    "creates_lead",
    "update_policy",
    "thank_you_url",
    "active",
)


def save_source(values: Mapping, row: CaptureSource | None = None) -> CaptureSource:
    """C3–C5: create or change a capture source from cleaned form values (the key
    is made once, at creation)."""
    errors = []
    if values["kind"] == EVENT and not (values.get("event_id") or "").strip():
        errors.append(("event_id", "An event registration needs the event's id."))
    if values["update_policy"] not in matching.UPDATE_POLICIES:
        errors.append(("update_policy", "Choose an update policy."))
    for name, entity in (("contact_strategies", CONTACT), ("lead_strategies", LEAD)):
        ids = values.get(name) or []
        found = (
            MatchingStrategyRecord.select()
            .where(MatchingStrategyRecord.id.in_(ids) & (MatchingStrategyRecord.entity == entity))
            .count()
            if ids
            else 0
        )
        if found != len(set(ids)):
            errors.append((name, f"Choose {entity} strategies only."))
    url = (values.get("thank_you_url") or "").strip()
    if url and not (url.startswith("https://") or url.startswith("http://") or url.startswith("/")):
        errors.append(("thank_you_url", "Give an http(s) address or a path starting with /."))
    clash = CaptureSource.select().where(
        (CaptureSource.name == values["name"].strip()) & (CaptureSource.id != (row.id if row else 0))
    )
    if clash.exists():
        errors.append(("name", "A source with this name already exists."))
    if errors:
        raise IntakeError(errors)
    data = {name: values.get(name) for name in SOURCE_FIELDS}
    data.update(
        name=values["name"].strip(),
        thank_you_url=url or None,
        event_id=(values.get("event_id") or "").strip() or None,
    )
    data["field_mapping"] = data["field_mapping"] or {}
    with transaction():
        if row is None:
            source_id = CaptureSource.insert(
                {_column(CaptureSource, k): v for k, v in data.items()}
                | {CaptureSource.key: new_source_key()}
            ).execute()
        else:
            source_id = row.id
            CaptureSource.update(
                {_column(CaptureSource, k): v for k, v in data.items()} | {CaptureSource.updated_at: utcnow()}
            ).where(CaptureSource.id == row.id).execute()
    return CaptureSource.get_by_id(source_id)


def capture_sources():
    """Every capture source with its campaign and product line, by name."""
    from leads.records.models import Campaign, ProductLine

    return (
        CaptureSource.select(CaptureSource, Campaign, ProductLine)
        .join_from(CaptureSource, Campaign, pw.JOIN.LEFT_OUTER)
        .join_from(CaptureSource, ProductLine, pw.JOIN.LEFT_OUTER)
        .order_by(CaptureSource.name)
    )


def save_rule(name: str, campaign_id: int | None, product_line_id: int | None, types: Sequence[str]):
    """C6: a new automatic lead rule (a campaign or a product line, not both)."""
    from leads.intake.models import AutoLeadRule

    errors = []
    if bool(campaign_id) == bool(product_line_id):
        errors.append(("campaign", "Choose a campaign or a product line (one of them)."))
    if AutoLeadRule.select().where(AutoLeadRule.name == name.strip()).exists():
        errors.append(("name", "A rule with this name already exists."))
    if errors:
        raise IntakeError(errors)
    with transaction():
        return AutoLeadRule.create(
            name=name.strip(),
            campaign=campaign_id,
            product_line=product_line_id,
            interaction_types=list(types),
        )


def auto_lead_rules():
    """The automatic lead rules (C6), with their campaign and product line."""
    from leads.intake.models import AutoLeadRule
    from leads.records.models import Campaign, ProductLine

    return (
        AutoLeadRule.select(AutoLeadRule, Campaign, ProductLine)
        .join_from(AutoLeadRule, Campaign, pw.JOIN.LEFT_OUTER)
        .join_from(AutoLeadRule, ProductLine, pw.JOIN.LEFT_OUTER)
        .order_by(AutoLeadRule.name)
    )
