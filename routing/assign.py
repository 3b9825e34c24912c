"""Routing stored leads (R1–R6): load the rules, the reps and their loads and
pointers, call the pure ``routing.router.route``, store the answer.

One routing is one transaction: the live ``Assignment`` row, the owner (the
lifecycle's "assign", as the system, conditional on the lead still having no
owner), the round-robin pointer, the decision's trace on the lead's timeline
and the rep's notification and email. Exactly one assignment per lead, even
with several workers: the database refuses a second live assignment (partial
unique index) and the owner is only set where it is still NULL; either conflict
rolls that lead's routing back. Decisions that may read the same reps are
taken one at a time (``_routing_transaction``: a lock per rep in play, so one
pool's decisions take turns while other pools' go on beside them): round robin
and capacity read the pointers and loads that the previous decision wrote, so
two workers never hand the same "next" rep two leads, nor a rep more than
their capacity. A job decides a batch of waiting leads under one lock take
(``Batch``), each decision seeing what the previous one left.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import threading
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import peewee as pw
from flask import current_app

from auth.models import REP, User
from leads.base.db import db, is_sqlite, on_commit, transaction, utcnow
from leads.base.queue import ROUTING, enqueue, get_redis
from leads.base.urls import public_url
from leads.core import lifecycle
from leads.core.lifecycle import TransitionError
from leads.notify.models import Notification
from leads.notify.services import notify, queue_email, queue_emails
from leads.records.models import Lead, LeadHistory
from leads.scoring.facts import load_facts
from leads.scoring.models import LeadScore
from leads.stages.services import perform, perform_each, perform_steps
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
DECIDED = ("assigned", "unassigned")  # outcomes that stored a decision
LOCK_NAMESPACE = 7007  # PostgreSQL advisory locks (7007, rep id): see ``_routing_transaction``
LOCK_REPS_MAX = 50  # more reps in play than this: one install-wide lock instead
LOCK_WAIT_SECONDS = 10
BATCH_SIZE = 50  # leads a routing job may decide under one lock take

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

    def bare(self) -> list[router.Rep]:
        """Every sales rep without loads or pointers: enough to tell who is in
        which pool (``router.reps_in_play``), before the lock."""
        return [self._rep(user, 0, {}) for user in self.users.values()]

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
    return excluded_by_lead([lead_id]).get(lead_id, set())


def excluded_by_lead(lead_ids) -> dict[int, set[int]]:
    """``excluded_reps`` of each lead of ``lead_ids``, in one query."""
    found: dict[int, set[int]] = defaultdict(set)
    query = Assignment.select(Assignment.lead, Assignment.rep).where(
        Assignment.lead.in_(list(lead_ids))
        & Assignment.rep.is_null(False)
        & (Assignment.declined_at.is_null(False) | (Assignment.end_reason == END_OVERDUE))
    )
    for lead_id, rep_id in query.tuples():
        found[lead_id].add(rep_id)
    return found


def lead_facts(lead_id: int):
    """The lead's facts with its scores as ``score:<model id>`` lead fields."""
    return facts_of([lead_id]).get(lead_id)


def facts_of(lead_ids) -> dict[int, object]:
    """``lead_facts`` of each existing lead of ``lead_ids``, in a few queries."""
    ids = list(lead_ids)
    facts = load_facts(ids)
    scores: dict[int, dict] = defaultdict(dict)
    query = LeadScore.select(LeadScore.lead, LeadScore.model, LeadScore.score).where(LeadScore.lead.in_(ids))
    for lead_id, model_id, score in query.tuples():
        scores[lead_id][model_id] = score
    return {lead_id: router.with_scores(found, scores.get(lead_id, {})) for lead_id, found in facts.items()}


@dataclass
class Outcome:
    """What one routing did: ``status`` is assigned, unassigned or skipped/conflict."""

    status: str
    decision: router.Decision | None = None
    assignment_id: int | None = None


