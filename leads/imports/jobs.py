"""The CSV import's RQ job (C2): ``run_import``, enqueued by
``leads.imports.uploads.start_import`` as ``leads.imports.jobs.run_import``.

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import peewee as pw

from leads.base import signals
from leads.base.db import db, transaction, utcnow
from leads.base.models import BackgroundTask
from leads.core import csv_io
from leads.core.csv_io import CsvError, PreparedRow, RowError
from leads.imports.models import DONE, FAILED, QUEUED, RUNNING, Import, ImportRowError
from leads.imports.uploads import file_of, sniffed_of
from leads.imports.writers import Writer, writer_for

log = logging.getLogger(__name__)

CHUNK_ROWS = 500


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
