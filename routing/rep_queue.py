"""A rep's queue (R6): their leads to accept, with each one's accept-by deadline
as a countdown and its score, sorted by deadline, score or age.

A row's score is the lead's *highest* score among the live scoring models (with
its grade): the rep sees the best case for calling, whichever model makes it.
The page loads its leads in one query (sorted in SQL) and the rows' deadlines,
scores and latest calls in one query each, whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from auth.models import User
from leads.activities.models import Activity
from leads.core import activities as activity_rules
from leads.records.models import Lead
from leads.records.queries import queue_for
from leads.scoring.models import LeadScore, ScoringModel
from routing.models import Assignment

SORTS = ("deadline", "score", "age")
DEFAULT_SORT = "deadline"
URGENT = dt.timedelta(hours=1)  # under this, the countdown is red

LIVE_MODEL = "live"


@dataclass(frozen=True)
class Countdown:
    """How long a rep has left to accept a lead, as the row says it."""

    due_at: dt.datetime
    text: str
    urgent: bool  # under an hour left, or overdue
    overdue: bool


def countdown(due_at: dt.datetime, now: dt.datetime) -> Countdown:
    """``due_at`` seen from ``now``: "2 h 15 min left", "overdue by 5 min"
    (whole minutes, rounded down; "less than a minute" below one)."""
    left = due_at - now
    overdue = left < dt.timedelta(0)
    span = _span(abs(left))
    text = f"overdue by {span}" if overdue else f"{span} left"
    return Countdown(due_at, text, overdue or left < URGENT, overdue)


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "less than a minute"


def parse_sort(raw: str | None) -> str:
    """The asked sort, or the default for anything else (never an error)."""
    return raw if raw in SORTS else DEFAULT_SORT


def _live_assignments(user: User):
    return Assignment.select(Assignment.lead, Assignment.due_at).where(
        (Assignment.rep == user.id) & Assignment.ended_at.is_null() & Assignment.accepted_at.is_null()
    )


def _best_scores():
    return (
        LeadScore.select(LeadScore.lead, pw.fn.MAX(LeadScore.score).alias("best"))
        .join(ScoringModel, on=(LeadScore.model == ScoringModel.id))
        .where(ScoringModel.status == LIVE_MODEL)
        .group_by(LeadScore.lead)
    )


def rep_queue(user: User, sort: str = DEFAULT_SORT):
    """The rep's leads to work (``queue_for``), in ``sort`` order: the soonest
    deadline first (accepted leads, which have none, last), the highest score
    first (unscored last) or the oldest lead first."""
    query = queue_for(user)
    if sort == "deadline":
        live = _live_assignments(user).alias("live")
        query = query.join_from(Lead, live, pw.JOIN.LEFT_OUTER, on=(live.c.lead_id == Lead.id)).order_by(
            live.c.due_at.asc(nulls="LAST"), Lead.assigned_at, Lead.id
        )
    elif sort == "score":
        best = _best_scores().alias("best")
        query = query.join_from(Lead, best, pw.JOIN.LEFT_OUTER, on=(best.c.lead_id == Lead.id)).order_by(
            best.c.best.desc(nulls="LAST"), Lead.assigned_at, Lead.id
        )
    else:
        query = query.order_by(Lead.created_at, Lead.id)
    return query


@dataclass(frozen=True)
class LastCall:
    """The lead's latest logged call (W1, W3), as a queue row shows it."""

    at: dt.datetime
    outcome: str  # its label
    minutes: int | None
    note: str
    by: str | None


@dataclass(frozen=True)
class RowFacts:
    """What a rep's row shows beside the lead: its deadline, best live score
    and latest call."""

    countdown: Countdown | None = None
    score: int | None = None
    grade: str | None = None
    last_call: LastCall | None = None


def last_calls(lead_ids) -> dict[int, LastCall]:
    """Each lead's latest call not deleted, with who logged it (one query)."""
    author = User.alias("call_author")
    calls = (
        Activity.select(Activity.lead, Activity.created_at, Activity.outcome, Activity.duration_minutes,
                        Activity.body, author.name)
        .join(author, pw.JOIN.LEFT_OUTER, on=(Activity.author == author.id))
        .where(Activity.lead.in_(list(lead_ids)) & (Activity.kind == activity_rules.CALL)
               & Activity.deleted_at.is_null())
        .order_by(Activity.created_at.desc(), Activity.id.desc())
    )  # fmt: skip
    latest: dict[int, LastCall] = {}
    for lead_id, at, outcome, minutes, note, by in calls.tuples():
        if lead_id not in latest:
            label = activity_rules.OUTCOMES.get(outcome, outcome or "")
            latest[lead_id] = LastCall(at, label, minutes, note or "", by)
    return latest


def row_facts(user: User, lead_ids, now: dt.datetime) -> dict[int, RowFacts]:
    """Each lead's countdown (its live, unaccepted assignment to ``user``),
    highest live score with its grade and latest call; three queries for any
    number of leads."""
    ids = sorted(set(lead_ids))
    if not ids:
        return {}
    due = {
        lead_id: due_at
        for lead_id, due_at in _live_assignments(user).where(Assignment.lead.in_(ids)).tuples()
        if due_at is not None
    }
    best: dict[int, tuple[int, str | None]] = {}
    scores = (
        LeadScore.select(LeadScore.lead, LeadScore.score, LeadScore.grade)
        .join(ScoringModel, on=(LeadScore.model == ScoringModel.id))
        .where(LeadScore.lead.in_(ids) & (ScoringModel.status == LIVE_MODEL))
        .order_by(LeadScore.model)
    )
    for lead_id, score, grade in scores.tuples():
        if lead_id not in best or score > best[lead_id][0]:
            best[lead_id] = (score, grade)
    calls = last_calls(ids)
    return {
        lead_id: RowFacts(
            countdown(due[lead_id], now) if lead_id in due else None,
            *best.get(lead_id, (None, None)),
            last_call=calls.get(lead_id),
        )
        for lead_id in ids
    }