@dataclass
class Batch:
    """The leads one routing decides under one lock take, and what they read
    that no routing changes (their facts, the rules, the reps' settings, who
    declined them), loaded before the lock.

    The job's lead comes first, then up to ``size`` − 1 other leads waiting for
    a rep (oldest first, of the same product line) whose reps in play
    (``router.reps_in_play``) are among the first lead's: locking those reps
    covers every decision of the batch. ``reps`` are the reps to lock; ``read``
    each lead as it was when its facts were read."""

    lead_id: int
    rules: list[tuple[AssignmentRule, router.Rule]]
    book: RepBook
    read: dict[int, Lead]
    facts: dict[int, object]
    excluded: dict[int, set[int]]
    reps: frozenset[int]

    @classmethod
    def load(cls, lead: Lead, size: int = 1, others: list[Lead] | None = None) -> Batch | None:
        """The batch led by ``lead``, its mates among ``others`` (None: read
        here); None when the lead is gone."""
        if others is None:
            others = waiting_beside(lead, 2 * (size - 1)) if size > 1 else []
        read = {lead.id: lead, **{other.id: other for other in others}}
        facts = facts_of(read)
        if lead.id not in facts:
            return None
        rules, book = load_rules(), RepBook.load()
        plain, bare = [rule for _row, rule in rules], book.bare()
        reps = router.reps_in_play(plain, facts[lead.id], bare)
        chosen = [lead.id]
        for other in others:
            if len(chosen) >= size:
                break
            if other.id in facts and router.reps_in_play(plain, facts[other.id], bare) <= reps:
                chosen.append(other.id)
        return cls(
            lead.id,
            rules,
            book,
            {lead_id: read[lead_id] for lead_id in chosen},
            {lead_id: facts[lead_id] for lead_id in chosen},
            excluded_by_lead(chosen),
            reps,
        )

    def decide(self, lead_id: int, reps, now: dt.datetime) -> router.Decision:
        """The router's decision for one lead of the batch among ``reps``."""
        rules = [rule for _row, rule in self.rules]
        return router.route(rules, self.facts[lead_id], reps, now, self.excluded.get(lead_id, ()))

    def route(self, force: bool, now: dt.datetime | None) -> dict[int, Outcome] | None:
        """Under the lock: decide and store each lead of the batch that still
        waits for a rep with no decision since it last changed (the first one
        also when ``force``), one after the other, each seeing the loads and
        pointers the previous ones left. None (nothing stored) when the first
        lead changed since its facts were read: the caller reads it again."""
        fresh = _lock_leads(self.lead_id, [lead_id for lead_id in self.read if lead_id != self.lead_id])
        first = fresh.get(self.lead_id)
        if first is not None and first.updated_at != self.read[self.lead_id].updated_at:
            return None
        decided = _decided_since_change_of(fresh.values())
        todo = [
            fresh[lead_id]
            for lead_id, seen in self.read.items()
            if is_routable(fresh.get(lead_id))
            and fresh[lead_id].updated_at == seen.updated_at  # else another's: its own job routes it
            and not (lead_id in decided and not (lead_id == self.lead_id and force))
        ]
        outcomes = {lead_id: Outcome("skipped") for lead_id in self.read}
        try:
            with db.atomic():  # the batch's writes together; any conflict: lead by lead
                outcomes.update(self._store_together(todo, now))
        except (TransitionError, pw.IntegrityError):
            outcomes.update(self._store_one_by_one(todo, now))
        return outcomes

    def _store_together(self, todo: list[Lead], now: dt.datetime | None) -> dict[int, Outcome]:
        """Decide every lead of ``todo`` in turn (each seeing the loads and
        pointers the previous decisions left), then store them all in a few
        statements: the assignments in one insert, the owners through
        ``perform_each`` (one conditional UPDATE per rep), the pointers,
        notifications, emails and timeline rows in one insert each."""
        reps = {rep.id: rep for rep in self.book.reps()}
        moment = now or utcnow()
        writes, outcomes, rows, owners = _Writes(), {}, [], []
        for lead in todo:
            decision = self.decide(lead.id, reps.values(), moment)
            row, rule = _assignment_row(lead, decision, self, moment)
            rows.append(row)
            if decision.assigned:
                owners.append((lead, {"owner_id": decision.rep_id}))
                reps[decision.rep_id] = _took(reps[decision.rep_id], decision)
            outcomes[lead.id] = _noted(lead, decision, self, rule, row["due_at"], moment, writes)
        if rows:
            Assignment.insert_many(rows).execute()  # a second live one: IntegrityError
        if owners:
            perform_each(owners, "assign", None, via=VIA)
        writes.flush()
        return outcomes

    def _store_one_by_one(self, todo: list[Lead], now: dt.datetime | None) -> dict[int, Outcome]:
        """``_store_together`` lead by lead, each in its own savepoint: a
        conflict (a live assignment or an owner that appeared meanwhile, by
        hand) rolls back that lead's routing only."""
        reps = {rep.id: rep for rep in self.book.reps()}
        writes, outcomes = _Writes(), {}
        for lead in todo:
            moment = now or utcnow()
            decision = self.decide(lead.id, reps.values(), moment)
            try:
                with db.atomic():
                    outcomes[lead.id] = _store(lead, decision, self, moment, writes)
            except (TransitionError, pw.IntegrityError):
                outcomes[lead.id] = Outcome("conflict")
                continue
            if decision.assigned:
                reps[decision.rep_id] = _took(reps[decision.rep_id], decision)
        writes.flush()
        return outcomes


