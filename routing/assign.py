"""Routing stored leads (R1–R6): load the rules, the reps and their loads and
pointers, call the pure ``routing.router.route``, store the answer.

One routing is one transaction: the live ``Assignment`` row, the owner (the
lifecycle's "assign", as the system, conditional on the lead still having no
owner), the round-robin pointer, the decision's trace on the lead's timeline
and the rep's notification and email. Exactly one assignment per lead, even
with several workers: the database refuses a second live assignment (partial
unique index) and the owner is only set where it is still NULL; either conflict
rolls the whole routing back and the job does nothing. Decisions are also
taken one at a time (``_routing_lock``): round robin and capacity read the
pointers and loads that the previous decision wrote, so two workers never hand
the same "next" rep two leads.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import peewee as pw

from auth.models import REP, User
from leads.base.db import db, is_sqlite, on_commit, transaction, utcnow
from leads.base.queue import ROUTING, enqueue
from leads.base.urls import public_url
from leads.core import lifecycle
from leads.core.lifecycle import TransitionError
from leads.notify.models import Notification
from leads.notify.services import notify, queue_email
from leads.records.models import Lead, LeadHistory
from leads.scoring.facts import load_facts
from leads.scoring.models import LeadScore
from leads.stages.services import perform, perform_steps
from routing import router
from routing.models import (
    DEFAULT_CAPACITY,
    Assignment,
    AssignmentRule,
    PoolPointer,
    RepProductLine,
    RepProfile,
)

VIA = "routing"
ROUTING_KIND = "routing"
END_DECLINED = "declined"
END_OVERDUE = "not accepted in time"
END_REASSIGNED = "reassigned by hand"
END_LEFT = "left the sales queue"
MANUAL = "manual"
_LOCK_KEY = 7_007_001  # PostgreSQL advisory lock: one routing decision at a time
LOCK_WAIT_SECONDS = 10

# Notification kinds.
ASSIGNED_TO_YOU, OWNER_SALES_READY, TAKEN_BACK = "assigned", "sales_ready", "taken_back"


# --- Loading what the router reads --------------------------------------------


_built: dict[str, router.Rule] = {}  # checked and built once per stored form (PERF)


def rule_from_row(row: AssignmentRule) -> router.Rule:
    """The router's rule for a stored one (its id, name and on/off are columns)."""
    data = {**(row.definition or {}), "id": row.id, "name": row.name, "active": row.enabled}
    key = json.dumps(data, sort_keys=True, default=str)
    rule = _built.get(key)
    if rule is None:
        if len(_built) > 1000:
            _built.clear()
        rule = _built[key] = router.Rule.from_dict(data)
    return rule


def load_rules() -> list[tuple[AssignmentRule, router.Rule]]:
    """The stored rules in order, with their router form."""
    rows = AssignmentRule.select().order_by(AssignmentRule.position, AssignmentRule.id)
    return [(row, rule_from_row(row)) for row in rows]


@dataclass
class RepBook:
    """What rarely changes about the reps (names, emails, teams, capacity, time
    away, product lines), loaded before the routing lock; ``reps()`` adds the
    open leads and pointers, read under the lock."""

    users: dict[int, User]
    profiles: dict[int, RepProfile]
    lines: dict[int, set[int]]

    @classmethod
    def load(cls) -> RepBook:
        users = User.select(User.id, User.name, User.email, User.team, User.is_active).where(User.role == REP)
        lines: dict[int, set[int]] = defaultdict(set)
        for rep_id, line_id in RepProductLine.select(
            RepProductLine.rep, RepProductLine.product_line
        ).tuples():
            lines[rep_id].add(line_id)
        return cls({u.id: u for u in users}, {p.user_id: p for p in RepProfile.select()}, lines)

    def reps(self) -> list[router.Rep]:
        """Every sales rep (deactivated ones too, so the trace can say why they are
        skipped) with their open leads and round-robin pointers as stored now."""
        pointers: dict[int, dict[str, dt.datetime]] = defaultdict(dict)
        for key, rep_id, moment in PoolPointer.select(
            PoolPointer.pool_key, PoolPointer.rep, PoolPointer.last_assigned_at
        ).tuples():
            pointers[rep_id][key] = moment
        loads = open_leads_by_rep(self.users)
        return [
            self._rep(user, loads.get(user.id, 0), pointers.get(user.id, {})) for user in self.users.values()
        ]

    def _rep(self, user: User, open_leads: int, pointers: dict) -> router.Rep:
        profile = self.profiles.get(user.id)
        return router.Rep(
            id=user.id,
            name=user.name,
            capacity=profile.capacity if profile else DEFAULT_CAPACITY,
            open_leads=open_leads,
            active=user.is_active,
            team_id=user.team_id,
            product_line_ids=frozenset(self.lines.get(user.id, ())),
            away_from=profile.away_from if profile else None,
            away_until=profile.away_until if profile else None,
            last_assigned_at=pointers,
        )


