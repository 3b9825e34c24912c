"""CSV import (SPEC C2) and lead export: the database and queue edge around
``leads.core.csv_io`` (reading, mapping, validating) and ``leads.core.matching`` (M1–M5).

An import goes: ``create_import`` (the upload is sniffed and stored, the
mapping guessed) → ``preview`` / ``save_mapping`` (the user adjusts the
mapping and sees the first rows validated) → ``start_import`` (one RQ job,
``run_import``, id ``import-<id>``) → ``error_report`` (CSV of the rejected rows).

The job reads the file in chunks of ``CHUNK_ROWS`` rows, one transaction per
chunk, each row in its own savepoint: a row is written whole (an account made
for its company, the contact, the lead and its history) or not at all, and then
reported with its line and the reason. Every row passes the matching
strategies, so a re-run of the same file finds every record and changes
nothing; a row that repeats an earlier row of the same file is reported. The
chunk commits its error rows, counts and progress together: a job retried
after a crash resumes after the last committed chunk with exact counts.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import peewee as pw

from leads.base import signals
from leads.base.db import db, is_sqlite, transaction, utcnow
from leads.base.models import BackgroundTask
from leads.base.queue import enqueue
from leads.core import csv_io, lifecycle, matching
from leads.core import fields as catalogue
from leads.core.csv_io import CONTACT, LEAD, CsvError, PreparedRow, RowError, Sniffed
from leads.core.matching import ACCOUNT, FILL_EMPTY, OVERWRITE, UPDATE_POLICIES
from leads.imports.models import DONE, FAILED, MAPPING, QUEUED, RUNNING, Import, ImportFile, ImportRowError
from leads.intake import services as intake
from leads.intake.models import MatchKeyWatermark
from leads.records.models import Account, Contact, Lead, LeadHistory

log = logging.getLogger(__name__)

ENTITIES = {CONTACT: "Contacts", ACCOUNT: "Accounts", LEAD: "Leads"}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
CHUNK_ROWS = 500
PREVIEW_ROWS = 10
DEFAULT_SOURCE = "csv-import"
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


# --------------------------------------------------------------------------- upload and mapping


def create_import(raw: bytes, filename: str, entity: str, user_id: int | None) -> Import:
    """Store an uploaded file as a new import waiting for its mapping (guessed
    from the headers). Raises ``CsvError`` for a file that cannot be imported
    (empty, over ``MAX_UPLOAD_BYTES``, binary, no header)."""
    if entity not in ENTITIES:
        raise ValueError(f"Unknown entity {entity!r}.")
    sniffed = csv_io.sniff(raw, MAX_UPLOAD_BYTES)
    headers = csv_io.read_headers(raw, sniffed)
    defaults = {"source": DEFAULT_SOURCE} if entity == LEAD else {}
    with transaction():
        upload = Import.create(
            entity=entity,
            filename=(filename or "upload.csv")[-255:],
            size=len(raw),
            encoding=sniffed.encoding,
            delimiter=sniffed.delimiter,
            has_bom=sniffed.has_bom,
            headers=headers,
            mapping=csv_io.guess_mapping(headers, entity),
            defaults=defaults,
            created_by=user_id,
        )
        ImportFile.create(upload=upload.id, content=raw)
    return upload


def sniffed_of(upload: Import) -> Sniffed:
    """How the import's file is read (as detected at upload)."""
    return Sniffed(upload.encoding, upload.delimiter, upload.has_bom)


def file_of(upload: Import) -> bytes:
    """The uploaded bytes."""
    return bytes(ImportFile.get(ImportFile.upload == upload.id).content)


def field_choices(entity: str) -> list[tuple[str, str]]:
    """``(field, label)`` pairs a column can be mapped to, for the mapping selects."""
    return [(name, csv_io.FIELD_LABELS[name]) for name in csv_io.IMPORT_FIELDS[entity]]


@dataclass(frozen=True)
class PreviewRow:
    """One previewed row: its line, ``(value, error)`` per header, and the errors
    that belong to no one column (required fields, duplicates, ragged rows)."""

    line: int
    cells: list[tuple[str, str | None]]
    problems: list[str]


@dataclass(frozen=True)
class Preview:
    """The first rows of the file validated with a mapping, and what is wrong
    with the mapping itself."""

    headers: list[str]
    rows: list[PreviewRow]
    mapping_errors: list[str]
    described: str