def _took(rep: router.Rep, decision: router.Decision) -> router.Rep:
    """The rep as the next decision of a batch must see them: one more open
    lead and, from a pool, their new pointer (what ``book.reps()`` would read)."""
    pointers = dict(rep.last_assigned_at)
    if decision.pool_key and decision.pointer_at:
        pointers[decision.pool_key] = decision.pointer_at
    return replace(rep, open_leads=rep.open_leads + 1, last_assigned_at=pointers)


def decide(lead_id: int, now: dt.datetime | None = None) -> router.Decision | None:
    """The decision the current rules would take for the lead, storing nothing
    ("test this rule set on a lead"); None when there is no such lead."""
    lead = Lead.get_or_none(Lead.id == lead_id)
    batch = None if lead is None else Batch.load(lead)
    return None if batch is None else batch.decide(lead_id, batch.book.reps(), now or utcnow())


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


def _waiting(condition=None):
    """Leads that wait for a rep with no routing decision since they last changed."""
    decided = Assignment.select(Assignment.id).where(
        (Assignment.lead == Lead.id) & (Assignment.created_at >= Lead.updated_at)
    )
    waits = (
        (Lead.status == lifecycle.OPEN)
        & (Lead.stage == lifecycle.SALES_ACCEPTANCE)
        & (Lead.sales_ready == True)  # noqa: E712
        & Lead.owner.is_null()
        & ~pw.fn.EXISTS(decided)
    )
    return waits if condition is None else waits & condition


def waiting_beside(lead: Lead, limit: int) -> list[Lead]:
    """Up to ``limit`` other leads of ``lead``'s product line that wait for a
    rep with no decision since they last changed, oldest change first."""
    return waiting_in_line(lead.product_line_id, limit, {lead.id})


def waiting_in_line(line_id: int | None, limit: int, besides=()) -> list[Lead]:
    """Up to ``limit`` leads of product line ``line_id`` (None: of none), not
    of ``besides``, that wait for a rep with no decision since they last
    changed, oldest change first."""
    same_line = Lead.product_line.is_null() if line_id is None else (Lead.product_line == line_id)
    if besides:
        same_line &= Lead.id.not_in(list(besides))
    query = Lead.select().where(_waiting(same_line))
    return list(query.order_by(Lead.updated_at, Lead.id).limit(limit))


