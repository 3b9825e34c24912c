"""Scoring models and the engine that applies them (SPEC S1–S3, S5, S6, E3).

``evaluate(model, facts, now)`` is a pure function: it scores exactly the facts
it is given and explains the score rule by rule. The edges load the facts (for
an account-based lead, the interactions of every contact of the account, S3),
call it, and upsert the answer; ``expires_at`` tells the scheduled job when a
time window will next change the score on its own (S4). Models round-trip
through JSON dicts, checked by ``validate_model`` for the builder. No
database, no Flask, no Redis.

Rules, as a person would predict them:

- An attribute rule gives its points (positive or negative) once when its
  condition holds.
- A behaviour rule counts the interactions of its type whose properties pass
  its filters and that happened less than ``window_days`` before ``now``
  (None: ever); it gives its points per occurrence or once, and never more
  than ``cap`` points in absolute value (a negative rule's cap bounds how much
  it can take away).
- The same event given twice counts once (E3: same ``(source, external_id)``).
- The score is the sum of the breakdown; it can be negative. A lead outside the
  model's audience is not scored at all (``in_audience`` False).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from leads.core import interactions
from leads.core.conditions import (
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
    build_segment,
    is_empty,
    matches,
    matching_events,
    property_filters_to_json,
    validate_condition,
    validate_segment,
)

DRAFT, LIVE, STOPPED = "draft", "live", "stopped"
STATUSES = {DRAFT: "Draft", LIVE: "Live", STOPPED: "Stopped"}
_NEXT_STATUSES = {DRAFT: {LIVE}, LIVE: {STOPPED}, STOPPED: {LIVE}}

MAX_POINTS = 10_000
MAX_WINDOW_DAYS = 3650
MAX_RULES = 100
MAX_FILTERS = 20


def can_change_status(old: str, new: str) -> bool:
    """S1: a model goes draft → live → stopped → live."""
    return new in _NEXT_STATUSES.get(old, set())


# --- The model -------------------------------------------------------------


@dataclass(frozen=True)
class AttributeRule:
    """S2: points when a condition on the lead, contact or account holds."""

    id: str
    condition: Condition
    points: int
    label: str = ""

    @cached_property
    def title(self) -> str:
        """The label, or the condition in words."""
        return self.label or self.condition.describe()

    def to_dict(self) -> dict:
        """The JSON form."""
        return {
            "id": self.id,
            "label": self.label,
            "condition": self.condition.to_dict(),
            "points": self.points,
        }


@dataclass(frozen=True)
class BehaviourRule:
    """S2: points for interactions of a type, filtered on their properties, counted
    within a time window, per occurrence or once, up to a cap."""

    id: str
    interaction_type: str
    points: int
    filters: tuple[Condition, ...] = ()
    window_days: int | None = None
    per_occurrence: bool = True
    cap: int | None = None
    label: str = ""

    @cached_property
    def title(self) -> str:
        """The label, or the rule in words."""
        if self.label:
            return self.label
        words = interactions.BUILT_IN_VOCABULARY.label(self.interaction_type)
        if self.filters:
            words += " where " + " and ".join(condition.describe() for condition in self.filters)
        if self.window_days is not None:
            words += f" in the last {self.window_days} days"
        return words

    def counted(self, events: Mapping[str, list[InteractionFact]], now: dt.datetime) -> list[InteractionFact]:
        """The events that count for this rule at ``now``, from events grouped by
        ``unique_by_type`` (times naive UTC)."""
        since = None if self.window_days is None else now - dt.timedelta(days=self.window_days)
        return matching_events(events, self.interaction_type, self.filters, since)

    def points_for(self, occurrences: int) -> tuple[int, bool]:
        """The points for ``occurrences`` counted events, and whether the cap cut them."""
        if occurrences <= 0:
            return 0, False
        raw = self.points * occurrences if self.per_occurrence else self.points
        if self.cap is not None and abs(raw) > self.cap:
            return (self.cap if raw > 0 else -self.cap), True
        return raw, False

    def to_dict(self) -> dict:
        """The JSON form (filters are conditions on the interaction's properties)."""
        return {
            "id": self.id,
            "label": self.label,
            "type": self.interaction_type,
            "filters": property_filters_to_json(self.filters),
            "window_days": self.window_days,
            "per_occurrence": self.per_occurrence,
            "cap": self.cap,
            "points": self.points,
        }


@dataclass(frozen=True)
class Grade:
    """A named score band (e.g. A from 80)."""

    label: str
    min_score: int


@dataclass(frozen=True)
class ScoringModel:
    """S1: a named set of rules over an optional audience (None: every lead)."""

    id: Any
    name: str
    audience: Group | None = None
    attribute_rules: tuple[AttributeRule, ...] = ()
    behaviour_rules: tuple[BehaviourRule, ...] = ()
    sales_ready_threshold: int | None = None
    grades: tuple[Grade, ...] = ()

    def grade_for(self, score: int) -> str | None:
        """The highest band whose minimum ``score`` reaches, or None."""
        reached = [grade for grade in self.grades if score >= grade.min_score]
        return max(reached, key=lambda grade: grade.min_score).label if reached else None

    def fields_read(self) -> frozenset[tuple[str, str]]:
        """S4: the ``(entity, field)`` pairs whose change can change a score."""
        conditions = [rule.condition for rule in self.attribute_rules]
        if self.audience is not None:
            conditions += list(self.audience.leaves())
        return frozenset((condition.entity, condition.field) for condition in conditions)

    def interaction_types(self) -> frozenset[str]:
        """S4: the interaction types (casefolded) whose arrival can change a score."""
        return frozenset(rule.interaction_type.casefold() for rule in self.behaviour_rules)

    def to_dict(self) -> dict:
        """The JSON form, read back by ``from_dict``."""
        return {
            "id": self.id,
            "name": self.name,
            "audience": None if self.audience is None else self.audience.to_dict(),
            "attribute_rules": [rule.to_dict() for rule in self.attribute_rules],
            "behaviour_rules": [rule.to_dict() for rule in self.behaviour_rules],
            "sales_ready_threshold": self.sales_ready_threshold,
            "grades": [{"label": g.label, "min_score": g.min_score} for g in self.grades],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ScoringModel:
        """Check and build a model; raises ``DefinitionError`` (its ``errors`` are
        ``FieldError``s) when invalid."""
        errors = validate_model(data)
        if errors:
            raise DefinitionError(errors)
        return _build_model(data)


# --- The engine ------------------------------------------------------------


class RuleScore(NamedTuple):
    """S6: what one rule gave: points, how many occurrences (1 for an attribute
    rule) and whether the cap cut it."""

    rule_id: str
    label: str
    points: int
    occurrences: int
    capped: bool = False


@dataclass(frozen=True)
class ScoreResult:
    """A lead's score in one model, explained rule by rule (only rules that
    matched appear in the breakdown), and when time alone will next change it
    (S4: ``expires_at``, naive UTC, None if never)."""

    in_audience: bool
    score: int
    breakdown: tuple[RuleScore, ...]
    grade: str | None
    sales_ready: bool
    expires_at: dt.datetime | None = None

    def to_dict(self) -> dict:
        """The JSON form, e.g. for the stored breakdown."""
        return {
            "in_audience": self.in_audience,
            "score": self.score,
            "breakdown": [rule._asdict() for rule in self.breakdown],
            "grade": self.grade,
            "sales_ready": self.sales_ready,
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ScoreResult:
        """Read back ``to_dict``."""
        breakdown = tuple(RuleScore(**rule) for rule in data["breakdown"])
        expiry = data.get("expires_at")
        return cls(
            data["in_audience"],
            data["score"],
            breakdown,
            data["grade"],
            data["sales_ready"],
            None if expiry is None else dt.datetime.fromisoformat(expiry),
        )


NOT_IN_AUDIENCE = ScoreResult(in_audience=False, score=0, breakdown=(), grade=None, sales_ready=False)


def evaluate(model: ScoringModel, facts: Facts, now: dt.datetime) -> ScoreResult:
    """S1–S3, S5, E3: the lead's score in ``model`` at ``now``, why, and when it
    will next change on its own."""
    if not matches(model.audience, facts):
        return NOT_IN_AUDIENCE
    now = as_utc(now)
    breakdown = [
        RuleScore(rule.id, rule.title, rule.points, 1)
        for rule in model.attribute_rules
        if rule.condition.matches(facts)
    ]
    windowed = []
    for rule in model.behaviour_rules:
        counted = rule.counted(facts.events, now)
        if counted:
            points, capped = rule.points_for(len(counted))
            breakdown.append(RuleScore(rule.id, rule.title, points, len(counted), capped))
            if rule.window_days is not None:
                window = dt.timedelta(days=rule.window_days)
                windowed.append((rule, sorted(event.occurred_at + window for event in counted)))
    score = sum(item.points for item in breakdown)
    reached = model.sales_ready_threshold is not None and score >= model.sales_ready_threshold
    return ScoreResult(
        True, score, tuple(breakdown), model.grade_for(score), reached, _next_change(windowed, now)
    )


def expires_at(model: ScoringModel, facts: Facts, now: dt.datetime) -> dt.datetime | None:
    """S4: the first moment after ``now`` at which the score changes only because
    counted interactions leave their rules' windows (naive UTC), or None.

    Expiries that change nothing (a capped rule still over its cap, a "once"
    rule with events left, a gain and a loss at the same instant) are skipped,
    so the scheduled job re-scores only when the score will move. The same as
    ``evaluate(...).expires_at``."""
    return evaluate(model, facts, now).expires_at


def _next_change(
    windowed: list[tuple[BehaviourRule, list[dt.datetime]]], now: dt.datetime
) -> dt.datetime | None:
    """The first window end at which the windowed rules' total changes.

    ``windowed`` pairs each rule with the sorted ends of its counted events: an
    event counts while ``occurred_at > moment - window``, so at its end it is out."""

    def points_at(moment: dt.datetime) -> int:
        return sum(rule.points_for(len(ends) - bisect_right(ends, moment))[0] for rule, ends in windowed)

    if not windowed:
        return None
    current = points_at(now)
    for moment in sorted({end for _, ends in windowed for end in ends}):
        if points_at(moment) != current:
            return moment
    return None


# --- Checking and building definitions -------------------------------------


def _check_int(data: Mapping, key: str, path: str, low: int, high: int, *, optional=False, reason="") -> list:
    value = data.get(key)
    if optional and is_empty(value):
        return []
    number = as_integer(value)
    if number is None or not low <= number <= high:
        return [FieldError(path, reason or f"Enter a whole number from {low} to {high}.")]
    return []


def _check_text(data: Mapping, key: str, path: str, limit: int, *, required: bool, what: str) -> list:
    value = data.get(key)
    if value is None or value == "":
        return [FieldError(path, f"Enter {what}.")] if required else []
    if not isinstance(value, str) or (required and not value.strip()):
        return [FieldError(path, f"Enter {what}.")]
    if len(value) > limit:
        return [FieldError(path, f"{what.capitalize()} is at most {limit} characters.")]
    return []


def _check_list(data: Mapping, key: str, path: str, limit: int) -> tuple[list, list]:
    """(the items, errors) for an optional JSON list."""
    value = data.get(key)
    if value is None:
        return [], []
    if not isinstance(value, list | tuple):
        return [], [FieldError(path, "Expected a list.")]
    if len(value) > limit:
        return [], [FieldError(path, f"At most {limit} items.")]
    return list(value), []


def _check_points(rule: Mapping, path: str) -> list:
    points = as_integer(rule.get("points"))
    if points is None or not -MAX_POINTS <= points <= MAX_POINTS:
        return [
            FieldError(
                f"{path}.points", f"Enter points from -{MAX_POINTS} to {MAX_POINTS} (negative to subtract)."
            )
        ]
    if points == 0:
        return [FieldError(f"{path}.points", "Give this rule some points (negative to subtract).")]
    return []


def validate_attribute_rule(rule: Any, path: str) -> list[FieldError]:
    """Errors in one attribute rule dict (``condition``, ``points``, ``label``)."""
    if not isinstance(rule, Mapping):
        return [FieldError(path, "Expected a rule.")]
    errors = validate_condition(rule.get("condition"), f"{path}.condition")
    errors += _check_points(rule, path)
    errors += _check_text(rule, "label", f"{path}.label", 200, required=False, what="a label")
    return errors


def validate_behaviour_rule(rule: Any, path: str) -> list[FieldError]:
    """Errors in one behaviour rule dict (``type``, ``filters``, ``window_days``,
    ``per_occurrence``, ``cap``, ``points``, ``label``)."""
    if not isinstance(rule, Mapping):
        return [FieldError(path, "Expected a rule.")]
    errors = _check_text(rule, "type", f"{path}.type", 50, required=True, what="an interaction type")
    filters, problems = _check_list(rule, "filters", f"{path}.filters", MAX_FILTERS)
    errors += problems
    for index, condition in enumerate(filters):
        errors += validate_condition(
            as_property_filter(condition), f"{path}.filters[{index}]", entities=(INTERACTION,), fields=None
        )
    errors += _check_int(rule, "window_days", f"{path}.window_days", 1, MAX_WINDOW_DAYS, optional=True)
    errors += _check_int(rule, "cap", f"{path}.cap", 1, MAX_POINTS, optional=True)
    if not isinstance(rule.get("per_occurrence", True), bool):
        errors.append(FieldError(f"{path}.per_occurrence", "Choose per occurrence or once."))
    errors += _check_points(rule, path)
    errors += _check_text(rule, "label", f"{path}.label", 200, required=False, what="a label")
    return errors


def validate_model(data: Any, *, publishing: bool = False) -> list[FieldError]:
    """Errors in a scoring model dict, as ``FieldError(path, reason)`` (paths like
    ``behaviour_rules[1].cap``). ``publishing`` also requires at least one rule."""
    if not isinstance(data, Mapping):
        return [FieldError("", "Expected a scoring model.")]
    errors = _check_text(data, "name", "name", 200, required=True, what="a name")
    if data.get("audience") is not None:
        errors += validate_segment(data["audience"], "audience")
    attributes, problems = _check_list(data, "attribute_rules", "attribute_rules", MAX_RULES)
    errors += problems
    behaviours, problems = _check_list(data, "behaviour_rules", "behaviour_rules", MAX_RULES)
    errors += problems
    for index, rule in enumerate(attributes):
        errors += validate_attribute_rule(rule, f"attribute_rules[{index}]")
    for index, rule in enumerate(behaviours):
        errors += validate_behaviour_rule(rule, f"behaviour_rules[{index}]")
    errors += _check_rule_ids(attributes, behaviours)
    if publishing and not attributes and not behaviours:
        errors.append(FieldError("attribute_rules", "Add at least one rule before publishing."))
    errors += _check_int(
        data,
        "sales_ready_threshold",
        "sales_ready_threshold",
        -MAX_POINTS * MAX_RULES,
        MAX_POINTS * MAX_RULES,
        optional=True,
    )
    errors += _check_grades(data)
    return errors


def _check_rule_ids(attributes: list, behaviours: list) -> list[FieldError]:
    errors, seen = [], set()
    for kind, rules in (("attribute_rules", attributes), ("behaviour_rules", behaviours)):
        for index, rule in enumerate(rules):
            rule_id = rule.get("id") if isinstance(rule, Mapping) else None
            if rule_id is None or rule_id == "":
                continue
            if not isinstance(rule_id, str | int) or isinstance(rule_id, bool) or len(str(rule_id)) > 50:
                errors.append(FieldError(f"{kind}[{index}].id", "Rule ids are short texts."))
            elif str(rule_id) in seen:
                errors.append(FieldError(f"{kind}[{index}].id", "Two rules have the same id."))
            seen.add(str(rule_id))
    return errors


def _check_grades(data: Mapping) -> list[FieldError]:
    grades, errors = _check_list(data, "grades", "grades", 20)
    labels, minimums = set(), set()
    for index, grade in enumerate(grades):
        path = f"grades[{index}]"
        if not isinstance(grade, Mapping):
            errors.append(FieldError(path, "Expected a grade."))
            continue
        problems = _check_text(grade, "label", f"{path}.label", 30, required=True, what="a grade label")
        problems += _check_int(
            grade, "min_score", f"{path}.min_score", -MAX_POINTS * MAX_RULES, MAX_POINTS * MAX_RULES
        )
        if not problems and grade["label"].strip().casefold() in labels:
            problems.append(FieldError(f"{path}.label", "Two grades have the same label."))
        if not problems and as_integer(grade["min_score"]) in minimums:
            problems.append(FieldError(f"{path}.min_score", "Two grades start at the same score."))
        if not problems:
            labels.add(grade["label"].strip().casefold())
            minimums.add(as_integer(grade["min_score"]))
        errors += problems
    return errors


def _build_model(data: Mapping) -> ScoringModel:
    """A model from a dict that ``validate_model`` accepted."""
    attributes = data.get("attribute_rules") or ()
    behaviours = data.get("behaviour_rules") or ()
    taken = _explicit_ids(attributes) | _explicit_ids(behaviours)
    attribute_ids = _rule_ids(attributes, "a", taken)
    behaviour_ids = _rule_ids(behaviours, "b", taken | set(attribute_ids))
    threshold = data.get("sales_ready_threshold")
    return ScoringModel(
        id=data.get("id"),
        name=data["name"].strip(),
        audience=None if data.get("audience") is None else build_segment(data["audience"]),
        attribute_rules=tuple(
            AttributeRule(
                rule_id, build_condition(rule["condition"]), as_integer(rule["points"]), _label(rule)
            )
            for rule_id, rule in zip(attribute_ids, attributes, strict=True)
        ),
        behaviour_rules=tuple(
            _build_behaviour_rule(rule_id, rule)
            for rule_id, rule in zip(behaviour_ids, behaviours, strict=True)
        ),
        sales_ready_threshold=None if is_empty(threshold) else as_integer(threshold),
        grades=tuple(Grade(g["label"].strip(), as_integer(g["min_score"])) for g in data.get("grades") or ()),
    )


def _explicit_ids(rules) -> set[str]:
    return {str(rule["id"]) for rule in rules if not is_empty(rule.get("id"))}


def _rule_ids(rules, prefix: str, taken: set[str]) -> list[str]:
    """Each rule's id; a rule without one gets the first free ``a1``, ``a2``… (``b…``
    for behaviour rules), so ids stay unique within the model."""
    used = set(taken)
    ids, counter = [], 0
    for rule in rules:
        if not is_empty(rule.get("id")):
            ids.append(str(rule["id"]))
            continue
        counter += 1
        while f"{prefix}{counter}" in used:
            counter += 1
        ids.append(f"{prefix}{counter}")
        used.add(ids[-1])
    return ids


def _label(rule: Mapping) -> str:
    return (rule.get("label") or "").strip()


def _build_behaviour_rule(rule_id: str, rule: Mapping) -> BehaviourRule:
    window, cap = rule.get("window_days"), rule.get("cap")
    return BehaviourRule(
        id=rule_id,
        interaction_type=rule["type"].strip(),
        points=as_integer(rule["points"]),
        filters=tuple(
            build_condition(as_property_filter(condition)) for condition in rule.get("filters") or ()
        ),
        window_days=None if is_empty(window) else as_integer(window),
        per_occurrence=rule.get("per_occurrence", True),
        cap=None if is_empty(cap) else as_integer(cap),
        label=_label(rule),
    )
