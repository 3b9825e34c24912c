"""The writes and lookups behind the JSON API: create and update records from
cleaned values, and the named queries of the contact and account directories
(record-level access included)."""

from __future__ import annotations

from auth.models import User
from leads.db import BaseModel, utcnow
from leads.jobs import rescore_records
from leads.models import Account, Contact, Lead, LeadHistory
from leads.queries import visible_accounts, visible_contacts


def create_record(model: type[BaseModel], values: dict) -> BaseModel:
    """A new contact or account from cleaned values."""
    return model.create(**values)


def update_record(model: type[BaseModel], row_id: int, values: dict) -> BaseModel:
    """Set the cleaned ``values`` (only those) on one row and return it fresh."""
    if values:
        model.update(**values, updated_at=utcnow()).where(model.id == row_id).execute()
        key = {Lead: "lead_ids", Contact: "contact_ids", Account: "account_ids"}[model]
        rescore_records(f"{model.__name__.lower()} changed", **{key: [row_id]})  # S4
    return model.get_by_id(row_id)


def contact_for(user: User, contact_id: int) -> Contact | None:
    """The contact with ``contact_id`` if ``user`` may see it, else None (callers answer 404)."""
    return visible_contacts(user).where(Contact.id == contact_id).first()


def account_for(user: User, account_id: int) -> Account | None:
    """The account with ``account_id`` if ``user`` may see it, else None (callers answer 404)."""
    return visible_accounts(user).where(Account.id == account_id).first()


def history_of(lead_id: int):
    """The lead's history rows (P7), oldest first."""
    return (
        LeadHistory.select()
        .where(LeadHistory.lead == lead_id)
        .order_by(LeadHistory.created_at, LeadHistory.id)
    )


def _matching_every_word(query, q: str | None, columns):
    """Keep rows where each word of ``q`` starts one of ``columns`` (case-insensitively,
    a prefix match like the lead list's search)."""
    for word in (q or "").split():
        clause = columns[0].startswith(word)
        for column in columns[1:]:
            clause |= column.startswith(word)
        query = query.where(clause)
    return query


def search_contacts(user: User, q: str | None = None, owner: int | None = None, account: int | None = None):
    """Visible contacts matching a name/email search and filters, by name."""
    query = _matching_every_word(
        visible_contacts(user), q, [Contact.first_name, Contact.last_name, Contact.email]
    )
    if owner is not None:
        query = query.where(Contact.owner == owner)
    if account is not None:
        query = query.where(Contact.account == account)
    return query.order_by(Contact.last_name, Contact.first_name, Contact.id)


def search_accounts(user: User, q: str | None = None, owner: int | None = None):
    """Visible accounts matching a name/domain search and an owner, by name."""
    query = _matching_every_word(visible_accounts(user), q, [Account.name, Account.domain])
    if owner is not None:
        query = query.where(Account.owner == owner)
    return query.order_by(Account.name, Account.id)


def page_of(query, page: int, per_page: int) -> tuple[list, int]:
    """One page of ``query`` and the total row count (two queries)."""
    total = query.order_by().count()
    return list(query.paginate(page, per_page)), total
