"""The CSV import's writers (C2, M1–M5): each row of a chunk matched through the
matching strategies (``leads.core.matching``) and its record created or
updated. ``Table`` loads what a chunk's rows may match in a few queries;
``ContactWriter``, ``AccountWriter`` and ``LeadWriter`` write one row each
inside its savepoint, and keep the intake's match-key index
(``leads.intake.match_keys``) in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import peewee as pw

from leads.base.db import db, is_sqlite, utcnow
from leads.core import fields as catalogue
from leads.core import lifecycle, matching
from leads.core.csv_io import CONTACT, LEAD
from leads.core.matching import ACCOUNT, FILL_EMPTY, OVERWRITE
from leads.imports.models import Import
from leads.intake.match_keys import DbIndex, index_records, load_strategies
from leads.intake.models import MatchKeyWatermark
from leads.records.models import Account, Contact, Lead, LeadHistory

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


def _stored_import_fields(entity: str) -> tuple[str, ...]:
    """The columns an import of ``entity`` reads and writes: the catalogue's
    importable fields that are columns of its table (a contact's ``company``
    is not: it names the contact's account)."""
    return catalogue.names(f for f in catalogue.importable(entity) if f.stored)


CONTACT_COLUMNS = _stored_import_fields(CONTACT)
# A lead's source comes from the import's defaults (it is part of the lead's key, M2).
LEAD_COLUMNS = (*_stored_import_fields(LEAD), "source")
ACCOUNT_COLUMNS = _stored_import_fields(ACCOUNT)
# Strategy fields looked up case-insensitively (an index on lower(column), migration 006).
_FOLDED = {"email", "name", "domain", "first_name", "last_name", "company", "job_title"}


class Table:
    """Existing records of one table for the rows of a chunk (M1, M3).

    A strategy whose fields are all columns is answered in bulk: one query per
    chunk (``lower(column) IN (...)`` on its first field, indexed by migration
    006), the records indexed in memory by match key. Any other strategy (one
    comparing a contact's company, say) asks ``match_keys.DbIndex`` row by row.
    Records are kept as dicts (``*_id`` for foreign keys) for ``merge``."""

    def __init__(self, model, strategies: Sequence[matching.MatchingStrategy]):
        self.model, self.strategies = model, tuple(strategies)
        self.bulk = {s.id for s in self.strategies if all(f in _columns(model) for f in s.fields)}
        self.index = _ChunkIndex(self)
        self.rows: dict[int, dict] = {}

    def load(self, records: Iterable[Mapping]) -> None:
        """Forget the previous chunk; load the records that may match ``records``."""
        self.index, self.rows = _ChunkIndex(self), {}
        records = list(records)
        for strategy in self.strategies:
            if strategy.id not in self.bulk:
                continue
            anchor = strategy.fields[0]
            values = {matching.normalise_field(anchor, r) for r in records} - {None}
            if values:
                self._load_where(strategy, anchor, sorted(values))

    def _load_where(self, strategy, anchor: str, values: list) -> None:
        column = _columns(self.model)[anchor]
        key = pw.fn.LOWER(column) if anchor in _FOLDED else column
        for row in self.model.select().where(key.in_(values)).dicts():
            self.remember(row["id"], _values(self.model, row))

    def remember(self, record_id: int, record: dict) -> None:
        """Keep a record (loaded, or created by this import) under its keys."""
        if record_id not in self.rows:
            self.rows[record_id] = record
            self.index.memory.add([s for s in self.strategies if s.id in self.bulk], record, record_id)

    def row(self, record_id: int) -> dict:
        """A matched record's current values."""
        if record_id not in self.rows:
            self.rows[record_id] = self.index.values_of(record_id)
        return self.rows[record_id]

    def find(self, clean: Mapping) -> matching.MatchResult:
        """M1/M3–M5: the existing record ``clean`` matches, or a create decision."""
        return matching.find_match(self.strategies, clean, self.index)


class _ChunkIndex:
    """``matching.MatchIndex`` of a ``Table``: memory for bulk strategies, the
    intake's match-key table for the others."""

    def __init__(self, table: Table):
        self.table = table
        self.memory = matching.InMemoryIndex()
        self._db = None

    def lookup(self, strategy: matching.MatchingStrategy, key: tuple) -> list[int]:
        if strategy.id in self.table.bulk:
            return self.memory.lookup(strategy, key)
        return self._intake().lookup(strategy, key)

    def values_of(self, record_id: int) -> dict:
        entity = {Contact: CONTACT, Lead: LEAD, Account: ACCOUNT}[self.table.model]
        return dict(self._intake().values_of(entity, record_id))

    def _intake(self):
        if self._db is None:
            self._db = DbIndex()
        return self._db


_INSERTS: dict[tuple, str] = {}


def insert_row(model, values: Mapping) -> int:
    """INSERT one row (``values`` by field name, ``*_id`` for keys, the model's
    defaults for the rest) and return its id.

    The statement is built once per table and column set and then only
    executed: peewee spends ~0.5 ms building an INSERT, which would be most of
    an import's time (bench/import_csv.py)."""
    fields = _columns(model)
    row = {
        f.name if not isinstance(f, pw.ForeignKeyField) else f"{f.name}_id": d() if callable(d) else d
        for f, d in model._meta.defaults.items()
    }
    row.update(values)
    names = tuple(row)
    key = (model, names, type(db.obj))
    sql = _INSERTS.get(key)
    if sql is None:
        columns = ", ".join(f'"{fields[n].column_name}"' for n in names)
        marks = ", ".join([db.obj.param] * len(names))
        returning = "" if is_sqlite() else ' RETURNING "id"'
        sql = _INSERTS[key] = (
            f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks}){returning}'
        )
    cursor = db.execute_sql(sql, [fields[n].db_value(row[n]) for n in names])
    return cursor.lastrowid if is_sqlite() else cursor.fetchone()[0]