def load_reps() -> list[router.Rep]:
    """Every sales rep as the router sees them now."""
    return RepBook.load().reps()


def open_leads_by_rep(rep_ids=None) -> dict[int, int]:
    """Open leads held by each owner (of ``rep_ids``; None: everyone), which
    capacity and least loaded count. The (owner, status) index answers it."""
    condition = Lead.owner.is_null(False) if rep_ids is None else Lead.owner.in_(list(rep_ids))
    query = (
        Lead.select(Lead.owner, pw.fn.COUNT(Lead.id))
        .where(condition & (Lead.status == lifecycle.OPEN))
        .group_by(Lead.owner)
    )
    return dict(query.tuples())


def excluded_reps(lead_id: int) -> set[int]:
    """R6: reps who declined the lead or let it wait past the time limit."""
    query = Assignment.select(Assignment.rep).where(
        (Assignment.lead == lead_id)
        & Assignment.rep.is_null(False)
        & (Assignment.declined_at.is_null(False) | (Assignment.end_reason == END_OVERDUE))
    )
    return {rep_id for (rep_id,) in query.tuples()}


def lead_facts(lead_id: int):
    """The lead's facts with its scores as ``score:<model id>`` lead fields."""
    facts = load_facts([lead_id]).get(lead_id)
    if facts is None:
        return None
    scores = dict(
        LeadScore.select(LeadScore.model, LeadScore.score).where(LeadScore.lead == lead_id).tuples()
    )
    return router.with_scores(facts, scores)


@dataclass
class Outcome:
    """What one routing did: ``status`` is assigned, unassigned or skipped/conflict."""

    status: str
    decision: router.Decision | None = None
    assignment_id: int | None = None


@dataclass
class Inputs:
    """What a routing reads that other routings do not change: the lead's facts,
    the rules, the reps' settings, who declined it. Loaded before the lock."""

    facts: object
    rules: list[tuple[AssignmentRule, router.Rule]]
    book: RepBook
    excluded: set[int]

    @classmethod
    def load(cls, lead_id: int) -> Inputs | None:
        facts = lead_facts(lead_id)
        if facts is None:
            return None
        return cls(facts, load_rules(), RepBook.load(), excluded_reps(lead_id))

    def decide(self, now: dt.datetime) -> router.Decision:
        """The router's decision with the reps' loads and pointers as stored now."""
        rules = [rule for _row, rule in self.rules]
        return router.route(rules, self.facts, self.book.reps(), now, self.excluded)


def decide(lead_id: int, now: dt.datetime | None = None) -> router.Decision | None:
    """The decision the current rules would take for the lead, storing nothing
    ("test this rule set on a lead"); None when there is no such lead."""
    inputs = Inputs.load(lead_id)
    return None if inputs is None else inputs.decide(now or utcnow())


# --- Routing a lead -------------------------------------------------------------


def is_routable(lead: Lead | None) -> bool:
    """Whether the lead waits for a rep: open, sales-ready in stage 5, no owner."""
    return (
        lead is not None
        and lead.status == lifecycle.OPEN
        and lead.stage == lifecycle.SALES_ACCEPTANCE
        and lead.sales_ready
        and lead.owner_id is None
    )