def preview(upload: Import, limit: int = PREVIEW_ROWS) -> Preview:
    """The first ``limit`` data rows of ``upload`` validated with its current
    mapping and defaults (``csv_io.prepare_rows``), each error put on its column."""
    raw, sniffed = file_of(upload), sniffed_of(upload)
    mapping, entity = upload.mapping, upload.entity
    by_field = {target: header for header, target in mapping.items() if target}
    if csv_io.FULL_NAME in by_field:
        for part in ("first_name", "last_name"):
            by_field.setdefault(part, by_field[csv_io.FULL_NAME])
    rows = []
    try:
        records = list(itertools.islice(csv_io.read_rows(raw, sniffed), limit))
    except CsvError as error:
        return Preview(upload.headers, [], [str(error)], sniffed.describe())
    for row in csv_io.prepare_rows(records, mapping, entity, defaults=upload.defaults):
        cell_errors: dict[str, list[str]] = {}
        problems = []
        for name, reason in row.errors:
            header = by_field.get(name)
            if header:
                cell_errors.setdefault(header, []).append(reason)
            else:
                label = csv_io.FIELD_LABELS.get(name, name)
                problems.append(f"{label}: {reason}" if label else reason)
        cells = [(row.values.get(h, ""), "; ".join(cell_errors.get(h, [])) or None) for h in upload.headers]
        rows.append(PreviewRow(row.line, cells, problems))
    errors = csv_io.validate_mapping(mapping, entity, upload.defaults)
    return Preview(upload.headers, rows, errors, sniffed.describe())


def save_mapping(upload: Import, mapping: Mapping[str, str | None], defaults: Mapping, policy: str) -> None:
    """Store the user's mapping, defaults and update policy while the import
    still waits for them (a started import keeps what it started with)."""
    if policy not in UPDATE_POLICIES:
        raise ValueError(f"Unknown update policy {policy!r}.")
    mapping = {h: (mapping.get(h) or None) for h in upload.headers}
    defaults = {k: v.strip() for k, v in defaults.items() if isinstance(v, str) and v.strip()}
    Import.update(mapping=mapping, defaults=defaults, update_policy=policy).where(
        (Import.id == upload.id) & (Import.status == MAPPING)
    ).execute()
    upload.mapping, upload.defaults, upload.update_policy = mapping, defaults, policy


def start_import(upload: Import, user_id: int | None) -> bool:
    """Queue the import job once (C2). The claim is a conditional update, so a
    double click starts one job. Returns False when the mapping cannot be
    imported or the import was already started."""
    if csv_io.validate_mapping(upload.mapping, upload.entity, upload.defaults):
        return False
    with transaction():
        task = BackgroundTask.create(
            kind="import",
            title=f"Import of {upload.filename}"[:200],
            status="queued",
            created_by=user_id,
        )
        claimed = (
            Import.update(status=QUEUED, task=task.id)
            .where((Import.id == upload.id) & (Import.status == MAPPING))
            .execute()
        )
        if not claimed:
            task.delete_instance()
            return False
    enqueue("leads.imports.services.run_import", upload.id, job_id=f"import-{upload.id}", timeout=3600)
    return True


def recent_imports(limit: int = 20) -> list[Import]:
    """The latest imports, newest first, with their task (progress)."""
    return list(
        Import.select(Import, BackgroundTask)
        .join(BackgroundTask, pw.JOIN.LEFT_OUTER, on=(Import.task == BackgroundTask.id), attr="task")
        .order_by(Import.created_at.desc(), Import.id.desc())
        .limit(limit)
    )


def import_with_task(import_id: int) -> Import | None:
    """The import with its task loaded, or None."""
    return (
        Import.select(Import, BackgroundTask)
        .join(BackgroundTask, pw.JOIN.LEFT_OUTER, on=(Import.task == BackgroundTask.id), attr="task")
        .where(Import.id == import_id)
        .first()
    )


def error_report(upload: Import) -> Iterator[str]:
    """The rejected rows as CSV text (line, field, reason, the row's original
    values under the file's headers), formula-neutralised, streamed."""
    headers = list(upload.headers)
    if (
        ImportRowError.select()
        .where((ImportRowError.upload == upload.id) & _has_key(ImportRowError.values, csv_io.EXTRA_VALUES))
        .exists()
    ):
        headers.append(csv_io.EXTRA_VALUES)
    query = (
        ImportRowError.select()
        .where(ImportRowError.upload == upload.id)
        .order_by(ImportRowError.line, ImportRowError.id)
    )
    rows = streamed(lambda page: list(query.paginate(page, EXPORT_BATCH)))
    errors = (RowError(row.line, row.field, row.reason, row.values or {}) for row in rows)
    return csv_io.error_report_csv(errors, headers)


