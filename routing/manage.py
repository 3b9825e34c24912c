"""Managing routing (R1, R3, R4): saving, ordering and switching assignment
rules, reps' profiles, and the figures of the managers' load view."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import peewee as pw

from auth.models import REP, Team, User
from leads.base.db import transaction, utcnow
from leads.core import lifecycle, scoring
from leads.core.conditions import LEAD, OPERATORS, UNARY, DefinitionError, FieldError, Group
from leads.records.listing import SEARCHED, search_conditions
from leads.records.models import Account, Campaign, Lead, ProductLine
from leads.records.queries import unassigned_sales_ready
from leads.scoring.models import ScoringModel
from routing import assign, forms, router
from routing.assign import open_leads_by_rep
from routing.models import (
    DEFAULT_CAPACITY,
    Assignment,
    AssignmentRule,
    RepProductLine,
    RepProfile,
    RuleChange,
)


class ManageError(ValueError):
    """A rule or profile that cannot be saved; ``errors`` are ``FieldError``s."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


def known_ids() -> dict:
    """The ids a rule may name: scoring models, teams, active reps."""
    return {
        "model_ids": {model_id for (model_id,) in ScoringModel.select(ScoringModel.id).tuples()},
        "team_ids": {team_id for (team_id,) in Team.select(Team.id).tuples()},
        "user_ids": {
            user_id
            for (user_id,) in User.select(User.id)
            .where((User.role == REP) & (User.is_active == True))  # noqa: E712
            .tuples()
        },
    }


# --- Names of the ids a rule names ---------------------------------------------------

# More names than this and a condition row asks for the id instead of a select.
MAX_ID_CHOICES = 500

_NAMED = {
    forms.PRODUCT_LINES: (ProductLine, ProductLine.name),
    forms.TEAMS: (Team, Team.name),
    forms.CAMPAIGNS: (Campaign, Campaign.name),
    forms.REPS: (User, User.name),
    forms.ACCOUNTS: (Account, Account.name),
}


def _names_query(kind: str):
    model, name = _NAMED[kind]
    query = model.select(model.id, name).order_by(name, model.id)
    if kind == forms.REPS:
        query = query.where((User.role == REP) & (User.is_active == True))  # noqa: E712
    return query


def id_options(kinds) -> dict[str, list[tuple[int, str]]]:
    """(id, name) pairs a condition row offers for each ``forms.ID_FIELDS`` kind in
    ``kinds`` (reps: the active ones); a kind with more than ``MAX_ID_CHOICES``
    names is left out (the row then asks for the id). One query per kind."""
    options = {}
    for kind in sorted(set(kinds) - {None}):
        pairs = list(_names_query(kind).limit(MAX_ID_CHOICES + 1).tuples())
        if len(pairs) <= MAX_ID_CHOICES:
            options[kind] = pairs
    return options


def live_model_names() -> dict[int, str]:
    """Live scoring models by id, named: the scores a rule's condition offers."""
    query = (
        ScoringModel.select(ScoringModel.id, ScoringModel.name)
        .where(ScoringModel.status == scoring.LIVE)
        .order_by(ScoringModel.name)
    )
    return dict(query.tuples())


def names_of(ids: dict[str, set]) -> dict[str, dict[int, str]]:
    """Names of the ids in ``ids`` (``ID_FIELDS`` kind, or "models", → ids): one
    query per kind that has any; every user kind is looked up, active or not."""
    names: dict[str, dict[int, str]] = {}
    for kind, wanted in ids.items():
        wanted = {number for number in (forms.as_int(value) for value in wanted) if number is not None}
        if not wanted:
            continue
        model, name = (ScoringModel, ScoringModel.name) if kind == "models" else _NAMED[kind]
        names[kind] = dict(model.select(model.id, name).where(model.id.in_(sorted(wanted))).tuples())
    return names


def _conditions(node):
    """Every condition under ``node`` (a group or a condition; None: none)."""
    if node is None:
        return
    if isinstance(node, Group):
        for item in node.items:
            yield from _conditions(item)
    else:
        yield node


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


