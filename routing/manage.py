"""Managing routing (R1, R3, R4): saving, ordering and switching assignment
rules, reps' profiles, and the figures of the managers' load view."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import peewee as pw

from auth.models import REP, Team, User
from leads import lifecycle
from leads.conditions import DefinitionError, FieldError
from leads.db import transaction, utcnow
from leads.models import ProductLine, ScoringModel
from leads.queries import unassigned_sales_ready
from routing import router
from routing.assign import open_leads_by_rep
from routing.models import DEFAULT_CAPACITY, Assignment, AssignmentRule, RepProductLine, RepProfile


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


def delete_rule(rule_id: int) -> None:
    """Remove a rule (past assignments keep their decision, without the link)."""
    AssignmentRule.delete().where(AssignmentRule.id == rule_id).execute()


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