def _columns(model) -> dict[str, pw.Field]:
    """A model's fields by the names strategies and values use (``*_id`` for keys)."""
    return {
        (f"{name}_id" if isinstance(f, pw.ForeignKeyField) else name): f
        for name, f in model._meta.fields.items()
    }


def _values(model, row: Mapping) -> dict:
    fks = {name for name, f in model._meta.fields.items() if isinstance(f, pw.ForeignKeyField)}
    return {(f"{k}_id" if k in fks else k): v for k, v in row.items()}


class Writer:
    """Matches and writes the rows of one import. ``write`` runs inside the
    row's savepoint; what it learnt (new ids for the in-memory index, changed
    rows) is applied by ``keep`` once the savepoint is released, or thrown away
    by ``discard`` when the row was rolled back."""

    entity = CONTACT

    def __init__(self, upload: Import):
        self.import_id = upload.id
        self.user_id = upload.created_by_id
        self.policy = upload.update_policy or FILL_EMPTY
        self.strategies = import_strategies(self.entity)
        # A person's company names their account (M1 on the account's name).
        self.companies = Table(Account, (matching.ACCOUNT_BY_NAME,))
        self._pending: list[Callable[[], None]] = []
        self._touched: dict[str, set[int]] = {"contact_ids": set(), "lead_ids": set(), "account_ids": set()}
        self._written: dict[str, set[int]] = {CONTACT: set(), LEAD: set(), ACCOUNT: set()}

    def load(self, cleans: list[dict]) -> None:
        """Load what the chunk's good rows may match (a few queries per chunk)."""
        raise NotImplementedError

    def write(self, clean: dict) -> str:
        """Match one row and create or update its record; returns the outcome."""
        raise NotImplementedError

    def keep(self) -> None:
        """The row's savepoint was released: remember what it wrote."""
        for step in self._pending:
            step()
        self._pending = []

    def discard(self) -> None:
        """The row's savepoint was rolled back: forget what it wrote."""
        self._pending = []

    def index_written(self) -> None:
        """Inside the chunk's transaction: give the records written to the
        intake's match-key table, so forms and events find them (M1)."""
        for entity, ids in self._written.items():
            if ids:
                index_records(entity, ids)
                _advance_watermark(entity, ids)
            ids.clear()

    def take_touched(self) -> dict[str, list[int]]:
        """Ids of the records changed since the last call, for re-scoring (S4)."""
        touched = {k: sorted(v) for k, v in self._touched.items()}
        for ids in self._touched.values():
            ids.clear()
        return touched

    def _later(self, step: Callable[[], None]) -> None:
        self._pending.append(step)

    def _touch(self, kind: str, record_id: int) -> None:
        self._later(lambda: self._touched[kind].add(record_id))

    # Shared steps ---------------------------------------------------------------

    def _update(self, table: Table, record_id: int, incoming: Mapping) -> bool:
        """M4: apply the update policy to a matched record; True when it changed."""
        existing = table.row(record_id)
        mergeable = [name for name in incoming if name != "source"]  # part of a lead's key (M2)
        changes, _reasons = matching.merge(existing, incoming, self.policy, mergeable)
        if not changes:
            return False
        fields = _columns(table.model)
        table.model.update(
            {fields[k]: v for k, v in changes.items()} | {table.model.updated_at: utcnow()}
        ).where(table.model.id == record_id).execute()
        self._later(lambda: existing.update(changes))
        self._later(lambda: self._written[_ENTITY_OF[table.model]].add(record_id))
        return True

    def _create(self, table: Table, values: dict) -> int:
        record_id = insert_row(table.model, {k: v for k, v in values.items() if v is not None})
        self._later(lambda: table.remember(record_id, dict(values)))
        self._later(lambda: self._written[_ENTITY_OF[table.model]].add(record_id))
        return record_id

    def _account_for(self, company: str | None, current: int | None, new: bool = False) -> int | None:
        """The account a person's ``company`` names, created when none exists;
        for a matched person only when the update policy would link it (M4),
        else their ``current`` account."""
        takes = new or self.policy == OVERWRITE or (self.policy == FILL_EMPTY and current is None)
        if not company or not takes:
            return current
        found = self.companies.find({"name": company})
        if found.matched:
            return found.existing_id
        return self._create(self.companies, {"name": company})


