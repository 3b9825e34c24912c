"""Pieces shared by the row builders (scoring model audience and rules,
qualification terms, campaign segments).

A builder is a form with lists of rows (``FieldList`` of ``FormField``): one
``ConditionRow`` is entity.field / operator / value. ``BuilderForm`` puts the
domain validators' ``FieldError`` paths next to the right input
(``show_errors``) and adds or removes a row when the page asks for one
(``with_row_change``), so the page re-renders the form without inline JS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from wtforms import FieldList, Form, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from leads.core import fields as catalogue
from leads.core.conditions import (
    AND,
    FIELDS,
    OPERATORS,
    OR,
    RECORD_ENTITIES,
    UNARY,
    FieldError,
    is_empty,
    is_group,
)
from web.forms import PageForm


def subject_label(entity: str, name: str) -> str:
    """Whose field it is and its label: "Contact · Job title", "Account · Employees"."""
    spec = catalogue.get(entity, name)
    return f"{entity.capitalize()} · {spec.label if spec else name.replace('_', ' ')}"


SUBJECTS = [
    SelectChoice(f"{entity}.{name}", subject_label(entity, name), optgroup=entity.capitalize())
    for entity in RECORD_ENTITIES
    for name in FIELDS[entity]
]
OPERATOR_CHOICES = list(OPERATORS.items())
JOIN_CHOICES = [(AND, "all of (AND)"), (OR, "any of (OR)")]


def choice_field(label: str, choices, **kwargs) -> SelectField:
    """A select whose value the domain validators check (an unknown one is reported by them)."""
    return SelectField(label, choices=choices, validate_choice=False, **kwargs)


# --- Rows --------------------------------------------------------------------------


class Row(Form):
    """A row of a builder (no CSRF of its own). ``aliases`` maps the validators'
    names to this row's fields (None: look further down the path)."""

    aliases: dict[str, str | None] = {}


class ValueField(StringField):
    """The value of a condition row; a multiple select posts several values,
    kept as the comma-separated list the row's text input would send."""

    def process_formdata(self, valuelist):
        if len(valuelist) > 1:
            valuelist = [", ".join(value for value in valuelist if value.strip())]
        super().process_formdata(valuelist)


class ConditionRow(Row):
    """One condition over a lead, contact or account field (``entity.field``),
    the row of every builder: scoring audiences and attribute rules,
    qualification terms, campaign segments and assignment rules."""

    subject = choice_field("Field", SUBJECTS)
    operator = choice_field("Operator", OPERATOR_CHOICES, default="equals")
    value = ValueField("Value", validators=[Optional(), Length(max=500)])

    aliases = {"entity": "subject", "field": "subject"}

    def parts(self) -> tuple[str, str]:
        """(entity, field name) of the chosen field."""
        entity, _, name = (self.subject.data or "").partition(".")
        return entity, name

    def is_blank(self) -> bool:
        """Nothing chosen or typed: the row is left out."""
        return not self.subject.data and is_empty(self.value.data)

    def to_dict(self) -> dict:
        """The condition as the domain reads it (the value as typed)."""
        entity, name = self.parts()
        return {"entity": entity, "field": name, "operator": self.operator.data, "value": self.value.data}

    def values(self) -> list[str]:
        """The value as a list of trimmed strings (a list value: its items)."""
        value = self.value.data
        items = value if isinstance(value, list | tuple) else str(value or "").split(",")
        return [str(item).strip() for item in items if str(item).strip()]


def condition_from_row(row, entity: str | None = None) -> dict:
    """The condition dict (entity, field, operator, value) a row stands for; with
    ``entity`` the row names its field in ``property`` (interaction filters)."""
    if entity is None:
        entity, _, name = (row.subject.data or "").partition(".")
    else:
        name = row.property.data
    operator = row.operator.data
    return {
        "entity": entity,
        "field": name,
        "operator": operator,
        "value": None if operator in UNARY else row.value.data,
    }


def condition_row_data(condition: Mapping) -> dict:
    """A ``ConditionRow``'s data for a stored condition (lists shown comma-separated)."""
    value = condition.get("value")
    if isinstance(value, list | tuple):
        value = ", ".join(str(item) for item in value)
    return {
        "subject": f"{condition.get('entity')}.{condition.get('field')}",
        "operator": condition.get("operator"),
        "value": "" if value is None else str(value),
    }


def is_flat(group: Mapping | None) -> bool:
    """Whether the builder can show ``group``: one AND/OR list without nested groups."""
    if group is None:
        return True
    return is_group(group) and not any(is_group(item) for item in group.get("items", ()))


# --- The builder form ----------------------------------------------------------------


class BuilderForm(PageForm):
    """A form with rows: inline errors from validator paths and row changes."""

    # The validators' top-level names that are not field names here.
    path_aliases: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.general_errors: list[str] = []
        self.list_errors: dict[str, list[str]] = {}

    # Errors ----------------------------------------------------------------------

    def show_errors(self, errors: Iterable[FieldError]) -> None:
        """Put each validator error next to the input its path names (e.g.
        ``behaviour_rules[1].cap``); what no input matches goes on top."""
        for error in errors:
            if not self._place(error.field, error.reason):
                self.general_errors.append(error.reason)

    def _place(self, path: str, reason: str) -> bool:
        for old, new in self.path_aliases.items():
            if path == old or path.startswith(old + ".") or path.startswith(old + "["):
                path = new + path[len(old) :]
                break
        tokens = re.findall(r"[A-Za-z_]+|\[\d+\]", path)
        current, index = self, 0
        while index < len(tokens):
            token = tokens[index]
            name = getattr(current, "aliases", {}).get(token, token)
            index += 1
            if name is None:
                continue
            field = current._fields.get(name) if hasattr(current, "_fields") else None
            if field is None:
                return False
            if isinstance(field, FieldList):
                if index < len(tokens) and tokens[index].startswith("["):
                    position = int(tokens[index][1:-1])
                    index += 1
                    if position >= len(field.entries):
                        return False
                    current = field.entries[position].form
                    continue
                self._add(self.list_errors.setdefault(field.name, []), reason)
                return True
            self._add(_errors_of(field), reason)
            return True
        return False

    @staticmethod
    def _add(errors: list, reason: str) -> None:
        if reason not in errors:
            errors.append(reason)

    # Rows ------------------------------------------------------------------------

    def with_row_change(self, change: str) -> dict:
        """This form's data with one row added (``add:<list name>``) or removed
        (``remove:<row name>``), for a fresh form built from it."""
        data = self.data
        data.pop("csrf_token", None)
        lists, rows = {}, {}
        _index(self, data, lists, rows)
        action, _, target = change.partition(":")
        if action == "add" and target in lists:
            field, items = lists[target]
            if field.max_entries is None or len(items) < field.max_entries:
                items.append(self.new_row(target))
        elif action == "remove" and target in rows:
            items, position = rows[target]
            items.pop(position)
        return data

    def new_row(self, list_name: str) -> dict:
        """The first values of a row added to ``list_name``."""
        return {}


def _errors_of(field) -> list:
    if not isinstance(field.errors, list):
        field.errors = list(field.errors)
    return field.errors


def _index(form, data: dict, lists: dict, rows: dict) -> None:
    """Name every list and row of ``form`` to its place in ``data`` (which mirrors it)."""
    for name, field in form._fields.items():
        if not isinstance(field, FieldList):
            continue
        items = data[name]
        lists[field.name] = (field, items)
        for position, entry in enumerate(field.entries):
            rows[entry.name] = (items, position)
            _index(entry.form, items[position], lists, rows)