@contextmanager
def _routing_transaction():
    """A write transaction in which routing decisions are taken one at a time.

    PostgreSQL: an advisory lock, released at commit. SQLite: an exclusive
    ``flock`` on a file next to the database, taken before the IMMEDIATE
    transaction: a waiting worker wakes the moment the lock is free, where
    SQLite's busy handler would sleep up to 100 ms between tries and leave the
    database idle while both workers sleep.

    The wait is bounded (``LOCK_WAIT_SECONDS``, O2): behind a frozen worker a
    routing job fails with ``RoutingBusy`` and is retried later (RQ's retries,
    then the sweeper), instead of every worker waiting on the lock for good."""
    if not is_sqlite():
        with transaction():
            db.execute_sql(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_SECONDS * 1000)}ms'")
            try:
                with db.atomic():
                    db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            except pw.OperationalError as error:
                raise RoutingBusy("another worker holds the routing lock") from error
            yield
        return
    with _flock_within(f"{db.obj.database}.routing-lock", LOCK_WAIT_SECONDS) as handle:
        try:
            with transaction():
                yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class RoutingBusy(RuntimeError):
    """The routing lock stayed taken longer than ``LOCK_WAIT_SECONDS``."""


def _flock_within(path: str, seconds: float):
    """The file at ``path`` opened and exclusively ``flock``-ed, waiting at most
    ``seconds``. A blocked ``flock`` cannot time out, so a helper thread waits
    in it and this thread waits for the helper: the waiter still wakes the
    moment the lock is free. If the time runs out first, the helper lets the
    lock go as soon as it gets it."""
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return handle
    except BlockingIOError:
        pass
    taken, state, decided = threading.Event(), {"abandoned": False}, threading.Lock()

    def take():
        fcntl.flock(handle, fcntl.LOCK_EX)
        with decided:
            if state["abandoned"]:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            else:
                taken.set()

    threading.Thread(target=take, name="routing-lock", daemon=True).start()
    taken.wait(seconds)
    with decided:
        if taken.is_set():
            return handle
        state["abandoned"] = True
    raise RoutingBusy("another worker holds the routing lock")


def _decided_since_change(lead: Lead) -> bool:
    """A decision that found nobody was stored after the lead last changed (a
    second job for the same sales-ready event has nothing new to decide)."""
    return (
        Assignment.select()
        .where((Assignment.lead == lead.id) & (Assignment.created_at >= lead.updated_at))
        .exists()
    )


def route_lead(
    lead_id: int, force: bool = False, now: dt.datetime | None = None, notify_owners: bool = False
) -> Outcome:
    """R1: route one lead and store the decision; safe to run twice and from
    several workers at once. ``force`` routes again a lead whose last decision
    found nobody (managers' "Re-run routing", a decline, a time-out);
    ``notify_owners`` first tells its relationship owners it is sales-ready (R2)."""
    lead = Lead.get_or_none(Lead.id == lead_id)
    if not is_routable(lead):
        return Outcome("skipped")
    inputs = Inputs.load(lead_id)  # outside the lock: nothing routing writes
    if notify_owners:
        notify_owners_sales_ready(lead, inputs.facts)
    try:
        with _routing_transaction():
            lead = Lead.get_or_none(Lead.id == lead_id)
            if not is_routable(lead) or (not force and _decided_since_change(lead)):
                return Outcome("skipped")
            now = now or utcnow()
            return _store(lead, inputs.decide(now), inputs, now)
    except TransitionError:
        return Outcome("conflict")  # the owner changed meanwhile: nothing stored


