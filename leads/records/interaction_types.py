"""The interaction types the install knows (E3, S2): the built-in ones and the
custom ones an admin registers (``CustomInteractionType``). Every door that
takes an interaction, and the scoring builder, reads ``vocabulary()``."""

from __future__ import annotations

import peewee as pw

from auth.models import User
from leads.base.db import transaction
from leads.core import interactions
from leads.records.models import CustomInteractionType, Interaction


class RefusedType(ValueError):
    """A refused custom type, with ``(field, reason)`` errors."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in errors))
        self.errors = errors


def custom_types() -> pw.ModelSelect:
    """The registered custom types, by label."""
    return CustomInteractionType.select().order_by(pw.fn.LOWER(CustomInteractionType.label))


def vocabulary() -> interactions.Vocabulary:
    """The built-in types and the registered custom ones (one query)."""
    return interactions.Vocabulary(
        dict(CustomInteractionType.select(CustomInteractionType.name, CustomInteractionType.label).tuples())
    )


def add_custom_type(name: str, label: str, user: User | None) -> CustomInteractionType:
    """Register a custom type; raises ``RefusedType`` when refused (a name taken
    meanwhile included: the unique index decides)."""
    taken = dict(
        CustomInteractionType.select(CustomInteractionType.name, CustomInteractionType.label).tuples()
    )
    clean, errors = interactions.check_custom(name, label, taken)
    if errors:
        raise RefusedType(errors)
    try:
        with transaction():
            return CustomInteractionType.create(name=clean, label=label.strip(), created_by=user)
    except pw.IntegrityError:
        raise RefusedType([("name", "This type is registered already.")]) from None


def remove_custom_type(row: CustomInteractionType) -> None:
    """Unregister a custom type: new interactions of it are refused from now
    on; the ones stored stay and still count."""
    with transaction():
        CustomInteractionType.delete().where(CustomInteractionType.id == row.id).execute()


def stored_counts(names: list[str]) -> dict[str, int]:
    """How many interactions are stored per type name (for the admin page)."""
    if not names:
        return {}
    query = (
        Interaction.select(Interaction.type, pw.fn.COUNT(Interaction.id))
        .where(Interaction.type.in_(names))
        .group_by(Interaction.type)
    )
    return dict(query.tuples())


def label(name: str) -> str:
    """The label people read for an interaction type: a built-in one's at once,
    a custom one's from the registered types (read once per request)."""
    if interactions.BUILT_IN_VOCABULARY.known(name):
        return interactions.BUILT_IN_VOCABULARY.label(name)
    from flask import g, has_app_context

    if not has_app_context():
        return vocabulary().label(name)
    if "interaction_vocabulary" not in g:
        g.interaction_vocabulary = vocabulary()
    return g.interaction_vocabulary.label(name)
