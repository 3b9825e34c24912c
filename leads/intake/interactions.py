"""Interactions in (E3, S3, S4): check them, store each event once, and tell the
follow-ups (``interactions_stored``: scoring marks the leads they touch, the
owner reps hear their leads engaged), all in one transaction; the scoring jobs
are enqueued after commit.

``record_interactions(items, user)`` takes plain dicts (from the API, a capture
form, an import) and returns one ``Result`` per item: created, duplicate (the
same ``(source, external_id)`` was stored before: counted once, E3) or rejected
with its field errors. Bad items never stop good ones.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import peewee as pw

from auth.models import User
from leads.base import bulk, signals
from leads.base.db import retried, transaction, utcnow
from leads.core import interactions as vocabularies
from leads.core import validation
from leads.core.numbers import MAX_ID
from leads.intake import auto_leads
from leads.records.interaction_types import vocabulary as install_vocabulary
from leads.records.models import Contact, Interaction, Lead
from leads.records.queries import visible_contacts, visible_leads
from leads.scoring.facts import leads_touched_by

MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 4000
MAX_FUTURE = dt.timedelta(days=1)
ALLOWED_KEYS = {
    "type",
    "occurred_at",
    "external_id",
    "source",
    "properties",
    "lead_id",
    "contact_id",
    "email",
}
CREATED, DUPLICATE, REJECTED = "created", "duplicate", "rejected"


@dataclass
class Result:
    index: int
    status: str
    id: int | None = None
    lead_id: int | None = None
    contact_id: int | None = None
    errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The result as the API shows it: every key always there (``errors`` empty when none)."""
        return {"index": self.index, "status": self.status, "id": self.id, "errors": list(self.errors)}


def _error(name: str | None, reason: str) -> dict:
    return {"field": name, "reason": reason}


def _parse_time(value) -> tuple[dt.datetime | None, str | None]:
    if value is None:
        return utcnow(), None
    if not isinstance(value, str):
        return None, "Give an ISO 8601 date-time, e.g. 2026-05-01T09:30:00Z."
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None, "Give an ISO 8601 date-time, e.g. 2026-05-01T09:30:00Z."
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    if moment > utcnow() + MAX_FUTURE:
        return None, "This is in the future."
    return moment, None


def _text(item: Mapping, name: str, limit: int, errors: list, required: bool) -> str | None:
    value = item.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(_error(name, "Required."))
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        errors.append(_error(name, "Must be a string."))
        return None
    value = str(value).strip()
    if validation.has_nul(value):
        errors.append(_error(name, validation.NUL_REASON))
        return None
    if len(value) > limit:
        errors.append(_error(name, f"At most {limit} characters."))
        return None
    return value


def _id(item: Mapping, name: str, errors: list) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        errors.append(_error(name, f"Must be a record id, from 1 to {MAX_ID}."))
        return None
    return value


def _check_type(kind: str | None, vocabulary: vocabularies.Vocabulary, errors: list) -> str | None:
    """E3/S2: a built-in or registered type, as stored (trimmed, lower-case); an
    unknown one is refused with the list of the known ones."""
    if kind is None:
        return None
    if not vocabulary.known(kind):
        errors.append({**_error("type", vocabulary.unknown_reason(kind)), "known_types": vocabulary.names()})
        return None
    return vocabularies.normalise(kind)


def check_item(
    item, default_source: str, vocabulary: vocabularies.Vocabulary = vocabularies.BUILT_IN_VOCABULARY
) -> tuple[dict | None, list[dict]]:
    """One item's cleaned values, or its errors (field and reason); its type
    must be one of ``vocabulary``'s."""
    if not isinstance(item, Mapping):
        return None, [_error(None, "Each interaction must be a JSON object.")]
    errors: list[dict] = []
    unknown = sorted(set(item) - ALLOWED_KEYS)
    for name in unknown:
        errors.append(_error(str(name).replace(validation.NUL, "\\0"), "Unknown field."))
    kind = _check_type(_text(item, "type", 50, errors, required=True), vocabulary, errors)
    external_id = _text(item, "external_id", 200, errors, required=True)
    source = _text(item, "source", 100, errors, required=False) or default_source
    occurred_at, problem = _parse_time(item.get("occurred_at"))
    if problem:
        errors.append(_error("occurred_at", problem))
    properties = item.get("properties") or {}
    if not isinstance(properties, Mapping):
        errors.append(_error("properties", "Must be an object of names to values."))
    elif (nul := validation.find_nul(properties, "properties")) is not None:
        errors.append(_error(nul, validation.NUL_REASON))
    elif len(json.dumps(properties, default=str)) > MAX_PROPERTIES_BYTES:
        errors.append(_error("properties", f"At most {MAX_PROPERTIES_BYTES} bytes of JSON."))
    lead_id, contact_id = _id(item, "lead_id", errors), _id(item, "contact_id", errors)
    email = _text(item, "email", 254, errors, required=False)
    if email is not None:
        email, reason = validation.check_email(email)
        if reason:
            errors.append(_error("email", reason))
    if not (lead_id or contact_id or email) and not any(
        e["field"] in ("lead_id", "contact_id", "email") for e in errors
    ):
        errors.append(_error("email", "Say whose interaction it is: lead_id, contact_id or email."))
    if errors:
        return None, errors
    return {
        "type": kind,
        "external_id": external_id,
        "source": source,
        "occurred_at": occurred_at,
        "properties": dict(properties),
        "lead_id": lead_id,
        "contact_id": contact_id,
        "email": email.casefold() if email else None,
    }, []


