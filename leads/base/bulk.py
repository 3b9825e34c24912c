"""Bulk writes through the driver's ``executemany`` (PERF: building an
``insert_many`` costs peewee ~25 µs per value; the jobs write thousands).

One SQL string per call, portable to SQLite and PostgreSQL: the placeholder
comes from the bound database, and ``ON CONFLICT … DO UPDATE SET x =
excluded.x`` / ``DO NOTHING`` is understood by both.
"""

from __future__ import annotations

from collections.abc import Sequence

import peewee as pw

from leads.base.db import db


def quote(name: str) -> str:
    """A quoted identifier (SQLite and PostgreSQL both take double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def insert(
    model: type[pw.Model],
    fields: Sequence[pw.Field],
    rows: Sequence[Sequence],
    *,
    conflict: Sequence[pw.Field] = (),
    update: Sequence[pw.Field] = (),
    keep_if_null: Sequence[pw.Field] = (),
) -> None:
    """Insert ``rows`` (tuples of Python values in ``fields`` order, converted
    with each field's ``db_value``). With ``conflict``, rows that clash on those
    columns update ``update`` (or are skipped when ``update`` is empty)."""
    if not rows:
        return
    columns = ", ".join(quote(field.column_name) for field in fields)
    marks = ", ".join(db.param for _ in fields)
    sql = f"INSERT INTO {quote(model._meta.table_name)} ({columns}) VALUES ({marks})"
    if conflict:
        target = ", ".join(quote(field.column_name) for field in conflict)
        if update:
            table = quote(model._meta.table_name)

            def assignment(field: pw.Field) -> str:
                column = quote(field.column_name)
                if field in keep_if_null:
                    return f"{column} = COALESCE(excluded.{column}, {table}.{column})"
                return f"{column} = excluded.{column}"

            sets = ", ".join(assignment(field) for field in update)
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
        else:
            sql += f" ON CONFLICT ({target}) DO NOTHING"
    converters = [field.db_value for field in fields]
    values = [tuple(convert(value) for convert, value in zip(converters, row, strict=True)) for row in rows]
    cursor = db.cursor()
    cursor.executemany(sql, values)


def insert_new(
    model: type[pw.Model],
    fields: Sequence[pw.Field],
    rows: Sequence[Sequence],
    *,
    conflict: Sequence[pw.Field],
    returning: Sequence[pw.Field],
    chunk: int = 200,
) -> list[tuple]:
    """Insert ``rows``, skipping those that clash on ``conflict``, and return
    ``returning`` of the rows this call inserted, and only those (``INSERT … ON
    CONFLICT DO NOTHING RETURNING``, SQLite 3.35+ and PostgreSQL): two requests
    racing with the same rows each learn exactly which ones are theirs. Rows
    go in the order given (callers sort them: one global order, no deadlock)."""
    if not rows:
        return []
    table = quote(model._meta.table_name)
    columns = ", ".join(quote(field.column_name) for field in fields)
    target = ", ".join(quote(field.column_name) for field in conflict)
    back = ", ".join(quote(field.column_name) for field in returning)
    one = "(" + ", ".join(db.param for _ in fields) + ")"
    converters = [field.db_value for field in fields]
    found: list[tuple] = []
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {', '.join(one for _ in part)}"
            f" ON CONFLICT ({target}) DO NOTHING RETURNING {back}"
        )
        params = [convert(value) for row in part for convert, value in zip(converters, row, strict=True)]
        found.extend(tuple(row) for row in db.execute_sql(sql, params).fetchall())
    return found
