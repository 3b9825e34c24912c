"""Managing scoring models and qualification criteria (S1, S4, S5, Q1–Q3): save
drafts, publish, stop. The UI and the API call these; definitions are checked
by the pure validators of ``leads.core.scoring`` and ``leads.core.qualification``.

Publishing a model, or publishing criteria, re-scores every open lead in the
background under one ``BackgroundTask`` (its progress bar). Stopping a model
keeps the scores it gave; qualification reads live models only (Q1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import peewee as pw

from leads.base.db import transaction, utcnow
from leads.base.models import BackgroundTask
from leads.core import qualification, scoring
from leads.core.conditions import FieldError, is_group
from leads.core.interactions import Vocabulary
from leads.records.interaction_types import vocabulary as install_vocabulary
from leads.scoring.jobs import start_rescore_all
from leads.scoring.models import QualificationCriteria
from leads.scoring.models import ScoringModel as ModelRow


class ManageError(ValueError):
    """A refused change, with the errors to show field by field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


def live_model_ids() -> list[int]:
    return [row.id for row in ModelRow.select(ModelRow.id).where(ModelRow.status == scoring.LIVE)]


UNKNOWN_TYPE = "Not a known interaction type: choose one from the list (an admin registers custom types)."


def _unknown_types(named: Iterator[tuple[str, Any]], vocabulary: Vocabulary) -> list[FieldError]:
    """E3/S2: a rule or term may only count a known type (built-in or registered),
    the types the API accepts, so what it counts can arrive."""
    return [
        FieldError(path, UNKNOWN_TYPE)
        for path, kind in named
        if isinstance(kind, str) and kind.strip() and not vocabulary.known(kind)
    ]