_ENTITY_OF = {Contact: CONTACT, Lead: LEAD, Account: ACCOUNT}


def _advance_watermark(entity: str, indexed: set[int]) -> None:
    """Move the intake's watermark (the highest id whose keys are indexed) over
    the records just indexed when they follow it without a gap; otherwise the
    next capture would index a whole import again, one request paying for it.
    A conditional update: a concurrent move wins and this one does nothing."""
    mark = MatchKeyWatermark.get_or_none(MatchKeyWatermark.entity == entity)
    if mark is None:
        return
    last = mark.last_id
    while last + 1 in indexed:
        last += 1
    if last > mark.last_id:
        MatchKeyWatermark.update(last_id=last).where(
            (MatchKeyWatermark.entity == entity) & (MatchKeyWatermark.last_id == mark.last_id)
        ).execute()


def import_strategies(entity: str) -> tuple[matching.MatchingStrategy, ...]:
    """M3: the stored default strategy of ``entity`` (``match_keys.load_strategies``);
    an account import then falls back on the account's name."""
    strategies = tuple(load_strategies(entity))
    if entity == ACCOUNT and not any(s.fields == ("name",) for s in strategies):
        strategies += (matching.ACCOUNT_BY_NAME,)
    return strategies


def _only(clean: Mapping, columns: Sequence[str]) -> dict:
    return {c: clean[c] for c in columns if c in clean}


