"""The CSV downloads, streamed: the lead export (every lead of the list's
search, filters and sort) and an import's error report (its rejected rows),
formula-neutralised by ``leads.core.csv_io``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping

import peewee as pw

from leads.base.db import db
from leads.core import csv_io, lifecycle
from leads.core.csv_io import RowError
from leads.imports.models import Import, ImportRowError
from leads.records.models import Lead


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


def export_leads(user, params, ids=None) -> Iterator[str]:
    """Every lead ``user`` may see that matches the list's search, filters and
    sort (``leads.records.listing``; all pages, not only one) as CSV text, streamed,
    UTF-8 with BOM, formula-neutralised (``csv_io.export_csv``). With a scoring
    model in the list, its score is a column too. With ``ids`` (a bulk
    selection, W5), only those of the leads, in the list's order."""
    from leads.records.listing import list_score_model

    model = list_score_model(params)
    columns = list(LEAD_EXPORT_COLUMNS)
    if model is not None:
        columns.insert(-2, ("score", f"Score ({model.name})"))
    return csv_io.export_csv(_export_rows(user, params, model.id if model else None, ids), columns)


def _export_rows(user, params, model_id: int | None, ids=None) -> Iterator[dict]:
    """The rows in the list's order, ``EXPORT_BATCH`` at a time: a page of ids
    in order (the list's own query), then those leads with their names."""
    from auth.models import Team
    from leads.records.listing import SCORE_SORTS, SORTS, ListScore, Owner, matching_leads
    from leads.records.models import ProductLine

    matching_query = matching_leads(user, params, model_id)
    if ids is not None:
        matching_query = matching_query.where(Lead.id.in_(sorted(set(ids))))
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
