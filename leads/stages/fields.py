"""The configurable qualification fields (P5): an admin adds, edits, orders and
deactivates them. Keys never change once created, so values stored on leads under
a key stay attached to it; a deactivated field leaves the teleprospectors' form
but its stored values stay on the leads."""

from __future__ import annotations

import peewee as pw

from leads.base.db import transaction
from leads.stages.models import QualificationField


class FieldError(ValueError):
    """A refused change to the field set; the message is written for the admin."""


def ordered_fields():
    """Every qualification field, active or not, in form order."""
    return QualificationField.select().order_by(QualificationField.position, QualificationField.id)


def active_fields():
    """The fields the teleprospectors' form shows, in order."""
    return ordered_fields().where(QualificationField.active == True)  # noqa: E712


def parse_choices(text: str | None) -> list[str]:
    """Choices typed one per line: trimmed, blank lines dropped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _clean(kind: str, choices: list[str]) -> list[str]:
    if kind not in QualificationField.KINDS:
        raise FieldError(f"Unknown kind {kind!r}.")
    return list(choices) if kind == "select" else []


def add_field(key: str, label: str, kind: str, choices: list[str], required: bool) -> QualificationField:
    """A new field at the end of the form; a taken key raises ``FieldError``."""
    choices = _clean(kind, choices)
    try:
        with transaction():
            last = QualificationField.select(pw.fn.MAX(QualificationField.position)).scalar()
            return QualificationField.create(
                key=key,
                label=label.strip(),
                kind=kind,
                choices=choices,
                required=required,
                position=(last if last is not None else -1) + 1,
            )
    except pw.IntegrityError as error:
        raise FieldError(f"A field with the key {key!r} already exists.") from error


def update_field(
    field: QualificationField, label: str, kind: str, choices: list[str], required: bool
) -> None:
    """Change label, kind, choices and required; the key is left as it is."""
    (
        QualificationField.update(
            label=label.strip(), kind=kind, choices=_clean(kind, choices), required=required
        )
        .where(QualificationField.id == field.id)
        .execute()
    )


def move_field(field: QualificationField, step: int) -> None:
    """Move ``field`` one place up (``step=-1``) or down (``+1``); the ends stay put.
    Positions are renumbered 0..n-1 so earlier ties cannot block a move."""
    with transaction():
        ids = [row.id for row in ordered_fields().select(QualificationField.id)]
        here = ids.index(field.id)
        there = here + step
        if not 0 <= there < len(ids):
            return
        ids[here], ids[there] = ids[there], ids[here]
        for position, field_id in enumerate(ids):
            (
                QualificationField.update(position=position)
                .where((QualificationField.id == field_id) & (QualificationField.position != position))
                .execute()
            )


def set_field_active(field: QualificationField, active: bool) -> None:
    """Show or hide ``field`` on the teleprospectors' form (stored values stay)."""
    QualificationField.update(active=active).where(QualificationField.id == field.id).execute()
