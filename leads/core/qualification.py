"""Qualification criteria and the decision they lead to (SPEC Q1–Q6, P1, P3, S5).

A ``Criteria`` is an AND/OR group of terms — "score in model X ≥ N" (Q1), "has
an interaction of type T [with these properties] within D days" and an
attribute condition (Q6) — with its actions: set the status reason Marketing
qualified and/or Sales ready (Q2). ``decide`` looks at one lead and returns the
lifecycle actions to apply, in order, never an undo (Q5). The caller applies
them with ``leads.core.lifecycle`` (``score_received``, ``marketing_qualify``,
``mark_sales_ready``). No database, no Flask.

How the SPEC reads here:

- Q4: only Open leads qualify. A lead whose status is no longer Open
  (converted, status Qualified; or disqualified) gets no action at all.
- Q4/Q5, per action: "Marketing qualified" is set only over the status reason
  New, so a reason that is already Marketing qualified, or further along
  (teleprospecting accepted, sales ready, sales accepted), stays as it is; Sales
  ready is set only when the lead is not sales-ready yet. A lead that is
  marketing-qualified can still be made sales-ready by a stricter criteria.
- Q5: nothing is ever undone; a lead whose scores drop keeps what it has.
- P1: a lead still in stage 1 that has a score from any live model gets
  ``score_received`` (stage 1 → 2).
- P3/S5: sales-ready, whether from criteria or from a model's threshold, is
  the ``sales_ready`` action, which lands the lead in stage 5.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from leads.core import interactions, lifecycle
from leads.core.conditions import (
    AND,
    INTERACTION,
    Condition,
    DefinitionError,
    Facts,
    FieldError,
    Group,
    InteractionFact,
    as_integer,
    as_property_filter,
    as_utc,
    build_condition,
    build_group,
    is_empty,
    matching_events,
    property_filters_to_json,
    validate_condition,
    validate_group,
)
from leads.core.scoring import MAX_FILTERS, MAX_POINTS, MAX_RULES, MAX_WINDOW_DAYS

DRAFT, PUBLISHED, STOPPED = "draft", "published", "stopped"
STATUSES = {DRAFT: "Draft", PUBLISHED: "Published", STOPPED: "Stopped"}
_NEXT_STATUSES = {DRAFT: {PUBLISHED}, PUBLISHED: {STOPPED}, STOPPED: {PUBLISHED}}

# The lifecycle actions a decision may hold, in the order to apply them.
SCORE_RECEIVED = "score_received"
MARKETING_QUALIFY = "marketing_qualify"
SALES_READY = "sales_ready"

MAX_SCORE = MAX_POINTS * MAX_RULES


def can_edit(status: str) -> bool:
    """Q3: criteria can be edited while draft or stopped, never while published."""
    return status in (DRAFT, STOPPED)


def can_change_status(old: str, new: str) -> bool:
    """Q3: draft → published → stopped → published."""
    return new in _NEXT_STATUSES.get(old, set())


def _model_key(model_id: Any) -> str:
    return str(model_id)


# --- Terms -----------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What the terms look at for one lead."""

    scores: Mapping[str, int]
    facts: Facts
    now: dt.datetime

    @property
    def events(self) -> dict[str, list[InteractionFact]]:
        return self.facts.events


def _context(scores: Mapping[Any, int], facts: Facts, now: dt.datetime) -> _Context:
    keyed = {_model_key(model_id): score for model_id, score in scores.items() if score is not None}
    return _Context(keyed, facts, as_utc(now))


@dataclass(frozen=True)
class ScoreTerm:
    """Q1: the lead's score in a live model is at least ``min_score``."""

    model_id: Any
    min_score: int

    def check(self, context: _Context) -> tuple[bool, str]:
        """(met, why in words)."""
        score = context.scores.get(_model_key(self.model_id))
        if score is None:
            return False, f"model {self.model_id} ≥ {self.min_score}: no score"
        return score >= self.min_score, f"model {self.model_id} ≥ {self.min_score}: score {score}"

    def to_dict(self) -> dict:
        return {"kind": "score", "model_id": self.model_id, "min_score": self.min_score}


