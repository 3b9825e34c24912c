"""Stage actions on stored leads (P1–P8): load the state, call
``leads.core.lifecycle``, store the answer and its history in one transaction,
and tell the follow-ups (``action_done``, ``lead_created``) inside it.

Every door (the lead page, a queue button, the API, a job, the demo) applies an
action through ``perform`` or ``perform_steps``, so routing's bookkeeping,
notifications and webhooks follow whatever the door (O1)."""

from __future__ import annotations

from contextlib import nullcontext

from auth.models import REP, User
from leads.base import signals
from leads.base.db import db, transaction, utcnow
from leads.core import lifecycle
from leads.core.lifecycle import Actor, TransitionError
from leads.records.models import Lead, LeadHistory
from leads.records.queries import unclaimed_leads

# How many times "Next lead" tries again when someone else claimed the lead it
# picked; each miss means another claim succeeded, so this is never reached
# unless that many people press at the same instant.
CLAIM_ATTEMPTS = 20

_COLUMNS = {
    "stage": Lead.stage,
    "status": Lead.status,
    "status_reason": Lead.status_reason,
    "sales_ready": Lead.sales_ready,
    "ready_for_tp": Lead.ready_for_tp,
    "tp_accepted": Lead.tp_accepted,
    "sales_accepted": Lead.sales_accepted,
    "owner_id": Lead.owner,
    "teleprospector_id": Lead.teleprospector,
    "qualification": Lead.qualification,
}


def actor_for(user: User | None) -> Actor:
    """The lifecycle actor for a user (None: the system)."""
    return lifecycle.SYSTEM_ACTOR if user is None else Actor(user.role, user.id)


def refusal_status(error: TransitionError) -> int:
    """The HTTP status every door answers a refused action with: 403 when the
    lead is another teleprospector's to work (W4), else 409 (its state forbids it)."""
    return 403 if isinstance(error, lifecycle.NotTheClaimer) else 409


def perform(
    lead: Lead,
    action: str,
    user: User | None,
    via: str | None = None,
    note: str | None = None,
    *,
    follow_ups: bool = True,
    **args,
) -> Lead:
    """Apply ``action`` to ``lead`` as ``user`` and store it; returns the fresh lead.

    The write is conditional on the state we read (no lost update when two
    people click at once); ``TransitionError`` says why an action is refused."""
    return perform_steps(
        lead, [(action, args)], user, via=via or action.replace("_", " "), note=note, follow_ups=follow_ups
    )


def perform_steps(
    lead: Lead,
    steps: list[tuple[str, dict]],
    user: User | None,
    via: str | None = None,
    note: str | None = None,
    *,
    follow_ups: bool = True,
) -> Lead:
    """Apply several actions as one (all or nothing, one history event), e.g. the
    teleprospector's findings followed by Sales ready (P5); returns the fresh lead.

    ``action_done`` is sent inside the transaction with the posted (first)
    action; ``follow_ups=False`` only for a follow-up's own bookkeeping (the
    router's assignment, a take-back after a time-out), which is its own."""
    old = lead.state
    new, changes = lifecycle.apply_steps(old, steps, actor_for(user))
    if not changes:
        return lead
    if new.owner_id is not None and new.owner_id != old.owner_id:
        _check_assignee(new.owner_id)
    via = via or steps[0][0].replace("_", " ")
    with transaction():
        _store(lead.id, old, new)
        _record(lead.id, changes, user, via, note)
        fresh = Lead.get_by_id(lead.id)
        if follow_ups:
            signals.action_done.send(
                __name__, lead=fresh, action=steps[0][0], before=old, user=user, note=note, via=via
            )
    return fresh


def perform_each(work: list[tuple[Lead, dict]], action: str, user: User | None, via: str) -> None:
    """``perform`` of one ``action`` on many leads, each with its own arguments
    (e.g. the router's "assign" of a batch, each lead to its rep), without
    follow-ups: the same lifecycle checks, conditional writes and history, in
    a few statements for the lot (the assignees checked in one query; one
    UPDATE per group of leads read in the same state and given the same
    values; the history in one insert). All or nothing inside the caller's
    transaction: ``TransitionError`` when any lead is refused or changed
    meanwhile (inside a transaction no savepoint of its own: the caller rolls
    back to its own, e.g. to go lead by lead)."""
    actor, groups, history = actor_for(user), {}, []
    assignees = set()
    for lead, args in work:
        old = lead.state
        new, changes = lifecycle.apply_steps(old, [(action, args)], actor)
        if not changes:
            continue
        if new.owner_id is not None and new.owner_id != old.owner_id:
            assignees.add(new.owner_id)
        values = tuple(
            (name, getattr(new, name)) for name in _COLUMNS if getattr(old, name) != getattr(new, name)
        )
        guard = (old.stage, old.status, old.status_reason, old.sales_ready, old.sales_accepted)
        guard += (old.owner_id, old.teleprospector_id, new.owner_id != old.owner_id)
        groups.setdefault((guard, repr(values)), (old, new, values, []))[3].append(lead.id)
        history.append((lead.id, changes))
    if assignees:
        found = User.select(User.id).where(
            User.id.in_(sorted(assignees)) & (User.role == REP) & User.is_active
        )
        if len({user_id for (user_id,) in found.tuples()}) != len(assignees):
            raise TransitionError("Choose an active sales rep.")
    now = utcnow()
    with nullcontext() if db.in_transaction() else transaction():  # the caller's savepoint, if any
        for old, new, values, lead_ids in groups.values():
            _store_many(lead_ids, old, new, dict(values), now)
        rows = [
            row
            for lead_id, changes in history
            for row in _history_rows(lead_id, changes, user, via, None, now)
        ]
        if rows:
            LeadHistory.insert_many(rows).execute()