@contextmanager
def _routing_transaction(reps: frozenset[int] = frozenset()):
    """A write transaction holding the routing locks of ``reps``.

    PostgreSQL: an advisory lock per rep, ``(LOCK_NAMESPACE, rep id)``, taken
    in id order in one statement and released at commit: routings whose reps
    in play do not meet (other pools) run side by side; those that share a rep
    (the same pool, or overlapping pools and that rep's capacity) take turns.
    Every routing also holds ``(LOCK_NAMESPACE, 0)`` shared; one with more
    than ``LOCK_REPS_MAX`` reps (a pool of every rep) takes it exclusively
    instead of locking its reps one by one. SQLite serialises writers anyway:
    one exclusive ``flock`` on a file next to the database, taken before the
    IMMEDIATE transaction (a waiting worker wakes the moment the lock is free,
    where SQLite's busy handler would sleep up to 100 ms between tries).

    The wait is bounded (``LOCK_WAIT_SECONDS``, O2): behind a frozen worker a
    routing job fails with ``RoutingBusy`` and is retried later (RQ's retries,
    then the sweeper), instead of every worker waiting on the lock for good."""
    if not is_sqlite():
        with transaction():
            with _lock_waits():
                _lock_reps(reps)
            yield
        return
    with _flock_within(f"{db.obj.database}.routing-lock", LOCK_WAIT_SECONDS) as handle:
        try:
            with transaction():
                yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _lock_waits():
    """A lock wait past ``lock_timeout`` (or a deadlock) is ``RoutingBusy``
    (no savepoint: the error ends the routing transaction anyway)."""
    try:
        yield
    except pw.OperationalError as error:
        raise RoutingBusy("another worker holds the routing lock") from error


def _lock_reps(reps: frozenset[int]) -> None:
    """The locks of ``reps``, the wait bounded by ``LOCK_WAIT_SECONDS`` (set
    first, in the same statement as the install-wide lock: one round trip)."""
    timeout = f"{int(LOCK_WAIT_SECONDS * 1000)}ms"
    whole = "pg_advisory_xact_lock" if len(reps) > LOCK_REPS_MAX else "pg_advisory_xact_lock_shared"
    db.execute_sql(
        f"SELECT {whole}(%s, 0) FROM (SELECT set_config('lock_timeout', %s, true)) AS bounded",
        (LOCK_NAMESPACE, timeout),
    )
    if len(reps) > LOCK_REPS_MAX:
        return
    if reps:
        db.execute_sql(
            "SELECT pg_advisory_xact_lock(%s, rep) FROM unnest(%s::int[]) AS rep",
            (LOCK_NAMESPACE, sorted(reps)),
        )


def _lock_leads(lead_id: int, others: list[int]) -> dict[int, Lead]:
    """The batch's leads read again under the lock. PostgreSQL also locks their
    rows (one decision per lead at a time, even for leads no rep lock covers):
    the job's own lead waiting for it (bounded), the others only when free
    (``SKIP LOCKED``: a lead another worker is deciding is left to it)."""
    own = Lead.select().where(Lead.id == lead_id)
    mates = Lead.select().where(Lead.id.in_(others)).order_by(Lead.id)
    if is_sqlite():
        rows = list(own) + (list(mates) if others else [])
    else:
        with _lock_waits():
            rows = list(own.for_update("FOR NO KEY UPDATE"))
        if others:
            rows += list(mates.for_update("FOR NO KEY UPDATE", skip_locked=True))
    return {row.id: row for row in rows}


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


def _decided_since_change_of(leads) -> set[int]:
    """Which of ``leads`` (read under the lock) have a decision since they last changed."""
    changed = {lead.id: lead.updated_at for lead in leads}
    if not changed:
        return set()
    query = Assignment.select(Assignment.lead, pw.fn.MAX(Assignment.created_at)).where(
        Assignment.lead.in_(list(changed))
    )
    return {
        lead_id
        for lead_id, latest in query.group_by(Assignment.lead).tuples()
        if latest is not None and _as_datetime(latest) >= changed[lead_id]
    }