def _model_types(definition: Mapping) -> Iterator[tuple[str, Any]]:
    rules = definition.get("behaviour_rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else ()):
        if isinstance(rule, Mapping):
            yield f"behaviour_rules[{index}].type", rule.get("type")


def _criteria_types(node: Any, path: str = "rule") -> Iterator[tuple[str, Any]]:
    if is_group(node) and isinstance(node["items"], list):
        for index, item in enumerate(node["items"]):
            yield from _criteria_types(item, f"{path}.items[{index}]")
    elif isinstance(node, Mapping) and node.get("kind") == "interaction":
        yield f"{path}.type", node.get("type")


# --- Models ------------------------------------------------------------------------


def save_model(row: ModelRow | None, name: str, description: str, definition: dict, user) -> ModelRow:
    """S1/S2: create or edit a model while it is a draft or stopped; raises ``ManageError``."""
    if row is not None and row.status == scoring.LIVE:
        raise ManageError([FieldError("status", "Stop the model before changing it.")])
    data = {**definition, "id": row.id if row else None, "name": name}
    errors = scoring.validate_model(data)
    if isinstance(definition, Mapping):
        errors += _unknown_types(_model_types(definition), install_vocabulary())
    taken = ModelRow.select().where(ModelRow.name == name.strip())
    if row is not None:
        taken = taken.where(ModelRow.id != row.id)
    if name.strip() and taken.exists():
        errors.append(FieldError("name", "Another model has this name."))
    if errors:
        raise ManageError(errors)
    stored = {
        key: value
        for key, value in scoring.ScoringModel.from_dict(data).to_dict().items()
        if key not in ("id", "name")
    }
    with transaction():
        if row is None:
            return ModelRow.create(
                name=name.strip(), description=description, definition=stored, created_by=user
            )
        ModelRow.update(
            name=name.strip(),
            description=description,
            definition=stored,
            version=ModelRow.version + 1,
            updated_at=utcnow(),
        ).where(ModelRow.id == row.id).execute()
    return ModelRow.get_by_id(row.id)


def _copy_name(model, name: str) -> str:
    """The first free name among "<name> (copy)", "<name> (copy 2)"… (within 120 characters)."""
    for number in range(1, 1000):
        suffix = " (copy)" if number == 1 else f" (copy {number})"
        candidate = name[: 120 - len(suffix)] + suffix
        if not model.select().where(model.name == candidate).exists():
            return candidate
    raise ManageError([FieldError("name", "Too many copies of this name: rename one first.")])


def duplicate_model(row: ModelRow, user) -> ModelRow:
    """S1: a draft copy of ``row`` (any status), under a free "(copy)" name. The
    unique name index decides a race: the next free name is tried."""
    for _attempt in range(3):
        try:
            with transaction():
                return ModelRow.create(
                    name=_copy_name(ModelRow, row.name),
                    description=row.description,
                    definition=row.definition,
                    created_by=user,
                )
        except pw.IntegrityError:
            continue
    raise ManageError([FieldError("name", "Someone else is copying this model: try again.")])


def set_model_status(row: ModelRow, status: str, user) -> BackgroundTask | None:
    """S1/S4: draft → live → stopped → live. Going live re-scores every open lead
    (returns the task to follow); stopping keeps the scores it gave."""
    if not scoring.can_change_status(row.status, status):
        raise ManageError([FieldError("status", f"A {row.status} model cannot become {status}.")])
    if status == scoring.LIVE:
        errors = scoring.validate_model({**row.definition, "id": row.id, "name": row.name}, publishing=True)
        if errors:
            raise ManageError(errors)
    changed = (
        ModelRow.update(
            status=status,
            updated_at=utcnow(),
            version=ModelRow.version + 1,
            published_at=utcnow() if status == scoring.LIVE else ModelRow.published_at,
        )
        .where((ModelRow.id == row.id) & (ModelRow.status == row.status))
        .execute()
    )
    if not changed:
        raise ManageError(
            [FieldError("status", "Someone else changed this model meanwhile. Reload and try again.")]
        )
    if status == scoring.LIVE:
        return start_rescore_all(
            f"Scoring every open lead with {row.name!r}",
            user.id if user else None,
            f"model {row.name} published",
        )
    return None


# --- Criteria ----------------------------------------------------------------------


def save_criteria(
    row: QualificationCriteria | None, name: str, definition: dict, user
) -> QualificationCriteria:
    """Q1/Q3/Q6: create, or edit while draft or stopped; raises ``ManageError``."""
    if row is not None and not qualification.can_edit(row.status):
        raise ManageError([FieldError("status", "Stop the criteria before changing them.")])
    data = {
        **definition,
        "id": row.id if row else None,
        "name": name,
        "status": row.status if row else qualification.DRAFT,
    }
    errors = qualification.validate_criteria(data, live_model_ids=live_model_ids())
    errors += _unknown_types(_criteria_types(definition.get("rule")), install_vocabulary())
    taken = QualificationCriteria.select().where(QualificationCriteria.name == name.strip())
    if row is not None:
        taken = taken.where(QualificationCriteria.id != row.id)
    if name.strip() and taken.exists():
        errors.append(FieldError("name", "Other criteria have this name."))
    if errors:
        raise ManageError(errors)
    built = qualification.Criteria.from_dict(data).to_dict()
    stored = {key: value for key, value in built.items() if key not in ("id", "name", "status")}
    with transaction():
        if row is None:
            return QualificationCriteria.create(name=name.strip(), definition=stored, created_by=user)
        QualificationCriteria.update(name=name.strip(), definition=stored, updated_at=utcnow()).where(
            QualificationCriteria.id == row.id
        ).execute()
    return QualificationCriteria.get_by_id(row.id)


def duplicate_criteria(row: QualificationCriteria, user) -> QualificationCriteria:
    """Q3: a draft copy of ``row`` (any status), under a free "(copy)" name."""
    for _attempt in range(3):
        try:
            with transaction():
                return QualificationCriteria.create(
                    name=_copy_name(QualificationCriteria, row.name),
                    definition=row.definition,
                    created_by=user,
                )
        except pw.IntegrityError:
            continue
    raise ManageError([FieldError("name", "Someone else is copying these criteria: try again.")])


def set_criteria_status(row: QualificationCriteria, status: str, user) -> BackgroundTask | None:
    """Q3: draft → published → stopped → published. Publishing checks the models
    are live (Q1) and applies the criteria to every open lead in the background."""
    if not qualification.can_change_status(row.status, status):
        raise ManageError(
            [FieldError("status", f"{row.status.capitalize()} criteria cannot become {status}.")]
        )
    if status == qualification.PUBLISHED:
        data = {**row.definition, "id": row.id, "name": row.name, "status": status}
        errors = qualification.validate_criteria(data, live_model_ids=live_model_ids())
        if errors:
            raise ManageError(errors)
    changed = (
        QualificationCriteria.update(
            status=status,
            updated_at=utcnow(),
            published_at=utcnow()
            if status == qualification.PUBLISHED
            else QualificationCriteria.published_at,
        )
        .where((QualificationCriteria.id == row.id) & (QualificationCriteria.status == row.status))
        .execute()
    )
    if not changed:
        raise ManageError(
            [FieldError("status", "Someone else changed these criteria meanwhile. Reload and try again.")]
        )
    if status == qualification.PUBLISHED:
        return start_rescore_all(
            f"Applying criteria {row.name!r} to every open lead",
            user.id if user else None,
            f"criteria {row.name} published",
        )
    return None
