"""The public capture (C3–C5): ``capture(source, payload, client)`` checks the
submission (consent, honeypot, sizes, the webhook's field mapping), then in
one transaction matches or creates the contact and, if the source creates
leads, the lead, and writes the match on the lead's timeline; then it records
the form_submitted / event_registered interaction through
``leads.intake.interactions.record_interactions`` (its own transaction, so the scoring jobs
are enqueued only once everything is committed; E3 makes it idempotent).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

from auth.models import ADMIN
from leads.base import signals
from leads.base.db import transaction
from leads.core import fields as catalogue
from leads.core import matching, validation
from leads.core.matching import CONTACT, LEAD
from leads.intake.match_keys import DbIndex, load_strategies
from leads.intake.match_or_create import WRITABLE, Outcome, match_history_row, match_or_create
from leads.intake.models import EVENT, WEBHOOK, CaptureSource
from leads.records.models import LeadHistory

# The public capture acts as nobody: it may resolve any record it just wrote.
CAPTURE_ACTOR = SimpleNamespace(id=None, role=ADMIN, name="Capture")

HONEYPOT = "website"
CONSENT = "consent"
TRUTHY = {"1", "true", "yes", "on", "y", "oui", "agree", "accepted"}
# Our capture fields (the catalogue's) and their longest accepted value: the
# columns' sizes; an email and a country are checked as at every door afterwards
# (``leads.core.validation``).
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
        if validation.has_nul(name) or validation.has_nul(value):
            errors.append(_error(name.replace(validation.NUL, "\\0"), validation.NUL_REASON))
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
    for name, check in (("email", validation.check_email), ("country", validation.check_country)):
        if values.get(name):
            values[name], reason = check(values[name])
            if reason:
                errors.append(_error(name, reason))
    email = values.get("email")
    if values.get("phone"):
        phone = matching.normalise_phone(values["phone"], values.get("country"))
        if phone.value is None:
            errors.append(_error("phone", f"Phone: {phone.reason}."))
        values["phone"] = phone.value
    if not (email or values.get("phone")) and not any(e["field"] == "email" for e in errors):
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
