"""The lead's history (P7) in words: stage names, owner names, reason labels.

Pure functions over history rows (anything with ``kind``, ``old_value``,
``new_value``, ``actor``, ``via``, ``note`` and ``created_at``) and the lookups
the caller loads once: user names by id and qualification labels by key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from leads.core import lifecycle


@dataclass
class Event:
    """Rows written by one action, shown as one entry: who, when, what changed."""

    when: dt.datetime
    who: str
    via: str | None
    lines: list[str] = field(default_factory=list)
    note: str | None = None


def events(rows, names: dict[int, str], labels: dict[str, str], traced: Mapping | None = None) -> list[Event]:
    """Group consecutive rows of one action (same time, actor, via and note) into
    events, keeping the rows' order (newest first when the query gives that).
    ``traced`` (``trace_ids`` kind → id → name) names what routing traces
    mention by id."""
    grouped: list[Event] = []
    last_key = None
    for row in rows:
        key = (row.created_at, _actor_id(row), row.via, row.note)
        if key != last_key:
            note = row.note
            if traced is not None and row.kind == "routing" and note:
                note = name_trace(note, traced)
            grouped.append(Event(row.created_at, who(row), row.via, note=note))
            last_key = key
        grouped[-1].lines.append(describe(row.kind, row.old_value, row.new_value, names, labels))
    for event in grouped:
        event.lines.reverse()  # inside one action, read the changes in the order they happened
    return grouped


def who(row) -> str:
    """The person who acted, or "System" for rules and jobs."""
    actor = row.actor if _actor_id(row) is not None else None
    return actor.name if actor is not None else "System"


def _actor_id(row):
    return getattr(row, "actor_id", None)


def describe(
    kind: str, old: str | None, new: str | None, names: dict[int, str], labels: dict[str, str]
) -> str:
    """One change as a sentence a person reads."""
    if kind == "stage":
        if old is None:
            return f"Created in {_stage(new)}"
        return f"Stage: {_stage(old)} → {_stage(new)}"
    if kind == "status":
        return f"Status: {_status(old)} → {_status(new)}"
    if kind == "status_reason":
        return f"Status reason: {_reason(old)} → {_reason(new)}"
    if kind == "sales_ready":
        return "Marked sales-ready" if _yes(new) else "Sales-ready withdrawn"
    if kind == "sales_accepted":
        return "Sales accepted" if _yes(new) else "Sales acceptance withdrawn"
    if kind in ("owner", "teleprospector"):
        return _person_change(kind.capitalize(), old, new, names)
    if kind == "routing":
        return f"Routing: {new or '—'}"
    if kind == "qualification":
        keys = [key for key in (new or "").split(",") if key]
        which = ", ".join(labels.get(key, key) for key in keys)
        return f"Qualification findings updated: {which}" if which else "Qualification findings updated"
    return f"{kind.replace('_', ' ').capitalize()}: {old or '—'} → {new or '—'}"


def person_ids(rows) -> set[int]:
    """The user ids that owner and teleprospector rows mention (to load their names)."""
    ids = set()
    for row in rows:
        if row.kind in ("owner", "teleprospector"):
            ids.update(int(value) for value in (row.old_value, row.new_value) if value and value.isdigit())
    return ids


def _person_change(title: str, old, new, names) -> str:
    before, after = _person(old, names), _person(new, names)
    if old is None:
        return f"{title}: {after}" if title != "Owner" else f"Assigned to {after}"
    if new is None:
        return f"{title} removed (was {before})"
    return f"{title}: {before} → {after}"


def _person(value, names) -> str:
    if value is None:
        return "nobody"
    return names.get(int(value), "a removed user") if value.isdigit() else value


def _stage(value) -> str:
    try:
        return lifecycle.STAGES[int(value)]
    except (TypeError, ValueError, KeyError):
        return str(value)


def _status(value) -> str:
    return lifecycle.STATUSES.get(value, value or "—")


def _reason(value) -> str:
    return lifecycle.STATUS_REASONS.get(value, value or "—")


def _yes(value) -> bool:
    return value in ("1", "True", "true")


# --- Routing traces in names -------------------------------------------------------

# What a routing trace (``routing.router``) says by id, and the kind of record:
# "product line 3", "team 2", "rep 5", "user 5", "score in model 4", and the
# conditions on id fields ("Lead product line id equals 3", "… is one of 3, 4").
PRODUCT_LINES, TEAMS, USERS, CAMPAIGNS, ACCOUNTS, MODELS = (
    "product_lines",
    "teams",
    "users",
    "campaigns",
    "accounts",
    "models",
)
_ID_FIELDS = {
    "product line": (PRODUCT_LINES, "product line"),
    "team": (TEAMS, "team"),
    "campaign": (CAMPAIGNS, "campaign"),
    "owner": (USERS, "owner"),
    "account": (ACCOUNTS, "account"),
}
_CONDITION = re.compile(
    r"\b(Lead|Contact|Account) (product line|team|campaign|owner|account) id "
    r"(equals|does not equal|is one of) ('?\d+'?(?:, '?\d+'?)*)"  # a form posts the id as text: '3'
)
_PLAIN = (
    (re.compile(r"\bproduct line (\d+)"), PRODUCT_LINES, "product line {}"),
    (re.compile(r"\bteam (\d+)"), TEAMS, "team {}"),
    (re.compile(r"\b(?:rep|user) (\d+)"), USERS, "{}"),
    (re.compile(r"\bscore in model (\d+)"), MODELS, "score in {}"),
)


def trace_ids(texts) -> dict[str, set[int]]:
    """The ids routing traces ``texts`` mention, by kind (to load their names once)."""
    found: dict[str, set[int]] = {}
    for text in texts:
        for match in _CONDITION.finditer(text or ""):
            kind = _ID_FIELDS[match.group(2)][0]
            found.setdefault(kind, set()).update(_ids(match.group(4)))
        for pattern, kind, _words in _PLAIN:
            found.setdefault(kind, set()).update(int(i) for i in pattern.findall(text or ""))
    return {kind: ids for kind, ids in found.items() if ids}


def _ids(text: str) -> list[int]:
    return [int(part.strip("'")) for part in text.split(", ")]


def name_trace(text: str, names: Mapping[str, Mapping[int, str]]) -> str:
    """A routing trace with the names of what it mentions by id (an id whose
    record is gone stays as it is)."""

    def condition(match: re.Match) -> str:
        kind, words = _ID_FIELDS[match.group(2)]
        known = names.get(kind, {})
        values = [known.get(i, f"id {i}") for i in _ids(match.group(4))]
        return f"{match.group(1)} {words} {match.group(3)} {', '.join(values)}"

    text = _CONDITION.sub(condition, text)
    for pattern, kind, words in _PLAIN:
        known = names.get(kind, {})
        text = pattern.sub(
            lambda m, known=known, words=words: (
                words.format(known[int(m.group(1))]) if int(m.group(1)) in known else m.group(0)
            ),
            text,
        )
    return text
