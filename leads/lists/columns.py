"""The lead list's columns (W5): which ones a person may choose, in what
order, and the values of those that do not come with the rows.

A column is a key in the list's address (``columns=owner&columns=score_3``):
the fixed ones below, ``score_<model id>`` and ``grade_<model id>`` for each
live scoring model, and those a higher package registers at app set-up
(``register``: routing adds "Accept by", its assignments' deadline, so the
lead list never imports routing). Values that are not columns of the lead
row are loaded for the page's ids in one query per kind, never per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import peewee as pw

from leads.activities.models import Activity
from leads.scoring.models import LeadScore


@dataclass(frozen=True)
class Column:
    """A column of the list: its key, header, and the list sort it offers (if any)."""

    key: str
    label: str
    sort: str | None = None


FIXED = {
    column.key: column
    for column in (
        Column("company", "Company", "company"),
        Column("topic", "Topic"),
        Column("stage", "Stage", "stage"),
        Column("status_reason", "Status reason"),
        Column("owner", "Owner"),
        Column("team", "Team"),
        Column("product_line", "Product line"),
        Column("source", "Source"),
        Column("campaign", "Campaign"),
        Column("score", "Score", "score"),  # the list's scoring model (R7)
        Column("created", "Created", "created_at"),
        Column("last_activity", "Last activity"),
    )
}
# What the list shows when no column is chosen (the list as it always was).
DEFAULT = ("company", "topic", "stage", "status_reason", "owner", "product_line", "score", "created")
MAX_COLUMNS = 30
MODEL_COLUMN = re.compile(r"(score|grade)_([0-9]{1,10})")

# Columns registered by higher packages: key -> (column, loader). A loader
# takes the page's lead ids and returns each lead's value (absent: none).
_REGISTERED: dict[str, tuple[Column, Callable[[list[int]], dict]]] = {}


def register(column: Column, loader: Callable[[list[int]], dict]) -> None:
    """Offer ``column``, whose values ``loader(lead_ids)`` returns by lead id
    (called once per page). Registering the same key again replaces it."""
    _REGISTERED[column.key] = (column, loader)


def known(key: str) -> bool:
    """Whether ``key`` names a column (a model column's model is checked later)."""
    return key in FIXED or key in _REGISTERED or MODEL_COLUMN.fullmatch(key) is not None


def parse(values: Iterable[str]) -> tuple[str, ...]:
    """The chosen column keys from the query string's ``columns`` values (each
    may hold several, comma-separated), in order, without repeats; ValueError
    names the first unknown one."""
    keys: list[str] = []
    for value in values:
        for key in value.split(","):
            key = key.strip().lower()
            if not key or key == "name" or key in keys:
                continue  # the name column is always there
            if not known(key):
                raise ValueError(f"Unknown column {key[:40]!r}.")
            keys.append(key)
    if len(keys) > MAX_COLUMNS:
        raise ValueError(f"Choose at most {MAX_COLUMNS} columns.")
    return tuple(keys)


def model_ids(keys: Iterable[str]) -> set[int]:
    """The scoring models whose score or grade the columns ``keys`` show."""
    return {int(match.group(2)) for key in keys if (match := MODEL_COLUMN.fullmatch(key))}


def resolve(keys: tuple[str, ...], model_names: dict[int, str], list_model_name: str | None) -> list[Column]:
    """The columns to show for ``keys`` (none chosen: the default ones): a model
    column of a model not in ``model_names`` (not live, or gone) is left out,
    and so is the list-score column when the list has no model."""
    shown = []
    for key in keys or DEFAULT:
        if key == "score":
            if list_model_name is not None:
                shown.append(Column("score", f"Score · {list_model_name}", "score"))
        elif match := MODEL_COLUMN.fullmatch(key):
            name = model_names.get(int(match.group(2)))
            if name is not None:
                shown.append(Column(key, f"{match.group(1).title()} · {name}"))
        elif key in FIXED:
            shown.append(FIXED[key])
        elif key in _REGISTERED:
            shown.append(_REGISTERED[key][0])
    return shown


def choices(model_names: dict[int, str]) -> list[tuple[str, str]]:
    """Every column a person may choose, as (key, label): the fixed ones, the
    registered ones, then each live model's score and grade."""
    found = [(column.key, column.label) for column in FIXED.values()]
    found += [(column.key, column.label) for column, _loader in _REGISTERED.values()]
    for model_id, name in model_names.items():
        found += [(f"score_{model_id}", f"Score · {name}"), (f"grade_{model_id}", f"Grade · {name}")]
    return found


def load_values(columns: list[Column], lead_ids: list[int]) -> dict[str, dict[int, object]]:
    """The values of the shown columns that do not come with the rows, by
    column key then lead id: one query per kind (model scores, last
    activities, each registered column), whatever the number of rows."""
    values: dict[str, dict[int, object]] = {}
    keys = {column.key for column in columns}
    if not lead_ids:
        return values
    models = model_ids(keys)
    if models:
        for key in keys:
            if MODEL_COLUMN.fullmatch(key):
                values[key] = {}
        query = LeadScore.select(LeadScore.lead, LeadScore.model, LeadScore.score, LeadScore.grade).where(
            LeadScore.lead.in_(lead_ids) & LeadScore.model.in_(sorted(models))
        )
        for lead_id, model_id, score, grade in query.tuples():
            values.get(f"score_{model_id}", {})[lead_id] = score
            values.get(f"grade_{model_id}", {})[lead_id] = grade
    if "last_activity" in keys:
        latest = (
            Activity.select(Activity.lead, pw.fn.MAX(Activity.created_at))
            .where(Activity.lead.in_(lead_ids) & Activity.deleted_at.is_null())
            .group_by(Activity.lead)
        )
        values["last_activity"] = {lead_id: _moment(moment) for lead_id, moment in latest.tuples()}
    for key, (_column, loader) in _REGISTERED.items():
        if key in keys:
            values[key] = loader(lead_ids)
    return values


def _moment(value):
    """A MAX() of a datetime column: SQLite answers text, PostgreSQL a datetime."""
    if isinstance(value, str):
        import datetime as dt

        return dt.datetime.fromisoformat(value)
    return value