def _as_datetime(value) -> dt.datetime:
    """A MAX() of a datetime column (SQLite answers it as text)."""
    return value if isinstance(value, dt.datetime) else Assignment.created_at.python_value(value)


def route_lead(
    lead_id: int,
    force: bool = False,
    now: dt.datetime | None = None,
    notify_owners: bool = False,
    batch: int = 1,
) -> Outcome:
    """R1: route one lead and store the decision; safe to run twice and from
    several workers at once. ``force`` routes again a lead whose last decision
    found nobody (managers' "Re-run routing", a decline, a time-out);
    ``notify_owners`` first tells its relationship owners it is sales-ready
    (R2). With ``batch`` > 1 the same lock take also routes up to ``batch`` − 1
    other leads waiting for a rep among the same reps (``Batch``): their own
    jobs, coming later, find nothing left to do."""
    return route_batch(lead_id, force, now, notify_owners, batch).get(lead_id, Outcome("skipped"))


def route_batch(
    lead_id: int,
    force: bool = False,
    now: dt.datetime | None = None,
    notify_owners: bool = False,
    batch: int = 1,
    waiting: list[Lead] | None = None,
) -> dict[int, Outcome]:
    """``route_lead``, answering what happened to each lead of the batch.
    ``waiting``: the leads waiting for a rep, just read (``waiting_in_line``),
    led by this one: its state and the batch's candidates are not read again."""
    for attempt in range(3):
        if attempt == 0 and waiting and waiting[0].id == lead_id and not force:
            lead, others = waiting[0], waiting[1:]
        else:
            lead, others = Lead.get_or_none(Lead.id == lead_id), None
            if not is_routable(lead) or (not force and _decided_since_change(lead)):
                return {lead_id: Outcome("skipped")}
        work = Batch.load(lead, batch, others)  # outside the lock: nothing routing writes
        if work is None:
            return {lead_id: Outcome("skipped")}
        if notify_owners:
            for other in work.read.values():
                notify_owners_sales_ready(other, work.facts[other.id])
            notify_owners = False
        with _routing_transaction(work.reps):
            outcomes = work.route(force, now)
        if outcomes is not None:
            return outcomes
    return {lead_id: Outcome("conflict")}  # the lead kept changing under us: its next change routes it


def route_more(lead_id: int, seconds: float, notify_owners: bool = False) -> int:
    """After a full batch: more batches of the leads still waiting beside
    ``lead_id`` (its product line), one lock take each, while some wait, for
    at most ``seconds``; returns how many leads were decided. A burst of
    sales-ready leads is then routed at the pace of the decisions, not of the
    queue handing out their jobs one by one (those jobs then find nothing to
    do). A busy lock ends it: those leads' own jobs route them."""
    lead = Lead.get_or_none(Lead.id == lead_id)
    decided, until = 0, time.monotonic() + seconds
    while lead is not None and time.monotonic() < until:
        waiting = waiting_beside(lead, 1)
        if not waiting:
            break
        try:
            outcomes = route_batch(waiting[0].id, notify_owners=notify_owners, batch=BATCH_SIZE)
        except RoutingBusy:
            break
        done = sum(outcome.status != "skipped" for outcome in outcomes.values())
        decided += done
        if not done:
            break  # another worker has them
    return decided


def route_line(line_id: int | None, seconds: float, notify_owners: bool = True) -> tuple[int, bool]:
    """R1: route the leads of product line ``line_id`` (None: of no line) that
    wait for a rep, oldest first, a batch of up to ``BATCH_SIZE`` under one
    lock take, for at most ``seconds``; returns (how many were decided, whether
    some still wait). A lead that could not be decided (a conflict) is tried
    once per call. ``RoutingBusy`` (a frozen lock holder) goes to the caller."""
    decided, tried, until = 0, set(), time.monotonic() + seconds
    while True:
        waiting = waiting_in_line(line_id, 2 * BATCH_SIZE - 1, tried)
        if not waiting:
            return decided, False
        if time.monotonic() >= until:
            return decided, True
        first = waiting[0].id
        outcomes = route_batch(first, notify_owners=notify_owners, batch=BATCH_SIZE, waiting=waiting)
        done = {lead_id for lead_id, outcome in outcomes.items() if outcome.status in DECIDED}
        tried.update(lead_id for lead_id in [first, *outcomes] if lead_id not in done)
        decided += len(done)