class RuleWords:
    """Rules in words, with names for the ids they name ("Lead product line equals
    Analytics Cloud", "round robin · reps of a team (Team West)"); the names are
    looked up once for all the rules given (a query per kind named)."""

    def __init__(self, rules: list[router.Rule]):
        wanted: dict[str, set] = {}
        for rule in rules:
            for condition in _conditions(rule.conditions):
                kind = self._kind(condition)
                if kind is not None:
                    ids = _as_list(condition.value) if kind != "models" else [self._model_id(condition)]
                    wanted.setdefault(kind, set()).update(ids)
            if rule.team_id is not None:
                wanted.setdefault(forms.TEAMS, set()).add(rule.team_id)
            if rule.user_id is not None:
                wanted.setdefault(forms.REPS, set()).add(rule.user_id)
        self.names = names_of(wanted)

    @staticmethod
    def _kind(condition) -> str | None:
        if condition.entity == LEAD and condition.field.startswith(router.SCORE_PREFIX):
            return "models"
        return forms.ID_FIELDS.get((condition.entity, condition.field), (None,))[0]

    @staticmethod
    def _model_id(condition) -> str:
        return condition.field[len(router.SCORE_PREFIX) :]

    def name(self, kind: str, value) -> str:
        """The name of id ``value`` of ``kind``, or "id <value> (unknown)"."""
        known = self.names.get(kind, {}).get(forms.as_int(value))
        return known if known is not None else f"id {value} (unknown)"

    def condition(self, condition) -> str | None:
        """A condition on an id field or a score in words with names; None for others."""
        kind = self._kind(condition)
        if kind is None:
            return None
        models = self.names.get("models", {})
        subject = forms.field_label(condition.entity, condition.field, models)
        verb = OPERATORS[condition.operator]
        if condition.operator in UNARY:
            return f"{subject} {verb}"
        if kind == "models":
            values = _as_list(condition.value)
        else:
            values = [self.name(kind, value) for value in _as_list(condition.value)]
        return f"{subject} {verb} {', '.join(str(value) for value in values)}"

    def title(self, rule: router.Rule) -> str:
        """The rule's conditions in words."""
        return "every lead" if rule.conditions is None else router.describe(rule.conditions, self.condition)

    def strategy(self, rule: router.Rule) -> str:
        """The rule's strategy in words, with the named rep, the fallback and the pool."""
        words = router.STRATEGIES.get(rule.strategy, "?")
        if rule.user_id is not None:
            words += f" ({self.name(forms.REPS, rule.user_id)})"
        if rule.fallback:
            words += f", else {router.STRATEGIES[rule.fallback].lower()}"
        if rule.pool:
            words += f" · {router.POOLS.get(rule.pool, rule.pool).lower()}"
            if rule.team_id is not None:
                words += f" ({self.name(forms.TEAMS, rule.team_id)})"
        return words


def rule_summaries(rows) -> dict[int, tuple[str, str]]:
    """Each stored rule's id → (conditions, strategy) in words with names (invalid
    ones say so)."""
    built = {}
    for row in rows:
        try:
            built[row.id] = assign.rule_from_row(row)
        except ValueError:
            built[row.id] = None
    words = RuleWords([rule for rule in built.values() if rule is not None])
    return {
        row_id: (words.title(rule), words.strategy(rule)) if rule else ("(invalid conditions)", "?")
        for row_id, rule in built.items()
    }


def save_rule(data: dict, accept_within_hours: int | None, rule_id: int | None = None) -> AssignmentRule:
    """Check and store a rule (new ones go last); raises ``ManageError``."""
    try:
        rule = router.Rule.from_dict({**data, "id": rule_id}, **known_ids())
    except DefinitionError as error:
        raise ManageError(list(error.errors)) from None
    definition = {k: v for k, v in rule.to_dict().items() if k not in ("id", "name", "active")}
    now = utcnow()
    with transaction():
        if rule_id is None:
            last = AssignmentRule.select(pw.fn.MAX(AssignmentRule.position)).scalar() or 0
            return AssignmentRule.create(
                position=last + 1,
                name=rule.name,
                enabled=rule.active,
                definition=definition,
                accept_within_hours=accept_within_hours,
                created_at=now,
                updated_at=now,
            )
        AssignmentRule.update(
            name=rule.name,
            enabled=rule.active,
            definition=definition,
            accept_within_hours=accept_within_hours,
            updated_at=now,
        ).where(AssignmentRule.id == rule_id).execute()
    return AssignmentRule.get_by_id(rule_id)


def ordered_rules():
    """The rules in the order the router tries them."""
    return AssignmentRule.select().order_by(AssignmentRule.position, AssignmentRule.id)


def move_rule(rule_id: int, step: int) -> None:
    """Swap the rule with its neighbour above (step −1) or below (+1)."""
    with transaction():
        rows = list(ordered_rules())
        index = next((i for i, row in enumerate(rows) if row.id == rule_id), None)
        if index is None or not 0 <= index + step < len(rows):
            return
        rows[index], rows[index + step] = rows[index + step], rows[index]
        for position, row in enumerate(rows, 1):
            if row.position != position:
                AssignmentRule.update(position=position).where(AssignmentRule.id == row.id).execute()


def set_enabled(rule_id: int, enabled: bool) -> None:
    """Switch a rule on or off."""
    AssignmentRule.update(enabled=enabled, updated_at=utcnow()).where(AssignmentRule.id == rule_id).execute()


