"""Activities on a lead (W1): notes, logged calls and tasks. Pure rules: what
each kind holds and how its values are checked (the page and the API send the
same values through ``clean``), who may change one, and the one timeline that
mixes them with the lead's history and interactions, newest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from leads.core import validation

NOTE, CALL, TASK = "note", "call", "task"
KINDS = {NOTE: "Note", CALL: "Call", TASK: "Task"}
OUTCOMES = {
    "connected": "Connected",
    "left_voicemail": "Left voicemail",
    "no_answer": "No answer",
    "wrong_number": "Wrong number",
}
# Notes and calls are also interactions scoring models can count (S2); tasks are not.
INTERACTION_TYPES = {NOTE: "note_added", CALL: "call_logged"}
FIELDS = {
    NOTE: ("body",),
    CALL: ("outcome", "duration_minutes", "body"),
    TASK: ("title", "due_at", "assignee_id", "done"),
}
MAX_BODY = 5000
MAX_TITLE = 200
MAX_DURATION = 24 * 60
MAX_ID = 2**31 - 1  # a larger id is no user (and PostgreSQL refuses to compare an integer with it)
DUE_YEARS = (2000, 2100)
# Besides its author, who may edit or delete an activity.
EDITOR_ROLES = frozenset({"admin", "manager"})

HISTORY, INTERACTION = "history", "interaction"
FILTERS = {
    "all": "All",
    "notes": "Notes",
    "calls": "Calls",
    "tasks": "Tasks",
    "stages": "Stage changes",
    "interactions": "Interactions",
}
_FILTER_KINDS = {"notes": NOTE, "calls": CALL, "tasks": TASK, "stages": HISTORY, "interactions": INTERACTION}
DATE_TIME_HINT = "Give a date and time, e.g. 2026-05-01T09:30."

Errors = list[tuple[str, str]]


def clean(kind: str, raw: Mapping[str, Any], *, partial: bool = False) -> tuple[dict, Errors]:
    """The checked values of a ``kind`` activity from ``raw`` (form strings or
    JSON values), and the ``(field, reason)`` errors. ``partial``: only the
    fields sent are checked (an edit)."""
    values: dict = {}
    errors: Errors = []
    for name in FIELDS[kind]:
        if partial and name not in raw:
            continue
        value, reason = _CHECKS[name](raw.get(name), kind)
        if reason:
            errors.append((name, reason))
        else:
            values[name] = value
    return values, errors


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value, limit: int) -> tuple[str | None, str | None]:
    if not isinstance(value, str):
        return None, "Must be text."
    value = value.strip()
    if validation.has_nul(value):
        return None, validation.NUL_REASON
    if len(value) > limit:
        return None, f"At most {limit} characters."
    return value, None


def _body(value, kind: str):
    if _blank(value):
        return ("", None) if kind == CALL else (None, "Write the note.")
    return _text(value, MAX_BODY)


def _title(value, kind: str):
    if _blank(value):
        return None, "Give the task a title."
    return _text(value, MAX_TITLE)


def _outcome(value, kind: str):
    if _blank(value):
        return None, "Choose the call's outcome."
    if not isinstance(value, str) or value not in OUTCOMES:
        return None, "One of: " + ", ".join(OUTCOMES.values()) + "."
    return value, None


def _whole(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdecimal():  # not "²", which isdigit() takes
        return int(value.strip())
    return None


def _duration(value, kind: str):
    if _blank(value):
        return None, None
    minutes = _whole(value)
    if minutes is None or not 0 <= minutes <= MAX_DURATION:
        return None, f"A whole number of minutes, from 0 to {MAX_DURATION}."
    return minutes, None


def _due_at(value, kind: str):
    if _blank(value):
        return None, "Give the due date and time."
    if not isinstance(value, str):
        return None, DATE_TIME_HINT
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None, DATE_TIME_HINT
    if not DUE_YEARS[0] <= moment.year < DUE_YEARS[1]:
        return None, f"Give a date from {DUE_YEARS[0]} to {DUE_YEARS[1] - 1}."
    return moment.replace(second=0, microsecond=0), None


def _assignee(value, kind: str):
    if _blank(value):
        return None, "Choose who does the task."
    number = _whole(value)
    if number is None or not 1 <= number <= MAX_ID:
        return None, "Choose who does the task."
    return number, None


def _done(value, kind: str):
    if isinstance(value, bool):
        return value, None
    if _blank(value):
        return False, None
    if isinstance(value, str) and value.strip().lower() in ("y", "yes", "on", "1", "true"):
        return True, None
    if isinstance(value, str) and value.strip().lower() in ("n", "no", "off", "0", "false"):
        return False, None
    return None, "Yes or no."


_CHECKS = {
    "body": _body,
    "title": _title,
    "outcome": _outcome,
    "duration_minutes": _duration,
    "due_at": _due_at,
    "assignee_id": _assignee,
    "done": _done,
}


def may_change(role: str, user_id: int, author_id: int | None) -> bool:
    """Whether a user may edit or delete an activity: its author, a manager or an admin."""
    return role in EDITOR_ROLES or (author_id is not None and user_id == author_id)


@dataclass(frozen=True)
class Entry:
    """One line of the lead's timeline: an activity, a history event or an interaction."""

    kind: str  # note, call, task, history or interaction
    when: dt.datetime
    rank: int  # breaks ties between entries of the same time (larger: newer)
    item: Any


def parse_filter(raw: str | None) -> str:
    """The timeline filter asked for (anything unknown: all)."""
    return raw if raw in FILTERS else "all"


def kept_kind(shown: str) -> str | None:
    """The one kind of entry the filter ``shown`` keeps (None: every kind)."""
    return _FILTER_KINDS.get(shown)


def merged(entries: Iterable[Entry], shown: str = "all", limit: int | None = None) -> list[Entry]:
    """The entries the filter ``shown`` keeps, newest first (at most ``limit``)."""
    wanted = _FILTER_KINDS.get(shown)
    kept = [entry for entry in entries if wanted is None or entry.kind == wanted]
    kept.sort(key=lambda entry: (entry.when, entry.rank), reverse=True)
    return kept if limit is None else kept[:limit]
