"""Whole numbers read from text (query strings, form values) and the ranges the
databases hold, so that no number a client sends reaches a driver that cannot
take it (SQLite refuses integers beyond 64 bits with an OverflowError).

Plain data: no database, no Flask.
"""

from __future__ import annotations

import re

# The largest record id: peewee's AutoField is a 32-bit integer on PostgreSQL.
MAX_ID = 2**31 - 1
# The range of a 64-bit signed integer: SQLite's INTEGER, PostgreSQL's bigint.
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1

_DIGITS = re.compile(r"[0-9]+")


def whole_number(raw: str | None, low: int = 1, high: int = MAX_ID) -> int | None:
    """``raw`` as an int from ``low`` to ``high``, or None when it is anything
    else: ASCII digits only (``isdigit`` also takes ``²``, which ``int`` refuses),
    and never longer than ``high`` is written, so a 5,000-digit value costs nothing."""
    raw = (raw or "").strip()
    if not _DIGITS.fullmatch(raw) or len(raw.lstrip("0")) > len(str(high)):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def in_int64(value: int) -> bool:
    """True when ``value`` fits a 64-bit signed integer column."""
    return MIN_INT64 <= value <= MAX_INT64