def _store(lead: Lead, decision: router.Decision, inputs: Inputs, now: dt.datetime) -> Outcome:
    rule = next((row for row, _rule in inputs.rules if row.id == decision.rule_id), None)
    due = None
    if decision.assigned and rule is not None and rule.accept_within_hours:
        due = now + dt.timedelta(hours=rule.accept_within_hours)
    values = dict(
        lead=lead.id,
        rep=decision.rep_id,
        rule=rule.id if rule else None,
        decision=decision.to_dict(),
        reason=decision.reason,
        created_at=now,
        due_at=due,
        ended_at=None if decision.assigned else now,  # a decision for nobody is never live
    )
    try:
        with db.atomic():
            assignment_id = Assignment.insert(**values).execute()
    except pw.IntegrityError:
        raise TransitionError("The lead already has a live assignment.") from None
    rep = inputs.book.users.get(decision.rep_id)
    if decision.assigned:
        perform(lead, "assign", None, via=VIA, follow_ups=False, owner_id=decision.rep_id)
        if decision.pool_key and decision.pointer_at:
            _set_pointer(decision.pool_key, decision.rep_id, decision.pointer_at)
        _notify_assigned(lead, rep, due, f"the rule “{rule.name}”" if rule else "the assignment rules")
    summary = f"assigned to {rep.name}" if rep else router.REASONS.get(decision.reason, decision.reason)
    _timeline(lead.id, decision, summary, rule, now)
    return Outcome("assigned" if decision.assigned else "unassigned", decision, assignment_id)


def _set_pointer(pool_key: str, rep_id: int, moment: dt.datetime) -> None:
    PoolPointer.insert(pool_key=pool_key, rep=rep_id, last_assigned_at=moment).on_conflict(
        conflict_target=[PoolPointer.pool_key, PoolPointer.rep],
        update={PoolPointer.last_assigned_at: moment},
    ).execute()


def _timeline(lead_id: int, decision: router.Decision, summary: str, rule, now: dt.datetime) -> None:
    """The decision and its trace on the lead's timeline (kind "routing")."""
    via = f"{VIA}: rule {rule.name!r}" if rule else VIA
    LeadHistory.insert(
        lead=lead_id,
        kind=ROUTING_KIND,
        old_value=None,
        new_value=summary[:100],
        actor=None,
        via=via[:200],
        note="\n".join(decision.trace),
        created_at=now,
    ).execute()


def trace_text(decision: router.Decision) -> str:
    """The decision's trace as lines of text."""
    return "\n".join(decision.trace)


# --- Notifications and email ------------------------------------------------------


def _notify_assigned(lead: Lead, rep: User, due: dt.datetime | None, by: str) -> None:
    """Tell ``rep`` the lead is theirs and what gave it to them (``by``: the
    rule, or the manager), in the app and by email."""
    text = (
        f"Lead assigned to you: {lead.name}" + (f" ({lead.company})" if lead.company else "") + f", by {by}"
    )
    Notification.insert(
        user=rep.id, kind=ASSIGNED_TO_YOU, lead=lead.id, text=text[:300], created_at=utcnow()
    ).execute()
    limit = f"\nPlease accept or decline it before {due:%Y-%m-%d %H:%M} UTC." if due else ""
    link = public_url("lead_page.show", lead_id=lead.id)
    link = f"\n\nOpen it: {link}" if link else ""
    queue_email(
        rep.email,
        f"Lead assigned to you: {lead.name}",
        f"Hello {rep.name},\n\nThe lead {lead.name} ({lead.topic}) is now yours.{limit}{link}\n",
    )


def notify_owners_sales_ready(lead: Lead, facts) -> int:
    """R2: tell the relationship owners (contact's, account's) that their lead
    became sales-ready; once per lead and owner. Returns how many were told."""
    owners = router.owner_ids(facts)
    if not owners:
        return 0
    active = {
        user_id
        for (user_id,) in User.select(User.id)
        .where(User.id.in_(owners) & (User.is_active == True))  # noqa: E712
        .tuples()
    }
    told = [owner for owner in owners if owner in active]
    for owner in told:
        text = f"Your lead became sales-ready: {lead.name}"
        notify(owner, OWNER_SALES_READY, text, lead.id, key=f"sales-ready:{lead.id}:{owner}")
    return len(told)


