"""Load what the scoring and qualification rules look at, for many leads at once.

``load_facts(lead_ids)`` returns ``{lead_id: Facts}`` with a handful of queries
whatever the number of leads (``IN (...)`` batches, PERF: ~200 µs per query):
the leads, their contacts and accounts, and the interactions that count for
each lead (S3): the lead's own, its contact's, and for an account-based lead
(an account and no contact) those of every contact of the account.

``leads_touched_by(...)`` answers the other question, S4: which leads an
interaction or a changed record can re-score.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable

import peewee as pw

from leads.base.db import db
from leads.core import lifecycle
from leads.core.conditions import ACCOUNT, CONTACT, FIELDS, LEAD, Facts, InteractionFact
from leads.records.models import Account, Contact, Interaction, Lead

BATCH = 500  # ids per IN (...) list, well under SQLite's variable limit


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _record(row: pw.Model, entity: str) -> dict:
    """The fields the rules may read (``conditions.FIELDS``), as a plain dict."""
    return {name: getattr(row, name) for name in FIELDS[entity]}


def _rows(model, ids: Iterable[int]) -> dict[int, pw.Model]:
    wanted = sorted({i for i in ids if i is not None})
    found = {}
    for chunk in _chunks(wanted):
        for row in model.select().where(model.id.in_(chunk)):
            found[row.id] = row
    return found


# What an interaction fact reads, after the contact or lead it belongs to: read
# from the cursor and converted here (peewee's model instance and converters
# per row cost ~4/5 of a large load: the what-if of D3 reads ~200k).
_FACT_COLUMNS = (
    Interaction.type,
    Interaction.occurred_at,
    Interaction.properties,
    Interaction.source,
    Interaction.external_id,
)


def _moment(value) -> dt.datetime:
    """A stored time as a naive datetime (SQLite hands back ISO text)."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _properties(value) -> dict:
    return {} if value is None or value == "{}" else json.loads(value)


def _facts_of(owner: pw.Field, ids: list[int]) -> Iterable[tuple[int, InteractionFact]]:
    """``(owner id, fact)`` for the interactions of the contacts or leads ``ids``: one query."""
    sql, params = Interaction.select(owner, *_FACT_COLUMNS).where(owner.in_(ids)).sql()
    for owner_id, kind, occurred_at, properties, source, external_id in db.execute_sql(sql, params):
        yield (
            owner_id,
            InteractionFact(kind, _moment(occurred_at), _properties(properties), source, external_id),
        )


def load_facts(lead_ids: Iterable[int]) -> dict[int, Facts]:
    """``Facts`` for each existing lead of ``lead_ids`` (missing ids are left out)."""
    leads = _rows(Lead, lead_ids)
    contacts = _rows(Contact, (lead.contact_id for lead in leads.values()))
    accounts = _rows(
        Account,
        [lead.account_id for lead in leads.values()] + [c.account_id for c in contacts.values()],
    )
    # Account-based leads count every contact of their account (S3).
    account_based = {
        lead.account_id for lead in leads.values() if lead.contact_id is None and lead.account_id
    }
    members: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(sorted(account_based)):
        for contact_id, account_id in (
            Contact.select(Contact.id, Contact.account).where(Contact.account.in_(chunk)).tuples()
        ):
            members[account_id].append(contact_id)

    wanted_contacts = set(contacts) | {c for ids in members.values() for c in ids}
    by_contact: dict[int, list[InteractionFact]] = defaultdict(list)
    by_lead: dict[int, list[InteractionFact]] = defaultdict(list)
    for chunk in _chunks(sorted(wanted_contacts)):
        for contact_id, fact in _facts_of(Interaction.contact, chunk):
            by_contact[contact_id].append(fact)
    for chunk in _chunks(sorted(leads)):
        # Events of the lead alone; those also on its contact are already loaded
        # and count once anyway (E3: same key).
        for lead_id, fact in _facts_of(Interaction.lead, chunk):
            by_lead[lead_id].append(fact)

    facts = {}
    for lead_id, lead in leads.items():
        contact = contacts.get(lead.contact_id)
        account = accounts.get(lead.account_id) or (contact and accounts.get(contact.account_id))
        events = list(by_lead.get(lead_id, ()))
        if contact is not None:
            events += by_contact.get(contact.id, ())
        elif lead.account_id:
            for member in members.get(lead.account_id, ()):
                events += by_contact.get(member, ())
        facts[lead_id] = Facts(
            lead=_record(lead, LEAD),
            contact=None if contact is None else _record(contact, CONTACT),
            account=None if account is None else _record(account, ACCOUNT),
            interactions=tuple(events),
        )
    return facts


def _open_ids(condition) -> set[int]:
    query = Lead.select(Lead.id).where(condition & (Lead.status == lifecycle.OPEN))
    return {lead_id for (lead_id,) in query.tuples()}


def open_leads_of(*, contact_ids: Iterable[int] = (), account_ids: Iterable[int] = ()) -> set[int]:
    """S4: the open leads whose facts read these contacts or accounts.

    A contact is read by its leads, and its events by the account-based leads
    of its account (S3); an account by its leads and its contacts' leads."""
    contact_ids = sorted({c for c in contact_ids if c})
    account_ids = sorted({a for a in account_ids if a})
    found: set[int] = set()
    for chunk in _chunks(contact_ids):
        found |= _open_ids(Lead.contact.in_(chunk))
        their_accounts = Contact.select(Contact.account).where(
            Contact.id.in_(chunk) & Contact.account.is_null(False)
        )
        found |= _open_ids(Lead.contact.is_null() & Lead.account.in_(their_accounts))
    for chunk in _chunks(account_ids):
        members = Contact.select(Contact.id).where(Contact.account.in_(chunk))
        found |= _open_ids(Lead.account.in_(chunk) | Lead.contact.in_(members))
    return found


def leads_touched_by(interactions: Iterable[Interaction]) -> set[int]:
    """S3/S4: the open leads whose score an interaction can change."""
    lead_ids, contact_ids = set(), set()
    for row in interactions:
        if row.lead_id:
            lead_ids.add(row.lead_id)
        if row.contact_id:
            contact_ids.add(row.contact_id)
    direct = set()
    for chunk in _chunks(sorted(lead_ids)):
        direct |= _open_ids(Lead.id.in_(chunk))
    return direct | open_leads_of(contact_ids=contact_ids)
