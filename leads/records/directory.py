"""Finding contacts, accounts and leads (E1, E2, C1, G1): the named queries of
the contact and account pages and of the API's directories, with record-level
access (G1: a rep sees only the contacts they own or hold a lead of, a
teleprospector only those of the leads they may see, and each the accounts of
those), and the choices of the lead form."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import peewee as pw

from auth.models import REP, User
from leads.core import fields as catalogue
from leads.core import lifecycle
from leads.core.fields import CONTACT, LEAD
from leads.core.numbers import whole_number
from leads.records.models import Account, Contact, Lead, LeadHistory
from leads.records.queries import (
    assignable_reps,
    visible_accounts,
    visible_contacts,
    visible_leads,
    with_related,
)

CHOICE_LIMIT = 200  # how many recent contacts/accounts a lead form's select offers
MAX_QUERY_LENGTH = 100
MAX_PAGE = 1_000_000
NO_OWNER = "none"

RecordOwner = User.alias("record_owner")
_OUTER = pw.JOIN.LEFT_OUTER


def _with_owner(query, model):
    """``query`` with each row's owner (id and name only) loaded by the same SQL."""
    return query.select_extend(RecordOwner.id, RecordOwner.name).join_from(
        model, RecordOwner, _OUTER, on=(model.owner == RecordOwner.id), attr="owner"
    )


def _contacts_with_account_and_owner(query):
    return _with_owner(
        query.select_extend(Account.id, Account.name).join_from(
            Contact, Account, _OUTER, on=(Contact.account == Account.id), attr="account"
        ),
        Contact,
    )


def contact_for(user: User, contact_id: int) -> Contact | None:
    """The contact if ``user`` may see it (with its account and owner), else None."""
    return _contacts_with_account_and_owner(visible_contacts(user)).where(Contact.id == contact_id).first()


def account_for(user: User, account_id: int) -> Account | None:
    """The account if ``user`` may see it (with its owner), else None."""
    return _with_owner(visible_accounts(user), Account).where(Account.id == account_id).first()


def leads_of_contact(user: User, contact_id: int):
    """The contact's leads ``user`` may see (E2: it may hold several open ones), newest first."""
    return (
        with_related(visible_leads(user))
        .where(Lead.contact == contact_id)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
    )


def leads_of_account(user: User, account_id: int):
    """The account's leads ``user`` may see, newest first."""
    return (
        with_related(visible_leads(user))
        .where(Lead.account == account_id)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
    )


def contacts_of_account(user: User, account_id: int):
    """The account's contacts ``user`` may see, by name."""
    return (
        _with_owner(visible_contacts(user), Contact)
        .where(Contact.account == account_id)
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
    )


@dataclass(frozen=True)
class ListArgs:
    """What a contact or account list shows: a search, an owner filter
    (``""`` anyone, ``"none"`` no owner, else a user id) and a page."""

    q: str = ""
    owner: str = ""
    page: int = 1

    def url_args(self, **changes) -> dict:
        """Query-string arguments for this list (defaults left out), with ``changes``."""
        values = {**asdict(self), **changes}
        return {key: value for key, value in values.items() if value not in ("", None, 1)}


