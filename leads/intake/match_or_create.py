"""Match or create (M1–M5): the database edge of ``leads.core.matching`` for one
record at a time.

How to use it row by row (the CSV import, C2, does this inside its own
``with transaction():`` — nothing here commits, enqueues or opens a
top-level transaction; a savepoint only)::

    from leads.intake.match_keys import DbIndex, load_strategies
    from leads.intake.match_or_create import match_or_create
    from leads.core.matching import CONTACT, LEAD, ACCOUNT, FILL_EMPTY, OVERWRITE, KEEP

    strategies = load_strategies(CONTACT)          # the default (M3)
    strategies = load_strategies(LEAD, [3, 5])     # chosen ids, in order
    index = DbIndex()                              # MatchIndex over match_key
    with transaction():
        for values in rows:
            outcome = match_or_create(CONTACT, values, strategies, FILL_EMPTY, index=index)
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
- ``match_history_row(lead_id, outcome, via)`` builds the timeline row for an
  outcome (e.g. the contact's match, shown on the lead it belongs to).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from leads.base.db import db, is_sqlite, utcnow
from leads.core import fields as catalogue
from leads.core import lifecycle, matching
from leads.core.matching import ACCOUNT, CONTACT, LEAD
from leads.intake.match_keys import MODELS, DbIndex, _advance_watermark, _key_rows, index_records
from leads.intake.models import MatchKey
from leads.records.models import Lead, LeadHistory
from leads.stages.services import record_created

# What intake may write, per entity: the catalogue's writable columns (model
# field names; ``*_id`` for foreign keys).
WRITABLE = {entity: catalogue.names(catalogue.writable(entity)) for entity in MODELS}
# A match never moves a record to another source form (it is part of its key, M2).
NEVER_MERGED = {"source"}


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


def _changes_text(outcome: Outcome) -> str:
    return " " + "; ".join(outcome.change_reasons) + "." if outcome.change_reasons else ""