def move_rule_above(rule_id: int, other_id: int) -> None:
    """Put the rule just above ``other_id`` (one click from "shadowed by rule N")."""
    with transaction():
        rows = list(ordered_rules())
        moving = next((row for row in rows if row.id == rule_id), None)
        if moving is None or all(row.id != other_id for row in rows) or rule_id == other_id:
            return
        rows.remove(moving)
        rows.insert(next(i for i, row in enumerate(rows) if row.id == other_id), moving)
        for position, row in enumerate(rows, 1):
            if row.position != position:
                AssignmentRule.update(position=position).where(AssignmentRule.id == row.id).execute()


REMOVED = "removed"


def delete_rule(rule_id: int, by: User | None = None) -> AssignmentRule | None:
    """Remove a rule and record it (name, place and definition as they were, who,
    when); past assignments keep their decision, without the link. Returns the
    removed row, None when there was none."""
    with transaction():
        row = AssignmentRule.get_or_none(AssignmentRule.id == rule_id)
        if row is None:
            return None
        place = ordered_rules().where(
            (AssignmentRule.position < row.position)
            | ((AssignmentRule.position == row.position) & (AssignmentRule.id < row.id))
        )
        RuleChange.create(
            rule_id=row.id,
            action=REMOVED,
            name=row.name,
            position=place.count() + 1,
            definition={**(row.definition or {}), "active": row.enabled},
            by=by.id if by else None,
            created_at=utcnow(),
        )
        AssignmentRule.delete().where(AssignmentRule.id == rule_id).execute()
    return row


def removed_rules(limit: int = 5):
    """The latest rule removals, newest first, with who removed them."""
    return (
        RuleChange.select(RuleChange, User)
        .join(User, pw.JOIN.LEFT_OUTER, on=(RuleChange.by == User.id))
        .where(RuleChange.action == REMOVED)
        .order_by(RuleChange.created_at.desc(), RuleChange.id.desc())
        .limit(limit)
    )


@dataclass(frozen=True)
class Shadow:
    """A rule that can never fire: the earlier rule that takes its leads (its id
    and number in the list) and the warning in words."""

    by_id: int
    by_number: int
    text: str


def shadows(rows, summaries: dict[int, tuple[str, str]]) -> dict[int, Shadow]:
    """R4: stored rule id → ``Shadow`` for the rules that earlier ones make
    unreachable (``router.shadowed``); rules whose definition does not load are
    left out of the check, as the router cannot use them either."""
    built = []
    for number, row in enumerate(rows, 1):
        try:
            built.append((number, row, assign.rule_from_row(row)))
        except ValueError:
            continue
    found = router.shadowed([rule for _number, _row, rule in built])
    notes = {}
    for index, positions in found.items():
        _number, row, _rule = built[index]
        first_number, first_row, _ = built[positions[0] - 1]
        others = [built[position - 1][0] for position in positions[1:]]
        also = f" (and rule {', '.join(str(n) for n in others)})" if others else ""
        text = f"shadowed by rule {first_number}{also}: {summaries[first_row.id][0]}"
        notes[row.id] = Shadow(first_row.id, first_number, text)
    return notes


MAX_FOUND = 10


def leads_matching(text: str):
    """Leads whose id is ``text``, or whose name, email or company words start
    with the words of ``text`` (the lead list's search), newest first."""
    text = (text or "").strip()
    query = Lead.select(Lead.id, Lead.first_name, Lead.last_name, Lead.email, Lead.company)
    conditions = search_conditions(text, SEARCHED)
    if not conditions:
        return query.where(Lead.id == 0)
    found = conditions[0]
    for condition in conditions[1:]:
        found &= condition
    if text.isdigit() and len(text) < 19:
        found |= Lead.id == int(text)
    return query.where(found).order_by(Lead.id.desc())


# --- Reps ---------------------------------------------------------------------------


@dataclass
class RepRow:
    """A rep on the profiles page and the load chart."""

    user: User
    capacity: int
    open_leads: int
    away_from: object = None
    away_until: object = None
    product_lines: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        return self.open_leads >= self.capacity

    def away(self, now) -> bool:
        rep = router.Rep(
            id=self.user.id, capacity=self.capacity, away_from=self.away_from, away_until=self.away_until
        )
        return rep.is_away(now)


def rep_rows(active_only: bool = False) -> list[RepRow]:
    """Every sales rep with capacity, open leads, time away and product lines (4 queries)."""
    query = User.select().where(User.role == REP).order_by(User.name)
    if active_only:
        query = query.where(User.is_active == True)  # noqa: E712
    users = list(query)
    profiles = {p.user_id: p for p in RepProfile.select()}
    lines: dict[int, list[str]] = {}
    for rep_id, name in (
        RepProductLine.select(RepProductLine.rep, ProductLine.name)
        .join(ProductLine)
        .order_by(ProductLine.name)
        .tuples()
    ):
        lines.setdefault(rep_id, []).append(name)
    loads = open_leads_by_rep()
    rows = []
    for user in users:
        profile = profiles.get(user.id)
        rows.append(
            RepRow(
                user=user,
                capacity=profile.capacity if profile else DEFAULT_CAPACITY,
                open_leads=loads.get(user.id, 0),
                away_from=profile.away_from if profile else None,
                away_until=profile.away_until if profile else None,
                product_lines=tuple(lines.get(user.id, ())),
            )
        )
    return rows