# --- Accept, decline, by hand -----------------------------------------------------


def _live(lead_id: int):
    return Assignment.select().where((Assignment.lead == lead_id) & Assignment.ended_at.is_null())


def _end_live(lead_id: int, reason: str, now: dt.datetime, declined: bool = False) -> int | None:
    """End the lead's live assignment (if any); returns its id."""
    live = _live(lead_id).first()
    if live is None:
        return None
    values = {Assignment.ended_at: now, Assignment.end_reason: reason[:300]}
    if declined:
        values[Assignment.declined_at] = now
    Assignment.update(values).where(Assignment.id == live.id).execute()
    return live.id


def reroute_later(lead_id: int, round_id) -> None:
    """After commit, enqueue a forced routing of the lead, excluding who declined it."""
    on_commit(
        lambda: enqueue(
            "routing.jobs.route_lead",
            lead_id,
            True,
            job_id=f"reroute-{lead_id}-{round_id}",
            timeout=60,
            queue=ROUTING,
        )
    )


def route_later(lead: Lead) -> None:
    """R1: after commit, enqueue the lead's routing (its relationship owners are
    told first, R2). The job id is the lead's state: the same change enqueued
    twice is one job, a later change a new one."""
    stamp = int(lead.updated_at.timestamp() * 1e6)
    on_commit(
        lambda: enqueue(
            "routing.jobs.route_lead", lead.id, job_id=f"route-{lead.id}-{stamp}", timeout=60, queue=ROUTING
        )
    )


def record_manual(lead: Lead, manager: User, now: dt.datetime | None = None) -> int:
    """R3/P6: a manager gave the lead to a rep by hand: end the live assignment,
    store the new one, move the rep to the back of the line of every pool the
    lead could have come from (manual assignments count) and notify the rep."""
    now = now or utcnow()
    rep = User.get_by_id(lead.owner_id)
    with transaction():
        _end_live(lead.id, END_REASSIGNED, now)
        assignment = Assignment.create(
            lead=lead.id,
            rep=rep.id,
            assigned_by=manager.id if manager else None,
            decision={"manual": True, "by": manager.id if manager else None},
            reason=MANUAL,
            created_at=now,
        )
        for key in pool_keys_for(lead, rep):
            _set_pointer(key, rep.id, now)
        _notify_assigned(lead, rep, None, manager.name if manager else "a manager")
    return assignment.id


def pool_keys_for(lead: Lead, rep: User) -> list[str]:
    """The round-robin pools that could have handed ``lead`` to ``rep``."""
    keys = [router.EVERYONE]
    if rep.team_id:
        keys.append(f"team:{rep.team_id}")
    line = lead.product_line_id
    if (
        line
        and RepProductLine.select()
        .where((RepProductLine.rep == rep.id) & (RepProductLine.product_line == line))
        .exists()
    ):
        keys.append(f"product_line:{line}")
        if rep.team_id:
            keys.append(f"product_line:{line}:team:{rep.team_id}")
    return keys


def after_action(action: str, lead: Lead, user: User | None, note: str | None = None) -> None:
    """Keep assignments in step with a stage action, whatever its door (page,
    queue button, API, the scoring job): accept, decline (re-route without the
    rep), assign by hand, the lead leaving the sales queue, or a lead that now
    waits for a rep (R1: routed after commit). Runs in the action's transaction."""
    now = utcnow()
    if action == "sales_accept":
        Assignment.update(accepted_at=now).where(
            (Assignment.lead == lead.id) & Assignment.ended_at.is_null() & (Assignment.rep == lead.owner_id)
        ).execute()
    elif action == "assign" and lead.owner_id:
        record_manual(lead, user, now)
    elif action == "decline":
        ended = _end_live(lead.id, f"{END_DECLINED}: {note}" if note else END_DECLINED, now, True)
        reroute_later(lead.id, ended or int(now.timestamp() * 1e6))
    elif lead.owner_id is None:
        _end_live(lead.id, END_LEFT, now)  # e.g. moved back out of Sales acceptance
        if is_routable(lead):
            route_later(lead)