def streamed(fetch: Callable[[int], list]) -> Iterator:
    """The rows of ``fetch(page)`` for pages 1, 2, … until a short page.

    Runs while the response is sent, after the request's teardown gave its
    connection back: each page borrows a connection and returns it before
    its rows are yielded, so a download the client abandons holds none."""
    for page in itertools.count(1):
        with db.connection_context():
            rows = fetch(page)
        yield from rows
        if len(rows) < EXPORT_BATCH:
            return


def _has_key(column, key: str):
    """``column`` (JSON text) holds ``key`` (the pattern bypasses the JSON converter)."""
    return pw.Expression(column, pw.OP.ILIKE, pw.Value(f'%"{key}"%', converter=False))


# --------------------------------------------------------------------------- the job


@dataclass
class Counts:
    """Rows written per outcome so far (restored from the import on a resume)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


def run_import(import_id: int) -> dict:
    """The RQ job (C2): import every row of the file, chunk by chunk, through
    the matching strategies; safe to run twice (a finished import is left as
    it is, an interrupted one resumes after its last committed chunk)."""
    upload = Import.get_or_none(Import.id == import_id)
    if upload is None or upload.status not in (QUEUED, RUNNING):
        return {"skipped": True}
    Import.update(status=RUNNING).where(Import.id == import_id).execute()
    BackgroundTask.update(status="running").where(BackgroundTask.id == upload.task_id).execute()
    try:
        counts = _import_rows(upload)
    except CsvError as error:  # the file became unreadable past the preview
        _finish(upload, FAILED, str(error))
        return {"failed": str(error)}
    except Exception as error:
        if _last_attempt():
            _finish(upload, FAILED, f"The import stopped on an unexpected error ({type(error).__name__}).")
        raise
    _finish(upload, DONE)
    return {
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "failed": counts.failed,
    }


def _last_attempt() -> bool:
    from rq import get_current_job

    job = get_current_job()
    return job is None or not job.retries_left


def _finish(upload: Import, status: str, problem: str | None = None) -> None:
    now = utcnow()
    with transaction():
        Import.update(status=status, problem=problem, finished_at=now).where(Import.id == upload.id).execute()
        BackgroundTask.update(status="done" if status == DONE else "failed", finished_at=now).where(
            BackgroundTask.id == upload.task_id
        ).execute()


def _import_rows(upload: Import) -> Counts:
    raw, sniffed = file_of(upload), sniffed_of(upload)
    total = sum(1 for _ in csv_io.read_rows(raw, sniffed))
    BackgroundTask.update(total=total, done=upload.rows_done).where(
        BackgroundTask.id == upload.task_id
    ).execute()
    counts = Counts(upload.created, upload.updated, upload.unchanged, upload.failed)
    writer = writer_for(upload)
    rows = csv_io.prepare_rows(
        csv_io.read_rows(raw, sniffed),
        upload.mapping,
        upload.entity,
        writer.strategies,
        defaults=upload.defaults,
    )
    # Rows of committed chunks still go through prepare_rows (it remembers
    # them to report duplicates) but are not written again.
    rows = itertools.islice(rows, upload.rows_done, None)
    for chunk in _batched(rows, CHUNK_ROWS):
        import_chunk(upload, chunk, writer, counts)
    return counts


def _batched(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def import_chunk(upload: Import, rows: Sequence[PreparedRow], writer: Writer, counts: Counts) -> None:
    """Write one chunk of prepared rows in one transaction, each row in its own
    savepoint; store its rejected rows, the counts and the progress with it;
    then ask for the re-scoring of what it touched (S4)."""
    errors: list[RowError] = []
    with transaction():
        writer.load([row.clean for row in rows if row.ok])
        for row in rows:
            if not row.ok:
                errors += csv_io.row_errors(row)
                counts.failed += 1
                continue
            try:
                with db.atomic():  # a savepoint: the row is written whole or not at all
                    outcome = writer.write(row.clean)
            except (pw.IntegrityError, pw.DataError) as error:
                writer.discard()
                log.info("import %s line %s not saved: %s", upload.id, row.line, error)
                errors.append(
                    RowError(row.line, "", "could not be saved (rejected by the database)", row.values)
                )
                counts.failed += 1
            else:
                writer.keep()
                setattr(counts, outcome, getattr(counts, outcome) + 1)
        _store_errors(upload.id, errors)
        writer.index_written()
        Import.update(
            rows_done=counts.done,
            created=counts.created,
            updated=counts.updated,
            unchanged=counts.unchanged,
            failed=counts.failed,
        ).where(Import.id == upload.id).execute()
        BackgroundTask.update(done=counts.done).where(BackgroundTask.id == upload.task_id).execute()
        touched = writer.take_touched()
        if any(touched.values()):
            signals.records_changed.send(__name__, cause=f"import #{upload.id}", **touched)  # S4


def _store_errors(import_id: int, errors: list[RowError]) -> None:
    if errors:
        ImportRowError.insert_many(
            [
                {
                    "upload": import_id,
                    "line": e.line,
                    "field": e.field[:50],
                    "reason": e.reason[:500],
                    "values": dict(e.values),
                }
                for e in errors
            ]
        ).execute()


# --------------------------------------------------------------------------- matching and writing


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
    comparing a contact's company, say) asks ``intake.DbIndex`` row by row.
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
            self._db = intake.DbIndex()
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
                intake.index_records(entity, ids)
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
    """M3: the stored default strategy of ``entity`` (``intake.load_strategies``);
    an account import then falls back on the account's name."""
    strategies = tuple(intake.load_strategies(entity))
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


