"""The stored matching strategies (M1, M3): the rows of ``MatchingStrategyRecord``
read as ``leads.core.matching`` strategies, each entity's built-in default
restored when it has none. The match-key index (``leads.intake.match_keys``),
the forms and the pages read them; saving and removing one is in
``leads.intake.manage``."""

from __future__ import annotations

from leads.core import matching
from leads.intake.models import MatchingStrategyRecord


def ensure_defaults() -> None:
    """M3: every entity type has its built-in default when it has no strategy at all
    (a fresh database whose seed rows were removed)."""
    present = {entity for (entity,) in MatchingStrategyRecord.select(MatchingStrategyRecord.entity).tuples()}
    missing = [s for s in matching.BUILTIN_STRATEGIES if s.is_default and s.entity not in present]
    for strategy in missing:
        MatchingStrategyRecord.insert(
            name=strategy.name, entity=strategy.entity, fields=list(strategy.fields), is_default=True
        ).on_conflict_ignore().execute()


def strategy_rows(entity: str | None = None):
    """Stored strategies (one entity, or all), defaults first, then by name."""
    query = MatchingStrategyRecord.select()
    if entity is not None:
        query = query.where(MatchingStrategyRecord.entity == entity)
    return query.order_by(
        MatchingStrategyRecord.entity, MatchingStrategyRecord.is_default.desc(), MatchingStrategyRecord.name
    )


def stored_strategies(entity: str) -> list[matching.MatchingStrategy]:
    """Every stored strategy of ``entity`` (its default restored if missing)."""
    stored = [row.to_core() for row in strategy_rows(entity)]
    if not any(s.is_default for s in stored):
        ensure_defaults()
        stored = [row.to_core() for row in strategy_rows(entity)]
    return stored