# --- Overdue acceptance -----------------------------------------------------------


def unrouted(now: dt.datetime, grace: dt.timedelta = dt.timedelta(seconds=10), limit: int = 1000):
    """R1/O2: leads that wait for a rep with no routing decision since they last
    changed (their job was lost with Redis, or held by a killed worker): open,
    sales-ready, in stage 5, unassigned, changed more than ``grace`` ago."""
    decided = Assignment.select(Assignment.id).where(
        (Assignment.lead == Lead.id) & (Assignment.created_at >= Lead.updated_at)
    )
    return (
        Lead.select(Lead.id, Lead.updated_at)
        .where(
            (Lead.status == lifecycle.OPEN)
            & (Lead.stage == lifecycle.SALES_ACCEPTANCE)
            & (Lead.sales_ready == True)  # noqa: E712
            & Lead.owner.is_null()
            & (Lead.updated_at <= now - grace)
            & ~pw.fn.EXISTS(decided)
        )
        .order_by(Lead.updated_at)
        .limit(limit)
    )


def overdue(now: dt.datetime):
    """Live assignments past their time limit, not accepted."""
    return (
        Assignment.select(Assignment.id, Assignment.lead, Assignment.rep)
        .where(
            Assignment.ended_at.is_null()
            & Assignment.accepted_at.is_null()
            & Assignment.due_at.is_null(False)
            & (Assignment.due_at <= now)
        )
        .order_by(Assignment.due_at)
    )


def take_back_overdue(assignment_id: int, now: dt.datetime) -> bool:
    """R6: a lead not accepted in time leaves its rep (as the system) and waits
    for a new routing; True when it was taken back."""
    with transaction():
        row = Assignment.get_or_none(Assignment.id == assignment_id)
        if row is None or row.ended_at is not None or row.accepted_at is not None:
            return False
        lead = Lead.get_by_id(row.lead_id)
        Assignment.update(ended_at=now, end_reason=END_OVERDUE).where(Assignment.id == row.id).execute()
        _notify_taken_back(lead, row)
        if lead.owner_id == row.rep_id and lead.status == lifecycle.OPEN and not lead.sales_accepted:
            perform_steps(
                lead,
                [("decline", {})],
                None,
                via=f"{VIA}: {END_OVERDUE}",
                note="Not accepted in time",
                follow_ups=False,
            )
    return True


def _notify_taken_back(lead: Lead, row: Assignment) -> None:
    """R6: tell the rep the lead left them for want of an accept; once per
    assignment (its key), however many sweeps see it."""
    if row.rep_id is None:
        return
    hours = accept_within_hours(row)
    limit = f"{hours} hour{'' if hours == 1 else 's'}"
    text = f"{lead.name} was given to another rep: not accepted within {limit}"
    notify(row.rep_id, TAKEN_BACK, text, lead.id, key=f"taken-back:{row.id}")


def accept_within_hours(row: Assignment) -> int:
    """The time limit the assignment had, in whole hours: its rule's, else its own span."""
    if row.rule_id:
        hours = (
            AssignmentRule.select(AssignmentRule.accept_within_hours)
            .where(AssignmentRule.id == row.rule_id)
            .scalar()
        )
        if hours:
            return hours
    return max(1, round((row.due_at - row.created_at).total_seconds() / 3600))


def last_reasons(lead_ids) -> dict[int, str]:
    """The reason code of each lead's latest routing decision that found nobody
    (for the unassigned queue); one query."""
    ids = sorted(set(lead_ids))
    if not ids:
        return {}
    found: dict[int, str] = {}
    query = (
        Assignment.select(Assignment.lead, Assignment.reason)
        .where(Assignment.lead.in_(ids) & Assignment.rep.is_null())
        .order_by(Assignment.created_at, Assignment.id)
    )
    for lead_id, reason in query.tuples():
        found[lead_id] = reason
    return found