def parse_list_args(args: Mapping[str, str]) -> ListArgs:
    """List arguments from a query string; anything unreadable means "no filter"."""
    owner = (args.get("owner") or "").strip()
    if owner != NO_OWNER and whole_number(owner) is None:
        owner = ""
    page = whole_number(args.get("page"), 1, MAX_PAGE) or 1
    q = " ".join((args.get("q") or "").split())[:MAX_QUERY_LENGTH]
    return ListArgs(q=q, owner=owner, page=page)


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, the total count and where it sits."""

    rows: list
    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_of(query, number: int, per_page: int) -> Page:
    """Page ``number`` of ``query`` and its total (two queries)."""
    total = query.order_by().count()
    return Page(list(query.paginate(number, per_page)), total, number, per_page)


def _words(q: str | None) -> list[str]:
    """The words of a search; a NUL separates words like a space (no text holds
    one, and PostgreSQL cannot compare one: it would answer an error)."""
    return (q or "").replace("\x00", " ").split()


def _every_word(query, q: str, columns):
    """Keep rows where each word of ``q`` appears (case-insensitively) in one of ``columns``."""
    for word in _words(q):
        clause = columns[0].contains(word)
        for column in columns[1:]:
            clause |= column.contains(word)
        query = query.where(clause)
    return query


def _owned_by(query, column, owner: str):
    if owner == NO_OWNER:
        return query.where(column.is_null())
    if owner:
        return query.where(column == int(owner))
    return query


def contact_list(user: User, args: ListArgs):
    """Visible contacts matching the search (name, email, company) and owner, by name."""
    query = _contacts_with_account_and_owner(visible_contacts(user))
    query = _every_word(query, args.q, [Contact.first_name, Contact.last_name, Contact.email, Account.name])
    return _owned_by(query, Contact.owner, args.owner).order_by(
        Contact.last_name, Contact.first_name, Contact.id
    )


def account_list(user: User, args: ListArgs):
    """Visible accounts matching the search (name, domain) and owner, by name."""
    query = _every_word(_with_owner(visible_accounts(user), Account), args.q, [Account.name, Account.domain])
    return _owned_by(query, Account.owner, args.owner).order_by(Account.name, Account.id)


def owner_filter_choices():
    """Every sales rep (deactivated ones too: they may still own records), by name."""
    return (
        User.select(User.id, User.name, User.is_active).where(User.role == REP).order_by(User.name, User.id)
    )


def owner_choices():
    """The users a contact or account may be given to: active sales reps only."""
    return assignable_reps()


def recent_contacts(q: str = "", include: int | None = None, limit: int = CHOICE_LIMIT) -> list[Contact]:
    """The most recent contacts (matching ``q``), plus the one with id ``include``."""
    query = _every_word(
        _contacts_with_account_and_owner(Contact.select()),
        q,
        [Contact.first_name, Contact.last_name, Contact.email, Account.name],
    )
    rows = list(query.order_by(Contact.created_at.desc(), Contact.id.desc()).limit(limit))
    if include and all(row.id != include for row in rows):
        rows += list(_contacts_with_account_and_owner(Contact.select()).where(Contact.id == include))
    return rows


def recent_accounts(q: str = "", include: int | None = None, limit: int = CHOICE_LIMIT) -> list[Account]:
    """The most recent accounts (matching ``q``), plus the one with id ``include``."""
    query = _every_word(Account.select(), q, [Account.name, Account.domain])
    rows = list(query.order_by(Account.created_at.desc(), Account.id.desc()).limit(limit))
    if include and all(row.id != include for row in rows):
        rows += list(Account.select().where(Account.id == include))
    return rows


def contact_label(contact: Contact) -> str:
    """How a contact reads in a select: name, email, company."""
    parts = [contact.name]
    if contact.email and contact.email != contact.name:
        parts.append(f"<{contact.email}>")
    if contact.account_id and contact.account is not None:
        parts.append(f"· {contact.account.name}")
    return " ".join(parts)


def account_label(account: Account) -> str:
    """How an account reads in a select: name and domain."""
    return f"{account.name} ({account.domain})" if account.domain else account.name


def lead_defaults(user: User, contact_id: int | None = None, account_id: int | None = None) -> dict:
    """The new-lead form's starting values: the person and company of a contact
    (E2: "New lead for this contact") or the company of an account."""
    contact = contact_for(user, contact_id) if contact_id else None
    if contact is not None:
        return {
            "contact": str(contact.id),
            "account": str(contact.account_id or ""),
            **{name: getattr(contact, name) for name in catalogue.shared(CONTACT, LEAD)},
            "company": contact.account.name if contact.account_id else None,
        }
    account = account_for(user, account_id) if account_id else None
    if account is not None:
        return {"account": str(account.id), "company": account.name, "country": account.country}
    return {}


def open_lead_in_context(
    contact_id: int | None, campaign_id: int | None, product_line_id: int | None, exclude: int | None = None
):
    """The contact's open lead with the same marketing context, if any (E2: one open
    lead per campaign, or per product line for leads with no campaign), other
    than the lead ``exclude``."""
    if contact_id is None or not (campaign_id or product_line_id):
        return None
    if campaign_id:
        context = Lead.campaign == campaign_id
    else:
        context = Lead.campaign.is_null() & (Lead.product_line == product_line_id)
    if exclude is not None:
        context &= Lead.id != exclude
    return (
        Lead.select(Lead.id)
        .where((Lead.contact == contact_id) & (Lead.status == lifecycle.OPEN) & context)
        .first()
    )


# The API's directories: prefix search (as the lead list's), filters by id -----------


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
    for word in _words(q):
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


def rows_and_total(query, page: int, per_page: int) -> tuple[list, int]:
    """One page of ``query`` and the total row count (two queries)."""
    total = query.order_by().count()
    return list(query.paginate(page, per_page)), total