class ContactWriter(Writer):
    """Contacts: matched on the contact strategy (M2: email); ``company`` links
    the contact's account."""

    entity = CONTACT

    def __init__(self, upload: Import):
        super().__init__(upload)
        self.contacts = Table(Contact, import_strategies(CONTACT))

    def load(self, cleans: list[dict]) -> None:
        self.contacts.load(cleans)
        self.companies.load({"name": c["company"]} for c in cleans if c.get("company"))

    def write(self, clean: dict) -> str:
        outcome, contact_id, _account_id = self.contact(clean)
        if outcome != UNCHANGED:
            self._touch("contact_ids", contact_id)
        return outcome

    def contact(self, clean: Mapping, update: bool = True) -> tuple[str, int, int | None]:
        """Find or create the contact of ``clean`` (``update``: apply the policy
        to a match). Returns the outcome, the contact's id and its account's."""
        values = _only(clean, CONTACT_COLUMNS)
        found = self.contacts.find(clean)
        if found.matched:
            existing = self.contacts.row(found.existing_id)
            if not update:
                return UNCHANGED, found.existing_id, existing.get("account_id")
            account_id = self._account_for(clean.get("company"), existing.get("account_id"))
            changed = self._update(self.contacts, found.existing_id, {**values, "account_id": account_id})
            return (UPDATED if changed else UNCHANGED), found.existing_id, account_id
        values["account_id"] = self._account_for(clean.get("company"), None, new=True)
        return CREATED, self._create(self.contacts, values), values["account_id"]


class AccountWriter(Writer):
    """Accounts: matched on domain (M2 default), then on name."""

    entity = ACCOUNT

    def __init__(self, upload: Import):
        super().__init__(upload)
        self.accounts = Table(Account, self.strategies)

    def load(self, cleans: list[dict]) -> None:
        self.accounts.load(cleans)

    def write(self, clean: dict) -> str:
        values = _only(clean, ACCOUNT_COLUMNS)
        found = self.accounts.find(clean)
        if not found.matched:
            self._create(self.accounts, values)
            return CREATED
        if self._update(self.accounts, found.existing_id, values):
            self._touch("account_ids", found.existing_id)
            return UPDATED
        return UNCHANGED


class LeadWriter(ContactWriter):
    """Leads: matched on the lead strategy (M2: email + source form); the person
    is found or created as a contact (M4: a new lead is linked to the existing
    contact). The match and its reason go on the lead's timeline."""

    entity = LEAD

    def __init__(self, upload: Import):
        super().__init__(upload)
        self.leads = Table(Lead, self.strategies)
        self.via = f"CSV import #{upload.id}"

    def load(self, cleans: list[dict]) -> None:
        super().load(cleans)
        self.leads.load(cleans)

    def write(self, clean: dict) -> str:
        values = _only(clean, LEAD_COLUMNS)
        found = self.leads.find(clean)
        if found.matched:
            lead_id = found.existing_id
            if not self._update(self.leads, lead_id, values):
                return UNCHANGED
            self._history(lead_id, "matched existing lead", found.reason)
            self._touch("lead_ids", lead_id)
            return UPDATED
        _outcome, contact_id, account_id = self.contact(clean, update=False)
        values.update(contact_id=contact_id, account_id=account_id)
        lead_id = self._create(self.leads, values)
        insert_row(
            LeadHistory,
            {
                "lead_id": lead_id,
                "kind": "stage",
                "new_value": str(lifecycle.INQUIRY),
                "actor_id": self.user_id,
                "via": self.via,
            },
        )
        self._history(lead_id, "new lead", found.reason)
        self._touch("lead_ids", lead_id)
        return CREATED

    def _history(self, lead_id: int, what: str, reason: str) -> None:
        insert_row(
            LeadHistory,
            {
                "lead_id": lead_id,
                "kind": "match",
                "new_value": what,
                "actor_id": self.user_id,
                "via": self.via,
                "note": reason,
            },
        )


WRITERS = {CONTACT: ContactWriter, ACCOUNT: AccountWriter, LEAD: LeadWriter}


def writer_for(upload: Import) -> Writer:
    """The writer (matching + storage) for the import's entity."""
    return WRITERS[upload.entity](upload)