# --------------------------------------------------------------------------- export


def _stage(row: Mapping) -> str:
    if row["status"] == lifecycle.QUALIFIED:
        return "Converted"
    if row["status"] == lifecycle.DISQUALIFIED:
        return "Disqualified"
    return lifecycle.STAGES.get(row["stage"], str(row["stage"]))


LEAD_EXPORT_COLUMNS = (
    ("id", "Id"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("company", "Company"),
    ("job_title", "Job title"),
    ("country", "Country"),
    ("topic", "Topic"),
    ("stage_label", "Stage"),
    ("status", "Status"),
    ("status_reason_label", "Status reason"),
    ("sales_ready", "Sales-ready"),
    ("owner_name", "Owner"),
    ("product_line_name", "Product line"),
    ("team_name", "Team"),
    ("source", "Source"),
    ("created_at", "Created"),
    ("updated_at", "Updated"),
)
EXPORT_BATCH = 1000


def export_leads(user, params) -> Iterator[str]:
    """Every lead ``user`` may see that matches the list's search, filters and
    sort (``leads.records.listing``; all pages, not only one) as CSV text, streamed,
    UTF-8 with BOM, formula-neutralised (``csv_io.export_csv``). With a scoring
    model in the list, its score is a column too."""
    from leads.records.listing import list_score_model

    model = list_score_model(params)
    columns = list(LEAD_EXPORT_COLUMNS)
    if model is not None:
        columns.insert(-2, ("score", f"Score ({model.name})"))
    return csv_io.export_csv(_export_rows(user, params, model.id if model else None), columns)


def _export_rows(user, params, model_id: int | None) -> Iterator[dict]:
    """The rows in the list's order, ``EXPORT_BATCH`` at a time: a page of ids
    in order (the list's own query), then those leads with their names."""
    from auth.models import Team
    from leads.records.listing import SCORE_SORTS, SORTS, ListScore, Owner, matching_leads
    from leads.records.models import ProductLine

    matching_query = matching_leads(user, params, model_id)
    order = SORTS[params.sort if model_id is not None or params.sort not in SCORE_SORTS else "-created_at"]
    columns = [Lead, Owner.name.alias("owner_name"), ProductLine.name.alias("product_line_name")]
    columns.append(Team.name.alias("team_name"))
    rows = (
        Lead.select(*columns)
        .join_from(Lead, Owner, pw.JOIN.LEFT_OUTER, on=(Lead.owner == Owner.id))
        .join_from(Lead, ProductLine, pw.JOIN.LEFT_OUTER, on=(Lead.product_line == ProductLine.id))
        .join_from(Lead, Team, pw.JOIN.LEFT_OUTER, on=(Lead.team == Team.id))
    )
    if model_id is not None:
        on = (ListScore.lead == Lead.id) & (ListScore.model_id == model_id)
        rows = rows.select_extend(ListScore.score.alias("score")).join_from(
            Lead, ListScore, pw.JOIN.LEFT_OUTER, on=on
        )

    def page_of(page: int) -> list[dict]:
        ordered = matching_query.select(Lead.id).order_by(*order).paginate(page, EXPORT_BATCH)
        ids = [i for (i,) in ordered.tuples()]
        by_id = {row["id"]: row for row in rows.where(Lead.id.in_(ids)).dicts()} if ids else {}
        return [by_id[i] for i in ids]

    for row in streamed(page_of):
        row["stage_label"] = _stage(row)
        row["status_reason_label"] = lifecycle.STATUS_REASONS.get(row["status_reason"], row["status_reason"])
        row["sales_ready"] = "yes" if row["sales_ready"] else "no"
        yield row