def _resolve(cleaned: list[tuple[int, dict]], user: User) -> dict[int, list[dict]]:
    """Check the ids the token's user may see and find people by email (contacts
    first, then the newest lead with that email). Returns errors by index."""
    lead_ids = {values["lead_id"] for _, values in cleaned if values["lead_id"]}
    contact_ids = {values["contact_id"] for _, values in cleaned if values["contact_id"]}
    emails = {values["email"] for _, values in cleaned if values["email"] and not values["contact_id"]}
    leads = {row.id: row for row in visible_leads(user).where(Lead.id.in_(lead_ids))} if lead_ids else {}
    contacts = (
        {row.id: row for row in visible_contacts(user).where(Contact.id.in_(contact_ids))}
        if contact_ids
        else {}
    )
    by_email: dict[str, int] = {}
    lead_by_email: dict[str, int] = {}
    if emails:
        for contact_id, email in (
            visible_contacts(user)
            .select(Contact.id, pw.fn.LOWER(Contact.email))
            .where(pw.fn.LOWER(Contact.email).in_(emails))
            .order_by(Contact.id)
            .tuples()
        ):
            by_email.setdefault(email, contact_id)
        missing = emails - set(by_email)
        if missing:
            for lead_id, email in (
                visible_leads(user)
                .select(Lead.id, pw.fn.LOWER(Lead.email))
                .where(pw.fn.LOWER(Lead.email).in_(missing))
                .order_by(Lead.id.desc())
                .tuples()
            ):
                lead_by_email.setdefault(email, lead_id)
    problems: dict[int, list[dict]] = {}
    for index, values in cleaned:
        errors = []
        if values["lead_id"] and values["lead_id"] not in leads:
            errors.append(_error("lead_id", "No such lead."))
        if values["contact_id"] and values["contact_id"] not in contacts:
            errors.append(_error("contact_id", "No such contact."))
        if values["email"] and not values["contact_id"]:
            if values["email"] in by_email:
                values["contact_id"] = by_email[values["email"]]
            elif not values["lead_id"] and values["email"] in lead_by_email:
                values["lead_id"] = lead_by_email[values["email"]]
            elif not values["lead_id"]:
                errors.append(_error("email", "No contact or lead has this email."))
        if errors:
            problems[index] = errors
    return problems


def record_interactions(items: Sequence, user: User, default_source: str = "api") -> list[Result]:
    """E3/S4: store the good items once each and mark their leads for re-scoring
    in one transaction; enqueue the scoring jobs after commit."""
    results: dict[int, Result] = {}
    cleaned: list[tuple[int, dict]] = []
    vocabulary = install_vocabulary()
    for index, item in enumerate(items):
        values, errors = check_item(item, default_source, vocabulary)
        if errors:
            results[index] = Result(index, REJECTED, errors=errors)
        else:
            cleaned.append((index, values))
    for index, errors in _resolve(cleaned, user).items():
        results[index] = Result(index, REJECTED, errors=errors)
    good = [(index, values) for index, values in cleaned if index not in results]
    if good:

        def store() -> None:
            with transaction():
                _store(good, results)

        retried(store)  # O2: a deadlock with a concurrent batch is tried again, not a 500
    return [results[index] for index in sorted(results)]


_FIELDS = (
    Interaction.type,
    Interaction.external_id,
    Interaction.source,
    Interaction.occurred_at,
    Interaction.properties,
    Interaction.lead,
    Interaction.contact,
    Interaction.created_at,
)


def _store(good: list[tuple[int, dict]], results: dict[int, Result]) -> None:
    now = utcnow()
    keys = {(values["source"], values["external_id"]) for _, values in good}
    existing = _ids_by_key(keys)
    rows, seen = [], set()
    for _, values in good:
        key = (values["source"], values["external_id"])
        if key in existing or key in seen:
            continue  # E3: the same event again counts once
        seen.add(key)
        rows.append(
            (
                values["type"],
                values["external_id"],
                values["source"],
                values["occurred_at"],
                values["properties"],
                values["lead_id"],
                values["contact_id"],
                now,
            )
        )
    rows.sort(key=lambda row: (row[2], row[1]))  # (source, external_id): one global order, no deadlock
    stored = {
        (source, external_id): row_id
        for row_id, source, external_id in bulk.insert_new(
            Interaction,
            _FIELDS,
            rows,
            conflict=(Interaction.source, Interaction.external_id),
            returning=(Interaction.id, Interaction.source, Interaction.external_id),
        )
    }
    if len(stored) < len(seen):  # another request stored some of them meanwhile: theirs, not ours
        existing.update(_ids_by_key(seen - set(stored)))
    first_index: dict[tuple, int] = {}
    for index, values in good:
        key = (values["source"], values["external_id"])
        if key in stored and key not in existing and key not in first_index:
            first_index[key] = index
            results[index] = Result(
                index, CREATED, id=stored[key], lead_id=values["lead_id"], contact_id=values["contact_id"]
            )
        else:
            results[index] = Result(index, DUPLICATE, id=existing.get(key) or stored.get(key))
    new_rows = list(Interaction.select().where(Interaction.id.in_([stored[k] for k in first_index])))
    auto_leads.apply(new_rows)  # C6: leads created by rule, in this same transaction
    if new_rows:
        signals.interactions_stored.send(
            __name__,
            interactions=new_rows,
            lead_ids=leads_touched_by(new_rows),
            cause=f"interaction {new_rows[0].type}"
            if len(new_rows) == 1
            else f"{len(new_rows)} interactions",
        )


def _ids_by_key(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    found = {}
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    for source, external_ids in by_source.items():
        for start in range(0, len(external_ids), 500):
            query = Interaction.select(Interaction.id, Interaction.external_id).where(
                (Interaction.source == source)
                & Interaction.external_id.in_(external_ids[start : start + 500])
            )
            for row_id, external_id in query.tuples():
                found[(source, external_id)] = row_id
    return found