@dataclass(frozen=True)
class InteractionTerm:
    """Q6: the person did something of ``interaction_type`` (with these properties)
    less than ``within_days`` ago (None: ever)."""

    interaction_type: str
    filters: tuple[Condition, ...] = ()
    within_days: int | None = None

    def check(self, context: _Context) -> tuple[bool, str]:
        """(met, why in words)."""
        since = None if self.within_days is None else context.now - dt.timedelta(days=self.within_days)
        found = len(matching_events(context.events, self.interaction_type, self.filters, since))
        return found > 0, f"{self.title}: {found} found"

    @cached_property
    def title(self) -> str:
        """The term in words."""
        words = interactions.BUILT_IN_VOCABULARY.label(self.interaction_type)
        if self.filters:
            words += " where " + " and ".join(condition.describe() for condition in self.filters)
        if self.within_days is not None:
            words += f" within {self.within_days} days"
        return words

    def to_dict(self) -> dict:
        return {
            "kind": "interaction",
            "type": self.interaction_type,
            "filters": property_filters_to_json(self.filters),
            "within_days": self.within_days,
        }


@dataclass(frozen=True)
class AttributeTerm:
    """Q6: a condition on the lead, its contact or its account."""

    condition: Condition

    def check(self, context: _Context) -> tuple[bool, str]:
        """(met, why in words)."""
        met = self.condition.matches(context.facts)
        return met, f"{self.condition.describe()}: {'yes' if met else 'no'}"

    def to_dict(self) -> dict:
        return {"kind": "attribute", "condition": self.condition.to_dict()}


Term = ScoreTerm | InteractionTerm | AttributeTerm


def _explain(node: Group | Term, context: _Context) -> tuple[bool, str]:
    """Evaluate every term (no short cut, so the trace is complete)."""
    if not isinstance(node, Group):
        return node.check(context)
    results = [_explain(item, context) for item in node.items]
    met = all(ok for ok, _ in results) if node.op == AND else any(ok for ok, _ in results)
    joined = f" {node.op.upper()} ".join(f"[{'yes' if ok else 'no'}] {words}" for ok, words in results)
    return met, f"({joined})" if len(results) > 1 else joined


# --- Criteria --------------------------------------------------------------


@dataclass(frozen=True)
class Criteria:
    """Q1–Q3, Q6: when ``rule`` holds for an Open lead, set the status reason
    Marketing qualified and/or Sales ready. Only published criteria take effect."""

    id: Any
    name: str
    rule: Group
    marketing_qualified: bool = True
    sales_ready: bool = False
    status: str = DRAFT

    @property
    def model_ids(self) -> frozenset:
        """The scoring models the criteria read (as given)."""
        return frozenset(term.model_id for term in self.rule.leaves() if isinstance(term, ScoreTerm))

    def check(self, scores: Mapping[Any, int], facts: Facts, now: dt.datetime) -> tuple[bool, str]:
        """(met, why in words) for one lead; ``scores`` maps model id → score."""
        return _explain(self.rule, _context(scores, facts, now))

    def to_dict(self) -> dict:
        """The JSON form, read back by ``from_dict``."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "marketing_qualified": self.marketing_qualified,
            "sales_ready": self.sales_ready,
            "rule": self.rule.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, *, live_model_ids: Collection | None = None) -> Criteria:
        """Check and build criteria; raises ``DefinitionError`` when invalid."""
        errors = validate_criteria(data, live_model_ids=live_model_ids)
        if errors:
            raise DefinitionError(errors)
        return cls(
            id=data.get("id"),
            name=data["name"].strip(),
            rule=build_group(data["rule"], _build_term),
            marketing_qualified=bool(data.get("marketing_qualified", True)),
            sales_ready=bool(data.get("sales_ready", False)),
            status=data.get("status") or DRAFT,
        )


# --- The decision ----------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What to do with one lead: lifecycle ``actions`` in order (``score_received``,
    ``marketing_qualify``, ``sales_ready``), what caused each (``via``, for the
    history), the criteria met, and a readable ``trace`` of why."""

    actions: tuple[str, ...]
    matched_criteria_ids: tuple
    trace: tuple[str, ...]
    via: Mapping[str, str]

    @property
    def qualifies(self) -> bool:
        """Q2: whether the lead gets qualified now (run the "lead qualified" hook)."""
        return MARKETING_QUALIFY in self.actions or SALES_READY in self.actions