def _assignment_row(lead: Lead, decision: router.Decision, batch: Batch, now: dt.datetime):
    """The ``Assignment`` row of a decision, and its rule's row."""
    rule = next((row for row, _rule in batch.rules if row.id == decision.rule_id), None)
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
    return values, rule


def _noted(lead, decision, batch: Batch, rule, due, now: dt.datetime, writes: _Writes) -> Outcome:
    """What a stored decision adds besides its assignment and owner (``_Writes``)."""
    rep = batch.book.users.get(decision.rep_id)
    if decision.assigned:
        if decision.pool_key and decision.pointer_at:
            writes.pointers[(decision.pool_key, decision.rep_id)] = decision.pointer_at
        writes.assigned(lead, rep, due, f"the rule “{rule.name}”" if rule else "the assignment rules")
    summary = f"assigned to {rep.name}" if rep else router.REASONS.get(decision.reason, decision.reason)
    writes.timeline.append(_timeline_row(lead.id, decision, summary, rule, now))
    return Outcome("assigned" if decision.assigned else "unassigned", decision)


def _store(lead: Lead, decision: router.Decision, batch: Batch, now: dt.datetime, writes: _Writes) -> Outcome:
    values, rule = _assignment_row(lead, decision, batch, now)
    assignment_id = Assignment.insert(**values).execute()  # a second live one: IntegrityError
    if decision.assigned:
        perform(lead, "assign", None, via=VIA, follow_ups=False, owner_id=decision.rep_id)
    outcome = _noted(lead, decision, batch, rule, values["due_at"], now, writes)
    outcome.assignment_id = assignment_id
    return outcome


@dataclass
class _Writes:
    """What a batch's decisions add besides the assignment and the owner,
    written once after the last one: each rep's latest pointer per pool, the
    reps' notifications and emails, the decisions on the leads' timelines."""

    pointers: dict[tuple[str, int], dt.datetime] = field(default_factory=dict)
    notifications: list[dict] = field(default_factory=list)
    emails: list[tuple[str, str, str]] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)

    def assigned(self, lead: Lead, rep: User, due: dt.datetime | None, by: str) -> None:
        notification, email = _assigned_messages(lead, rep, due, by)
        self.notifications.append(notification)
        self.emails.append(email)

    def flush(self) -> None:
        if self.pointers:
            rows = [
                {"pool_key": key, "rep": rep_id, "last_assigned_at": moment}
                for (key, rep_id), moment in sorted(self.pointers.items())
            ]
            PoolPointer.insert_many(rows).on_conflict(
                conflict_target=[PoolPointer.pool_key, PoolPointer.rep],
                preserve=[PoolPointer.last_assigned_at],
            ).execute()
        if self.notifications:
            Notification.insert_many(self.notifications).execute()
        if self.emails:
            queue_emails(self.emails)
        if self.timeline:
            LeadHistory.insert_many(self.timeline).execute()


def _set_pointer(pool_key: str, rep_id: int, moment: dt.datetime) -> None:
    PoolPointer.insert(pool_key=pool_key, rep=rep_id, last_assigned_at=moment).on_conflict(
        conflict_target=[PoolPointer.pool_key, PoolPointer.rep],
        update={PoolPointer.last_assigned_at: moment},
    ).execute()


