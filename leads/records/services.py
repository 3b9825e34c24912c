"""Writing contacts, accounts and leads (C1, E1, E2), one function per action
for every door (the pages, the API): cleaned values in (``leads.records.forms``
and ``leads.api.validation`` clean them), one transaction, and the follow-ups told
inside it: ``lead_created`` for a new lead, ``records_changed`` for changed
fields (S4: re-scored). A contact that moves to another account changes the
leads of both accounts (S3: an account's leads count all its contacts)."""

from __future__ import annotations

from auth.models import User
from leads.base import signals
from leads.base.db import transaction, utcnow
from leads.records.models import Account, Contact, Lead
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


def update_lead(lead_id: int, values: dict) -> Lead:
    """Store the cleaned ``values`` (the lead's own fields, never its stage or
    owner) and return it fresh."""
    if values:
        with transaction():
            Lead.update(**values, updated_at=utcnow()).where(Lead.id == lead_id).execute()
            signals.records_changed.send(__name__, cause="lead changed", lead_ids=[lead_id])
    return Lead.get_by_id(lead_id)