def decide(
    criteria_list: Iterable[Criteria],
    lead_state: lifecycle.LeadState,
    scores: Mapping[Any, int],
    facts: Facts,
    now: dt.datetime,
    *,
    live_model_ids: Collection | None = None,
    thresholds_reached: Iterable = (),
) -> Decision:
    """P1, P3, Q1–Q6, S5: the actions for one lead.

    ``scores`` maps model id → the lead's score in each model that scored it
    (lead in the model's audience); when ``live_model_ids`` is given, scores of
    other models are ignored (Q1: live models only). ``thresholds_reached``
    lists the models whose sales-ready threshold the lead's score reaches (S5:
    ``ScoreResult.sales_ready``). Criteria that are not published are skipped."""
    if live_model_ids is not None:
        live = {_model_key(model_id) for model_id in live_model_ids}
        scores = {model_id: score for model_id, score in scores.items() if _model_key(model_id) in live}
        thresholds_reached = [model_id for model_id in thresholds_reached if _model_key(model_id) in live]
    if lead_state.status != lifecycle.OPEN:
        status = lifecycle.STATUSES.get(lead_state.status, lead_state.status)
        return Decision((), (), (f"The lead is {status}, not open: nothing to do.",), {})
    context = _context(scores, facts, now)
    trace, via, matched = [], {}, []
    for criteria in criteria_list:
        if criteria.status != PUBLISHED:
            continue
        met, why = _explain(criteria.rule, context)
        trace.append(f"Criteria {criteria.id} {criteria.name!r}: {'met' if met else 'not met'} {why}")
        if met:
            matched.append(criteria)
    if context.scores and lead_state.stage == lifecycle.INQUIRY:
        via[SCORE_RECEIVED] = f"score from model {sorted(context.scores)[0]}"
    _want_marketing_qualified(lead_state, matched, via, trace)
    _want_sales_ready(lead_state, matched, thresholds_reached, via, trace)
    actions = tuple(action for action in (SCORE_RECEIVED, MARKETING_QUALIFY, SALES_READY) if action in via)
    return Decision(actions, tuple(criteria.id for criteria in matched), tuple(trace), via)


def _want_marketing_qualified(state, matched: list[Criteria], via: dict, trace: list) -> None:
    source = next((criteria for criteria in matched if criteria.marketing_qualified), None)
    if source is None:
        return
    if state.status_reason != lifecycle.REASON_NEW:
        reason = lifecycle.STATUS_REASONS.get(state.status_reason, state.status_reason)
        trace.append(f"The status reason is already {reason}: left as it is.")
        return
    via[MARKETING_QUALIFY] = f"qualification criteria {source.id}"


def _want_sales_ready(state, matched: list[Criteria], thresholds_reached, via: dict, trace: list) -> None:
    source = next((f"qualification criteria {c.id}" for c in matched if c.sales_ready), None)
    if source is None:
        source = next((f"sales-ready threshold of model {model_id}" for model_id in thresholds_reached), None)
    if source is None:
        return
    if state.sales_ready:
        trace.append("Already sales-ready: left as it is.")
        return
    via[SALES_READY] = source


# --- Checking and building definitions -------------------------------------