def _timeline_row(lead_id: int, decision: router.Decision, summary: str, rule, now: dt.datetime) -> dict:
    """The decision and its trace on the lead's timeline (kind "routing")."""
    via = f"{VIA}: rule {rule.name!r}" if rule else VIA
    return dict(
        lead=lead_id,
        kind=ROUTING_KIND,
        old_value=None,
        new_value=summary[:100],
        actor=None,
        via=via[:200],
        note="\n".join(decision.trace),
        created_at=now,
    )


def trace_text(decision: router.Decision) -> str:
    """The decision's trace as lines of text."""
    return "\n".join(decision.trace)


# --- Notifications and email ------------------------------------------------------


def _assigned_messages(
    lead: Lead, rep: User, due: dt.datetime | None, by: str
) -> tuple[dict, tuple[str, str, str]]:
    """The rep's in-app notification (a row) and email (to, subject, body) for a
    lead now theirs, saying what gave it to them (``by``: the rule, or the manager)."""
    text = (
        f"Lead assigned to you: {lead.name}" + (f" ({lead.company})" if lead.company else "") + f", by {by}"
    )
    notification = dict(user=rep.id, kind=ASSIGNED_TO_YOU, lead=lead.id, text=text[:300], created_at=utcnow())
    limit = f"\nPlease accept or decline it before {due:%Y-%m-%d %H:%M} UTC." if due else ""
    link = public_url("lead_page.show", lead_id=lead.id)
    link = f"\n\nOpen it: {link}" if link else ""
    email = (
        rep.email,
        f"Lead assigned to you: {lead.name}",
        f"Hello {rep.name},\n\nThe lead {lead.name} ({lead.topic}) is now yours.{limit}{link}\n",
    )
    return notification, email


def _notify_assigned(lead: Lead, rep: User, due: dt.datetime | None, by: str) -> None:
    notification, email = _assigned_messages(lead, rep, due, by)
    Notification.insert(**notification).execute()
    queue_email(*email)


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


WANTED_SECONDS = 10  # how long "a routing job of this product line is queued" holds (``route_later``)


def route_later(lead: Lead) -> None:
    """R1: after commit, have the lead routed (its relationship owners told
    first, R2) by a job for its product line's waiting leads, enqueued only
    when none is queued yet (``want_routing``): a burst of sales-ready leads is
    one job per product line, not one per lead."""
    line = lead.product_line_id
    on_commit(lambda: want_routing(line))


def _wanted_key(line_id: int | None) -> str:
    prefix = current_app.config.get("QUEUE_PREFIX", "leadflow")
    return f"{prefix}:routing-wanted:{line_id or 0}"


def want_routing(line_id: int | None) -> bool:
    """Enqueue ``routing.jobs.route_waiting(line_id)`` unless one is already
    queued for the line (a Redis key set with NX, cleared by the job as it
    starts, so a lead arriving later enqueues again); True when enqueued.

    Self-healing: the key lapses by itself after ``WANTED_SECONDS`` (a job lost
    with a killed worker before it started holds no line for long), an emptied
    Redis has no key, and the sweeper calls ``route_later`` for every lead left
    waiting with no decision (O2)."""
    connection = get_redis()
    key = _wanted_key(line_id)
    if not connection.set(key, "1", nx=True, ex=WANTED_SECONDS):
        return False
    try:
        enqueue(
            "routing.jobs.route_waiting",
            line_id,
            job_id=f"route-line-{line_id or 0}-{uuid.uuid4().hex[:12]}",
            timeout=120,
            queue=ROUTING,
        )
    except Exception:
        connection.delete(key)  # best effort: the next lead, or the sweeper, tries again
        raise
    return True


def routing_taken(line_id: int | None) -> None:
    """A line's routing job starts: leads that arrive from now on enqueue a new one."""
    get_redis().delete(_wanted_key(line_id))


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
    return (  # the product line too: ``route_later`` enqueues its line's job
        Lead.select(Lead.id, Lead.updated_at, Lead.product_line)
        .where(_waiting(Lead.updated_at <= now - grace))
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
