"""Writing contacts, accounts and leads (C1, E1, E2), one function per action
for every door (the pages, the API): cleaned values in (``leads.records.forms``
and ``leads.api.validation`` clean them), one transaction, and the follow-ups told
inside it: ``lead_created`` for a new lead, ``records_changed`` for changed
fields (S4: re-scored). A contact that moves to another account changes the
leads of both accounts (S3: an account's leads count all its contacts)."""

from __future__ import annotations

from auth.models import Team, User
from leads.base import signals
from leads.base.db import transaction, utcnow
from leads.records.models import Account, Campaign, Contact, Lead, LeadHistory, ProductLine
from leads.stages.services import record_created

MANUAL = "manual"  # the source of every lead created by hand (C1)


def create_contact(values: dict) -> Contact:
    """A new contact from cleaned values."""
    with transaction():
        return Contact.create(**values)


def update_contact(contact_id: int, values: dict) -> Contact:
    """Store the cleaned ``values`` on the contact and return it fresh."""
    if values:
        with transaction():
            before = Contact.select(Contact.account).where(Contact.id == contact_id).scalar()
            Contact.update(**values, updated_at=utcnow()).where(Contact.id == contact_id).execute()
            after = Contact.select(Contact.account).where(Contact.id == contact_id).scalar()
            accounts = {before, after} - {None} if before != after else set()
            signals.records_changed.send(
                __name__, cause="contact changed", contact_ids=[contact_id], account_ids=sorted(accounts)
            )
    return Contact.get_by_id(contact_id)


def create_account(values: dict) -> Account:
    """A new account from cleaned values."""
    with transaction():
        return Account.create(**values)


def update_account(account_id: int, values: dict) -> Account:
    """Store the cleaned ``values`` on the account and return it fresh."""
    if values:
        with transaction():
            Account.update(**values, updated_at=utcnow()).where(Account.id == account_id).execute()
            signals.records_changed.send(__name__, cause="account changed", account_ids=[account_id])
    return Account.get_by_id(account_id)


def create_lead(values: dict, user: User, via: str = "web", source: str = MANUAL) -> Lead:
    """A new stage-1 lead (C1) with its first history row (P7), from the web
    form or the API (``via``); ``source`` unless the values name their own.

    Contact and account are optional (E1); with a contact and no account the
    lead takes the contact's account."""
    values = {"source": source, **values}
    with transaction():
        if values.get("contact") and not values.get("account"):
            values["account"] = Contact.get_by_id(values["contact"]).account_id
        lead = Lead.create(**values)
        record_created(lead, user, via=via)
    return lead


def update_lead(lead_id: int, values: dict, user: User | None = None, via: str = "web") -> Lead:
    """Store the cleaned ``values`` (the lead's own fields, never its stage or
    owner) and return it fresh (W2, any door: the lead page, the API). Each
    changed field is a history row (P7: from, to, who, when, ``via``) and the
    lead is re-scored (S4: ``records_changed``); unchanged values write nothing."""
    lead = Lead.get_by_id(lead_id)
    changed = {attr: value for attr, value in values.items() if _stored(lead, attr) != value}
    if changed:
        with transaction():
            now = utcnow()
            Lead.update(**changed, updated_at=now).where(Lead.id == lead_id).execute()
            LeadHistory.insert_many(_field_history(lead, changed, user, via, now)).execute()
            signals.records_changed.send(__name__, cause="lead changed", lead_ids=[lead_id])
    return Lead.get_by_id(lead_id)


# The references a lead's page edits, and how a history row names their records.
_REFERENCES = {
    "campaign": Campaign,
    "product_line": ProductLine,
    "contact": Contact,
    "account": Account,
    "team": Team,
}


def _stored(lead: Lead, attr: str):
    """The stored value of ``attr`` (a reference as its id)."""
    return getattr(lead, f"{attr}_id") if attr in _REFERENCES else getattr(lead, attr)


def _field_history(lead: Lead, changed: dict, user: User | None, via: str, now) -> list[dict]:
    """One history row per changed field: the old and new values as people read
    them (a reference by its record's name, at the time of the change)."""
    names = _reference_names(
        {(attr, value) for attr, value in changed.items() if attr in _REFERENCES}
        | {(attr, _stored(lead, attr)) for attr in changed if attr in _REFERENCES}
    )
    rows = []
    for attr, value in changed.items():
        old = _stored(lead, attr)
        if attr in _REFERENCES:
            old, value = names.get((attr, old)), names.get((attr, value))
        rows.append(
            {
                "lead": lead.id,
                "kind": attr,
                "old_value": _history_text(old),
                "new_value": _history_text(value),
                "actor": user.id if user else None,
                "via": via,
                "created_at": now,
            }
        )
    return rows


def _reference_names(pairs: set[tuple[str, int | None]]) -> dict[tuple[str, int], str]:
    """The display names of the referenced records (one query per kind)."""
    names = {}
    for attr, model in _REFERENCES.items():
        ids = [value for kind, value in pairs if kind == attr and value is not None]
        for row in model.select().where(model.id.in_(ids)) if ids else ():
            names[(attr, row.id)] = row.name
    return names


def _history_text(value) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:100]