def validate_criteria(data: Any, *, live_model_ids: Collection | None = None) -> list[FieldError]:
    """Errors in a criteria dict as ``FieldError(path, reason)``. With
    ``live_model_ids``, score terms must name one of them (Q1)."""
    if not isinstance(data, Mapping):
        return [FieldError("", "Expected qualification criteria.")]
    errors = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", "Enter a name."))
    elif len(name) > 200:
        errors.append(FieldError("name", "The name is at most 200 characters."))
    if data.get("status", DRAFT) not in STATUSES:
        errors.append(FieldError("status", "Unknown status."))
    for action in ("marketing_qualified", "sales_ready"):
        if not isinstance(data.get(action, action == "marketing_qualified"), bool):
            errors.append(FieldError(action, "Choose yes or no."))
    if not data.get("marketing_qualified", True) and not data.get("sales_ready", False):
        errors.append(
            FieldError("actions", "Choose at least one action: Marketing qualified and/or Sales ready.")
        )
    live = None if live_model_ids is None else {_model_key(model_id) for model_id in live_model_ids}
    rule = data.get("rule")
    if rule is None:
        return [*errors, FieldError("rule", "Add at least one condition.")]
    return errors + validate_group(rule, "rule", lambda term, path: validate_term(term, path, live))


def validate_term(data: Any, path: str, live: Collection[str] | None = None) -> list[FieldError]:
    """Errors in one term dict (``kind``: score, interaction or attribute)."""
    if not isinstance(data, Mapping):
        return [FieldError(path, "Expected a condition.")]
    kind = data.get("kind")
    if kind == "score":
        return _validate_score_term(data, path, live)
    if kind == "interaction":
        return _validate_interaction_term(data, path)
    if kind == "attribute":
        return validate_condition(data.get("condition"), f"{path}.condition")
    return [FieldError(f"{path}.kind", "Choose a score, an interaction or an attribute condition.")]


def _validate_score_term(data: Mapping, path: str, live: Collection[str] | None) -> list[FieldError]:
    errors = []
    model_id = data.get("model_id")
    if is_empty(model_id) or isinstance(model_id, bool) or not isinstance(model_id, int | str):
        errors.append(FieldError(f"{path}.model_id", "Choose a scoring model."))
    elif live is not None and _model_key(model_id) not in live:
        errors.append(FieldError(f"{path}.model_id", "Choose a live scoring model."))
    score = as_integer(data.get("min_score"))
    if score is None or not -MAX_SCORE <= score <= MAX_SCORE:
        errors.append(
            FieldError(f"{path}.min_score", f"Enter a whole number from {-MAX_SCORE} to {MAX_SCORE}.")
        )
    return errors


def _validate_interaction_term(data: Mapping, path: str) -> list[FieldError]:
    errors = []
    kind = data.get("type")
    if not isinstance(kind, str) or not kind.strip():
        errors.append(FieldError(f"{path}.type", "Enter an interaction type."))
    elif len(kind) > 50:
        errors.append(FieldError(f"{path}.type", "An interaction type is at most 50 characters."))
    filters = data.get("filters") or []
    if not isinstance(filters, list | tuple) or len(filters) > MAX_FILTERS:
        errors.append(FieldError(f"{path}.filters", f"Give a list of at most {MAX_FILTERS} filters."))
        filters = []
    for index, condition in enumerate(filters):
        errors += validate_condition(
            as_property_filter(condition), f"{path}.filters[{index}]", entities=(INTERACTION,), fields=None
        )
    days = data.get("within_days")
    if not is_empty(days) and (as_integer(days) is None or not 1 <= as_integer(days) <= MAX_WINDOW_DAYS):
        errors.append(FieldError(f"{path}.within_days", f"Enter a whole number from 1 to {MAX_WINDOW_DAYS}."))
    return errors


def _build_term(data: Mapping) -> Term:
    kind = data["kind"]
    if kind == "score":
        model_id = data["model_id"]
        if isinstance(model_id, str) and model_id.strip().isdigit():
            model_id = int(model_id)
        return ScoreTerm(model_id, as_integer(data["min_score"]))
    if kind == "interaction":
        days = data.get("within_days")
        return InteractionTerm(
            data["type"].strip(),
            tuple(build_condition(as_property_filter(condition)) for condition in data.get("filters") or ()),
            None if is_empty(days) else as_integer(days),
        )
    return AttributeTerm(build_condition(data["condition"]))
