"""CSV import (SPEC C2), before the job: the upload and its mapping, around
``leads.core.csv_io`` (reading, mapping, validating).

An import goes: ``create_import`` (the upload is sniffed and stored, the
mapping guessed) → ``preview`` / ``save_mapping`` (the user adjusts the
mapping and sees the first rows validated) → ``start_import`` (one RQ job,
``leads.imports.jobs.run_import``, id ``import-<id>``) → ``error_report``
(``leads.imports.export``: CSV of the rejected rows).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import peewee as pw

from leads.base.db import transaction
from leads.base.models import BackgroundTask
from leads.base.queue import enqueue
from leads.core import csv_io
from leads.core.csv_io import CONTACT, LEAD, CsvError, Sniffed
from leads.core.matching import ACCOUNT, UPDATE_POLICIES
from leads.imports.models import MAPPING, QUEUED, Import, ImportFile

ENTITIES = {CONTACT: "Contacts", ACCOUNT: "Accounts", LEAD: "Leads"}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
PREVIEW_ROWS = 10
DEFAULT_SOURCE = "csv-import"


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
    undecodable: int = 0  # rows that do not decode in the file's encoding
    undecodable_lines: tuple[int, ...] = ()  # the first of their lines


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
    count, lines = csv_io.undecodable_lines(raw, sniffed)
    return Preview(upload.headers, rows, errors, sniffed.describe(), count, tuple(lines))


def encoding_choices(upload: Import) -> list[tuple[str, str]]:
    """The encodings the file may be read in (the current one first when it is
    not a usual choice, e.g. UTF-16 with a BOM)."""
    choices = list(csv_io.ENCODINGS.items())
    if upload.encoding not in csv_io.ENCODINGS:
        choices.insert(0, (upload.encoding, csv_io.encoding_label(upload.encoding)))
    return choices


def change_encoding(upload: Import, encoding: str) -> None:
    """Read the file in the user's ``encoding`` from now on (C2), while the import
    waits for its mapping: its headers are read again; each column keeps the
    field chosen for it, and a column that had none gets the guess for its new
    header. Raises ``CsvError`` when the file does not read in it at all."""
    raw = file_of(upload)
    sniffed = csv_io.with_encoding(raw, encoding, delimiter=upload.delimiter)
    headers = csv_io.read_headers(raw, sniffed)
    guessed = csv_io.guess_mapping(headers, upload.entity)
    before = [upload.mapping.get(header) for header in upload.headers]
    mapping = {
        header: (before[number] if number < len(before) and before[number] else guessed.get(header))
        for number, header in enumerate(headers)
    }
    Import.update(encoding=sniffed.encoding, has_bom=sniffed.has_bom, headers=headers, mapping=mapping).where(
        (Import.id == upload.id) & (Import.status == MAPPING)
    ).execute()
    upload.encoding, upload.has_bom, upload.headers, upload.mapping = (
        sniffed.encoding,
        sniffed.has_bom,
        headers,
        mapping,
    )


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
    enqueue("leads.imports.jobs.run_import", upload.id, job_id=f"import-{upload.id}", timeout=3600)
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