def _store_many(lead_ids: list[int], old, new, values: dict, now) -> None:
    """``_store`` of leads read in the same state ``old``, given the same values."""
    update = {_COLUMNS[name]: value for name, value in values.items()}
    update[Lead.updated_at] = now
    if new.owner_id != old.owner_id:
        update[Lead.assigned_at] = now if new.owner_id else None
    if Lead.update(update).where(Lead.id.in_(lead_ids) & _guard(old)).execute() != len(lead_ids):
        raise TransitionError("Someone else changed this lead meanwhile. Reload and try again.")


def claim_next_lead(user: User, via: str = "next lead") -> Lead | None:
    """W4 "Next lead": accept (P4) the oldest unclaimed stage-3 lead for ``user``,
    which claims it; returns it, or None when no lead is waiting.

    The accept is a conditional update (``WHERE teleprospector IS NULL`` and the
    stage we read), so two people pressing at once never get the same lead: the
    one whose update finds it taken tries the next oldest. ``TransitionError``
    when ``user``'s role may not accept leads at all."""
    refused = lifecycle.refused(
        lifecycle.LeadState(stage=lifecycle.TP_ACCEPTANCE), "tp_accept", actor_for(user)
    )
    if refused:
        raise refused
    for _ in range(CLAIM_ATTEMPTS):
        lead = unclaimed_leads().first()
        if lead is None:
            return None
        try:
            return perform(lead, "tp_accept", user, via=via)
        except TransitionError:
            continue  # claimed by someone else meanwhile
    return None


def _check_assignee(owner_id) -> None:
    rep = User.get_or_none(User.id == owner_id)
    if rep is None or rep.role != REP or not rep.is_active:
        raise TransitionError("Choose an active sales rep.")


def _store(lead_id: int, old: lifecycle.LeadState, new: lifecycle.LeadState) -> None:
    """Write the changed columns, only if the row still holds the state we read."""
    changed = {name: getattr(new, name) for name in _COLUMNS if getattr(old, name) != getattr(new, name)}
    _store_many([lead_id], old, new, changed, utcnow())


def _guard(old: lifecycle.LeadState):
    """The row still holds the state we read."""
    return (
        (Lead.stage == old.stage)
        & (Lead.status == old.status)
        & (Lead.status_reason == old.status_reason)
        & (Lead.sales_ready == old.sales_ready)
        & (Lead.sales_accepted == old.sales_accepted)
        & _same(Lead.owner, old.owner_id)
        & _same(Lead.teleprospector, old.teleprospector_id)
    )


def _same(column, value):
    return column.is_null() if value is None else column == value


# What the timeline shows; the other flags always change together with one of these.
_HISTORY_KINDS = {
    "stage",
    "status",
    "status_reason",
    "sales_ready",
    "sales_accepted",
    "owner_id",
    "teleprospector_id",
    "qualification",
}


def _record(lead_id, changes, user, via, note) -> None:
    rows = _history_rows(lead_id, changes, user, via, note, utcnow())  # one timestamp: one event
    if rows:
        LeadHistory.insert_many(rows).execute()


def _history_rows(lead_id, changes, user, via, note, now) -> list[dict]:
    return [
        {
            "lead": lead_id,
            "kind": change.kind.removesuffix("_id"),
            "old_value": _text(change.old),
            "new_value": _text(change.new),
            "actor": user.id if user else None,
            "via": via,
            "note": note,
            "created_at": now,
        }
        for change in changes
        if change.kind in _HISTORY_KINDS
    ]


def _text(value) -> str | None:
    """A history value as text (booleans as 1/0, long key lists cut to the column)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)[:100]


def record_created(lead: Lead, user: User | None, via: str) -> None:
    """A new lead was stored (any door: the form, the API, a capture, an import,
    a rule): its first history entry (P7) and ``lead_created`` (S4: it is
    scored), in the caller's transaction."""
    LeadHistory.create(
        lead=lead, kind="stage", old_value=None, new_value=str(lead.stage), actor=user, via=via
    )
    signals.lead_created.send(__name__, lead_ids=[lead.id], user=user, via=via)
