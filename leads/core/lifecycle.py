"""The lead's business process (SPEC P1–P8) as pure functions.

``apply(state, action, actor, **args)`` returns the new state and the list of
changes to record, or raises ``TransitionError`` with a message a person can
read. No database, no Flask: the edges load a ``LeadState``, call this and
store the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

INQUIRY = 1
AUTOMATED_QUALIFICATION = 2
TP_ACCEPTANCE = 3
TP_QUALIFICATION = 4
SALES_ACCEPTANCE = 5

STAGES = {
    INQUIRY: "Inquiry",
    AUTOMATED_QUALIFICATION: "Automated marketing qualification",
    TP_ACCEPTANCE: "Teleprospecting acceptance",
    TP_QUALIFICATION: "Teleprospecting qualification",
    SALES_ACCEPTANCE: "Sales acceptance",
}

OPEN = "open"
QUALIFIED = "qualified"
DISQUALIFIED = "disqualified"
STATUSES = {OPEN: "Open", QUALIFIED: "Qualified", DISQUALIFIED: "Disqualified"}

REASON_NEW = "new"
REASON_MARKETING_QUALIFIED = "marketing_qualified"
REASON_TP_ACCEPTED = "tp_accepted"
REASON_SALES_READY = "sales_ready"
REASON_SALES_ACCEPTED = "sales_accepted"
REASON_CONVERTED = "converted"
DISQUALIFY_REASONS = {
    "no_interest": "No longer interested",
    "no_budget": "No budget",
    "cannot_contact": "Cannot contact",
    "competitor": "Went with a competitor",
    "duplicate": "Duplicate",
    "other": "Other",
}
STATUS_REASONS = {
    REASON_NEW: "New",
    REASON_MARKETING_QUALIFIED: "Marketing qualified",
    REASON_TP_ACCEPTED: "Teleprospecting accepted",
    REASON_SALES_READY: "Sales ready",
    REASON_SALES_ACCEPTED: "Sales accepted",
    REASON_CONVERTED: "Converted to opportunity",
    **DISQUALIFY_REASONS,
}

ADMIN, MARKETER, MANAGER, TELEPROSPECTOR, REP, INTEGRATION, SYSTEM = (
    "admin",
    "marketer",
    "manager",
    "teleprospector",
    "rep",
    "integration",
    "system",
)
# Roles that may steer any open lead by hand (P1 manual moves, P2, P3).
STEERING = {ADMIN, MARKETER, MANAGER, INTEGRATION}


class TransitionError(ValueError):
    """An action that the lead's current state or the actor's role forbids."""


class NotTheClaimer(TransitionError):
    """W4: a teleprospector acting on a lead another teleprospector claimed
    (the doors answer 403: it is about who asks, not the lead's state)."""


@dataclass(frozen=True)
class LeadState:
    """What the process rules look at on a lead."""

    stage: int = INQUIRY
    status: str = OPEN
    status_reason: str = REASON_NEW
    sales_ready: bool = False
    ready_for_tp: bool = False
    tp_accepted: bool = False
    sales_accepted: bool = False
    owner_id: int | None = None
    teleprospector_id: int | None = None
    qualification: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Actor:
    """Who acts: a user id and role, or the system (a rule, a job)."""

    role: str
    user_id: int | None = None


@dataclass(frozen=True)
class Change:
    """One recorded change (P7): ``kind`` is stage, status, owner or field."""

    kind: str
    old: object
    new: object


SYSTEM_ACTOR = Actor(SYSTEM)


def is_terminal(state: LeadState) -> bool:
    """True once the lead is converted or disqualified."""
    return state.status != OPEN


def display_stage(state: LeadState) -> str:
    """The name of where the lead is, terminal outcomes included."""
    if state.status == QUALIFIED:
        return "Converted"
    if state.status == DISQUALIFIED:
        return "Disqualified"
    return STAGES[state.stage]


def _require_open(state: LeadState) -> None:
    if is_terminal(state):
        raise TransitionError(f"This lead is already {display_stage(state).lower()}.")


def _require_role(actor: Actor, roles: set[str], what: str) -> None:
    if actor.role not in roles | {SYSTEM}:
        raise TransitionError(f"Your role may not {what}.")


def _require_claimer(state: LeadState, actor: Actor, what: str) -> None:
    """W4: a lead a teleprospector accepted is theirs to work; the other
    teleprospectors may not (managers, admins and marketing roles still may)."""
    if actor.role == TELEPROSPECTOR and state.teleprospector_id not in (None, actor.user_id):
        raise NotTheClaimer(
            f"Another teleprospector has claimed this lead: only they or a sales manager can {what}."
        )


def _require_stage(state: LeadState, stages: set[int], what: str) -> None:
    if state.stage not in stages:
        names = " or ".join(STAGES[s] for s in sorted(stages))
        raise TransitionError(f"Only a lead in {names} can {what}.")


def score_received(state: LeadState, actor: Actor = SYSTEM_ACTOR) -> LeadState:
    """P1: a lead that gets a score from any model leaves Inquiry by itself."""
    if is_terminal(state) or state.stage != INQUIRY:
        return state
    return replace(state, stage=AUTOMATED_QUALIFICATION)


def move(state: LeadState, actor: Actor, stage: int) -> LeadState:
    """P1: an allowed user moves an open lead to any stage by hand.

    The flags follow the stage, so the lead looks as if it had got there the
    usual way: moving into stage 5 marks it sales-ready (P3); moving back out of
    it withdraws the hand-off to sales (owner, acceptance), so a rep's views keep
    showing only sales-ready leads (P8); moving back before a teleprospecting
    stage clears what that stage had completed."""
    _require_role(actor, STEERING, "move leads between stages")
    _require_open(state)
    if stage not in STAGES:
        raise TransitionError("Unknown stage.")
    if stage == state.stage:
        raise TransitionError(f"The lead is already in {STAGES[stage]}.")
    if stage == SALES_ACCEPTANCE:
        return replace(state, stage=stage, sales_ready=True, status_reason=_sales_ready_reason(state))
    return replace(
        state,
        stage=stage,
        sales_ready=False,
        sales_accepted=False,
        owner_id=None if state.stage == SALES_ACCEPTANCE else state.owner_id,
        ready_for_tp=state.ready_for_tp and stage >= TP_ACCEPTANCE,
        tp_accepted=state.tp_accepted and stage >= TP_QUALIFICATION,
        # Before stage 4 nobody works the lead any more: its claim is released (W4).
        teleprospector_id=state.teleprospector_id if stage >= TP_QUALIFICATION else None,
        status_reason=_reason_after_moving_back(state, stage),
    )


# The stage whose completion sets each process status reason.
_REASON_STAGE = {
    REASON_TP_ACCEPTED: TP_QUALIFICATION,
    REASON_SALES_READY: SALES_ACCEPTANCE,
    REASON_SALES_ACCEPTED: SALES_ACCEPTANCE,
}


def _reason_after_moving_back(state: LeadState, stage: int) -> str:
    """A reason that a later stage set does not survive a move back before it."""
    if _REASON_STAGE.get(state.status_reason, INQUIRY) <= stage:
        return state.status_reason
    if stage == TP_QUALIFICATION and state.tp_accepted:
        return REASON_TP_ACCEPTED
    return REASON_NEW


def _sales_ready_reason(state: LeadState) -> str:
    """Sales ready replaces the process reasons before it, not Marketing qualified."""
    if state.status_reason in (REASON_NEW, REASON_TP_ACCEPTED):
        return REASON_SALES_READY
    return state.status_reason


def ready_for_teleprospecting(state: LeadState, actor: Actor) -> LeadState:
    """P2: from stage 2, hand the lead to the teleprospectors (stage 3)."""
    _require_role(actor, STEERING, "send leads to teleprospecting")
    _require_open(state)
    _require_stage(state, {AUTOMATED_QUALIFICATION}, "be sent to teleprospecting")
    return replace(state, stage=TP_ACCEPTANCE, ready_for_tp=True)


def mark_sales_ready(state: LeadState, actor: Actor) -> LeadState:
    """P3/P5: sales-ready skips whatever stages remain and lands in stage 5.

    Marketing roles may do it from any stage before 5; a teleprospector from
    the stages they work (3–4)."""
    _require_role(actor, STEERING | {TELEPROSPECTOR}, "mark leads sales-ready")
    _require_open(state)
    if state.stage == SALES_ACCEPTANCE and state.sales_ready:
        raise TransitionError("The lead is already sales-ready.")
    if actor.role == TELEPROSPECTOR:
        _require_stage(state, {TP_ACCEPTANCE, TP_QUALIFICATION}, "be marked sales-ready by a teleprospector")
        _require_claimer(state, actor, "mark it sales-ready")
    return replace(state, stage=SALES_ACCEPTANCE, sales_ready=True, status_reason=_sales_ready_reason(state))


def marketing_qualify(state: LeadState, actor: Actor = SYSTEM_ACTOR) -> LeadState:
    """Q2/Q4/Q5: qualification criteria set the status reason Marketing qualified,
    only over New on an open lead; a reason further along is left as it is."""
    _require_role(actor, {SYSTEM}, "mark leads marketing-qualified")
    if state.status != OPEN or state.status_reason != REASON_NEW:
        return state
    return replace(state, status_reason=REASON_MARKETING_QUALIFIED)


def teleprospecting_accept(state: LeadState, actor: Actor) -> LeadState:
    """P4/W4: a teleprospector picks the lead up and claims it; it moves to stage 4."""
    _require_role(actor, {TELEPROSPECTOR, MANAGER, ADMIN}, "accept leads for teleprospecting")
    _require_open(state)
    _require_stage(state, {TP_ACCEPTANCE}, "be accepted for teleprospecting")
    return replace(
        state,
        stage=TP_QUALIFICATION,
        tp_accepted=True,
        teleprospector_id=actor.user_id,
        status_reason=REASON_TP_ACCEPTED if state.status_reason == REASON_NEW else state.status_reason,
    )


def record_qualification(state: LeadState, actor: Actor, values: dict) -> LeadState:
    """P5: store the call's findings (the configured qualification fields);
    a blank value clears that finding. Only the teleprospector who claimed the
    lead records them (W4); one who records them on an unclaimed lead (moved to
    stage 4 by hand) claims it."""
    _require_role(actor, {TELEPROSPECTOR, MANAGER, ADMIN, INTEGRATION}, "record qualification findings")
    _require_open(state)
    _require_stage(state, {TP_QUALIFICATION}, "take qualification findings")
    _require_claimer(state, actor, "record its findings")
    merged = {**state.qualification, **values}
    claimer = actor.user_id if actor.role == TELEPROSPECTOR else state.teleprospector_id
    # A blank answer is no finding: it clears the key rather than storing "".
    return replace(
        state,
        teleprospector_id=claimer,
        qualification={key: value for key, value in merged.items() if value not in ("", None)},
    )


def assign(state: LeadState, actor: Actor, owner_id: int) -> LeadState:
    """P6: a manager (or the assignment rules) gives a stage-5 lead to a rep."""
    _require_role(actor, {MANAGER, ADMIN}, "assign leads")
    _require_open(state)
    _require_stage(state, {SALES_ACCEPTANCE}, "be assigned to a salesperson")
    if state.owner_id == owner_id:
        raise TransitionError("The lead is already assigned to that rep.")
    reason = REASON_SALES_READY if state.status_reason == REASON_SALES_ACCEPTED else state.status_reason
    return replace(state, owner_id=owner_id, sales_accepted=False, status_reason=reason)


def sales_accept(state: LeadState, actor: Actor) -> LeadState:
    """P6: the salesperson who holds the lead takes it on."""
    _require_role(actor, {REP, MANAGER, ADMIN}, "accept leads for sales")
    _require_open(state)
    _require_stage(state, {SALES_ACCEPTANCE}, "be accepted by sales")
    if state.owner_id is None:
        raise TransitionError("Assign the lead to a salesperson first.")
    if actor.role == REP and actor.user_id != state.owner_id:
        raise TransitionError("Only the lead's owner can accept it.")
    if state.sales_accepted:
        raise TransitionError("The lead is already sales-accepted.")
    return replace(state, sales_accepted=True, status_reason=REASON_SALES_ACCEPTED)


def decline(state: LeadState, actor: Actor) -> LeadState:
    """R6: the rep hands the lead back; it returns to the unassigned queue."""
    _require_role(actor, {REP, MANAGER, ADMIN}, "decline leads")
    _require_open(state)
    _require_stage(state, {SALES_ACCEPTANCE}, "be declined")
    if state.owner_id is None:
        raise TransitionError("The lead is not assigned.")
    if actor.role == REP and actor.user_id != state.owner_id:
        raise TransitionError("Only the lead's owner can decline it.")
    if state.sales_accepted:
        raise TransitionError("An accepted lead cannot be declined; disqualify it instead.")
    return replace(state, owner_id=None)


def convert(state: LeadState, actor: Actor) -> LeadState:
    """P6: a sales-accepted lead becomes an opportunity (status Qualified)."""
    _require_role(actor, {REP, MANAGER, ADMIN}, "convert leads")
    _require_open(state)
    _require_stage(state, {SALES_ACCEPTANCE}, "be converted")
    if actor.role == REP and actor.user_id != state.owner_id:
        raise TransitionError("Only the lead's owner can convert it.")
    if not state.sales_accepted:
        raise TransitionError("Accept the lead for sales before converting it.")
    return replace(state, status=QUALIFIED, status_reason=REASON_CONVERTED)


def disqualify(state: LeadState, actor: Actor, reason: str) -> LeadState:
    """P6: close the lead as disqualified, with a reason.

    A rep closes only a lead they hold and have accepted (an unaccepted one is
    declined instead); a teleprospector only in the stages they work."""
    _require_role(actor, STEERING | {REP, TELEPROSPECTOR}, "disqualify leads")
    _require_open(state)
    if actor.role == REP:
        if actor.user_id != state.owner_id:
            raise TransitionError("Only the lead's owner can disqualify it.")
        if not state.sales_accepted:
            raise TransitionError("Accept the lead before disqualifying it, or decline it.")
    elif actor.role == TELEPROSPECTOR:
        _require_stage(state, {TP_ACCEPTANCE, TP_QUALIFICATION}, "be disqualified by a teleprospector")
        _require_claimer(state, actor, "disqualify it")
    if reason not in DISQUALIFY_REASONS:
        raise TransitionError("Choose a disqualification reason.")
    return replace(state, status=DISQUALIFIED, status_reason=reason)


ACTIONS = {
    "move": move,
    "ready_for_tp": ready_for_teleprospecting,
    "sales_ready": mark_sales_ready,
    "tp_accept": teleprospecting_accept,
    "qualify": record_qualification,
    "assign": assign,
    "sales_accept": sales_accept,
    "decline": decline,
    "convert": convert,
    "disqualify": disqualify,
}


# What the workers do on their own (P1, Q2, S5); never offered to people or the API.
SYSTEM_ACTIONS = {
    "score_received": score_received,
    "marketing_qualify": marketing_qualify,
}


def apply(state: LeadState, action: str, actor: Actor, **args) -> tuple[LeadState, list[Change]]:
    """Run one named action; return the new state and what changed (P7)."""
    return apply_steps(state, [(action, args)], actor)


def apply_steps(
    state: LeadState, steps: list[tuple[str, dict]], actor: Actor
) -> tuple[LeadState, list[Change]]:
    """Run several actions in order as one (e.g. record findings, then sales-ready);
    all or nothing: the first refusal raises. Returns the final state and what changed."""
    new = state
    for action, args in steps:
        try:
            step = ACTIONS[action] if action in ACTIONS else SYSTEM_ACTIONS[action]
        except KeyError:
            raise TransitionError(f"Unknown action {action!r}.") from None
        new = step(new, actor, **args)
    return new, diff(state, new)


# Arguments that let ``refusal`` ask whether an action is open at all, whatever
# the person then chooses (a stage, an owner, a reason).
_PROBE_ARGS = {"assign": {"owner_id": object()}, "qualify": {"values": {}}, "disqualify": {"reason": "other"}}


def refusal(state: LeadState, action: str, actor: Actor) -> str | None:
    """Why ``actor`` may not use ``action`` on this lead now, or None if they may."""
    error = refused(state, action, actor)
    return None if error is None else str(error)


def refused(state: LeadState, action: str, actor: Actor) -> TransitionError | None:
    """The error ``action`` by ``actor`` would raise on this lead now (its class
    says whether it is the lead's state or who asks), or None if it is open."""
    if action == "move":
        # Open when some stage is; else the reason for the first other stage.
        if allowed_moves(state, actor):
            return None
        args = {"stage": INQUIRY if state.stage != INQUIRY else AUTOMATED_QUALIFICATION}
    else:
        args = _PROBE_ARGS.get(action, {})
    try:
        apply(state, action, actor, **args)
    except TransitionError as error:
        return error
    return None


def available_actions(state: LeadState, actor: Actor) -> set[str]:
    """The actions ``actor`` may use on this lead now (what the page offers)."""
    return {action for action in ACTIONS if refusal(state, action, actor) is None}


def allowed_moves(state: LeadState, actor: Actor) -> list[int]:
    """The stages ``actor`` may move this lead to by hand (P1)."""
    allowed = []
    for stage in STAGES:
        try:
            move(state, actor, stage)
        except TransitionError:
            continue
        allowed.append(stage)
    return allowed


def stage_marks(state: LeadState) -> dict[int, str]:
    """How the stage bar shows each stage: current, done, skipped, stopped or todo.

    Teleprospecting stages count as done only when a teleprospector accepted the
    lead; a sales-ready lead that jumped them shows them skipped (P3)."""
    marks = {}
    for stage in STAGES:
        if stage > state.stage:
            marks[stage] = "todo"
        elif stage == state.stage:
            marks[stage] = {OPEN: "current", QUALIFIED: "done"}.get(state.status, "stopped")
        elif stage in (TP_ACCEPTANCE, TP_QUALIFICATION) and not state.tp_accepted:
            marks[stage] = "skipped"
        else:
            marks[stage] = "done"
    return marks


# Every field of the state, in the order changes are listed (stage first).
_DIFF_FIELDS = (
    "stage",
    "status",
    "status_reason",
    "sales_ready",
    "ready_for_tp",
    "tp_accepted",
    "sales_accepted",
    "owner_id",
    "teleprospector_id",
)


def diff(old: LeadState, new: LeadState) -> list[Change]:
    """The changes between two states, stage first; for the qualification
    findings, ``new`` lists the keys whose values changed."""
    changes = []
    for kind in _DIFF_FIELDS:
        before, after = getattr(old, kind), getattr(new, kind)
        if before != after:
            changes.append(Change(kind, before, after))
    if old.qualification != new.qualification:
        keys = sorted(
            key
            for key in old.qualification.keys() | new.qualification.keys()
            if old.qualification.get(key) != new.qualification.get(key)
        )
        changes.append(Change("qualification", None, ",".join(keys)))
    return changes