@dataclass(frozen=True)
class RepChoice:
    """A rep in the managers' "assign to" picker: the option reads with the rep's
    load ("Ana · 12/20, away until Mon 8 Dec"); ``warning`` says why assigning
    by hand asks first (at capacity, away), None when it need not."""

    id: int
    rep_name: str
    load: str
    warning: str | None = None

    @property
    def name(self) -> str:
        """The option's label."""
        return f"{self.rep_name} · {self.load}"


def _day(moment) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def rep_choices(now=None) -> list[RepChoice]:
    """Every active rep by name with their load and time away, for the assign
    picker and its capacity and time-away question: one query (the open leads
    counted per rep on the (owner, status) index), as the plain list of reps."""
    now = now or utcnow()
    open_leads = Lead.select(pw.fn.COUNT(Lead.id)).where(
        (Lead.owner == User.id) & (Lead.status == lifecycle.OPEN)
    )
    query = (
        User.select(User.id, User.name, RepProfile.capacity, RepProfile.away_from, RepProfile.away_until)
        .select_extend(open_leads.alias("open_leads"))
        .join(RepProfile, pw.JOIN.LEFT_OUTER, on=(RepProfile.user == User.id))
        .where((User.role == REP) & (User.is_active == True))  # noqa: E712
        .order_by(User.name, User.id)
        .tuples()
    )
    choices = []
    for user_id, name, capacity, away_from, away_until, held in query:
        capacity = DEFAULT_CAPACITY if capacity is None else capacity
        load = f"{held}/{capacity}"
        problems = []
        if held >= capacity:
            problems.append(f"is at capacity ({load} open leads)")
        rep = router.Rep(id=user_id, capacity=capacity, away_from=away_from, away_until=away_until)
        if rep.is_away(now):
            until = f" until {_day(away_until)}" if away_until else ""
            load += f", away{until}"
            problems.append(f"is away{until}")
        warning = f"{name} {' and '.join(problems)}." if problems else None
        choices.append(RepChoice(user_id, name, load, warning))
    return choices


def profile_of(user: User) -> tuple[RepProfile | None, list[int]]:
    """The rep's stored profile (None: defaults) and product line ids."""
    lines = [
        line_id
        for (line_id,) in RepProductLine.select(RepProductLine.product_line)
        .where(RepProductLine.rep == user.id)
        .tuples()
    ]
    return RepProfile.get_or_none(RepProfile.user == user.id), lines


def save_profile(user: User, capacity: int, away_from, away_until, product_line_ids) -> None:
    """Store the rep's capacity, time away and product lines (one transaction)."""
    now = utcnow()
    known = {line_id for (line_id,) in ProductLine.select(ProductLine.id).tuples()}
    with transaction():
        RepProfile.insert(
            user=user.id, capacity=capacity, away_from=away_from, away_until=away_until, updated_at=now
        ).on_conflict(
            conflict_target=[RepProfile.user],
            update={
                RepProfile.capacity: capacity,
                RepProfile.away_from: away_from,
                RepProfile.away_until: away_until,
                RepProfile.updated_at: now,
            },
        ).execute()
        RepProductLine.delete().where(RepProductLine.rep == user.id).execute()
        rows = [
            {"rep": user.id, "product_line": line} for line in sorted(set(product_line_ids)) if line in known
        ]
        if rows:
            RepProductLine.insert_many(rows).execute()


# --- The managers' figures ------------------------------------------------------------


def acceptance_hours(limit: int = 1000) -> list[float]:
    """Hours from assignment to acceptance of the latest accepted assignments."""
    query = (
        Assignment.select(Assignment.created_at, Assignment.accepted_at)
        .where(Assignment.accepted_at.is_null(False))
        .order_by(Assignment.accepted_at.desc())
        .limit(limit)
    )
    return [(accepted - created).total_seconds() / 3600 for created, accepted in query.tuples()]


def load_summary() -> dict:
    """Rep load rows, the unassigned count and the median acceptance time."""
    hours = acceptance_hours()
    return {
        "reps": rep_rows(active_only=True),
        "unassigned": unassigned_sales_ready().count(),
        "median_hours": statistics.median(hours) if hours else None,
        "accepted": len(hours),
        "open_status": lifecycle.OPEN,
    }
