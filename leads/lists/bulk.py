"""Bulk actions on a selection of leads (W5).

A selection is explicit lead ids or "all matching" the list's search and
filters, re-evaluated here with the user's record access (G1): a rep's "all
matching" is only ever their own leads, and an explicit id they may not see
is refused, never acted on. Each lead then goes through the action's own
domain service (``leads.stages.services.perform``…), so its own permission
check applies and the follow-ups (re-scoring, routing's bookkeeping,
notifications, webhooks) fire through ``leads.base.signals`` exactly as for
one lead from its page (O1).

The work runs in batches of ``BATCH_SIZE`` leads in id order, one
transaction per batch, each lead in its own savepoint: a refused lead is
rolled back alone and listed with its reason; an unexpected error rolls the
whole batch back (progress included), so a retried job resumes after the last
committed batch and no batch is ever half written. Up to ``JOB_THRESHOLD``
leads run in the request; more run in an RQ job with a progress bar. Progress
and the summary live in a ``BackgroundTask``.

Actions are a registry: ``leads`` registers assign, move and disqualify;
routing registers "run routing again" at app set-up (``register``), since
``leads`` never imports ``routing``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from auth.models import ADMIN, MANAGER, MARKETER, REP, TELEPROSPECTOR, User
from leads.base.db import db, on_commit, transaction, utcnow
from leads.base.models import BackgroundTask
from leads.base.queue import enqueue
from leads.core.lifecycle import TransitionError
from leads.records.listing import ListParams, list_score_model, matching_leads, parse_list_args
from leads.records.models import Lead
from leads.records.queries import visible_leads
from leads.stages.services import perform

KIND = "bulk"
BATCH_SIZE = 100
JOB_THRESHOLD = 200  # more leads than this: an RQ job with a progress bar
MAX_LISTED = 50  # refused leads named one by one in the summary (all are counted)
NOT_YOURS = "Not found, or not a lead you may act on."


class Refused(Exception):
    """One lead the action does not apply to, with the reason a person reads."""


@dataclass(frozen=True)
class BulkAction:
    """An action on many leads: who may use it, and what it does to one lead.

    ``run(lead, user, args)`` acts on one lead through its domain service;
    it returns a note for the summary (e.g. "still unassigned: …") or None,
    and raises ``TransitionError`` or ``Refused`` when the lead is refused."""

    name: str
    label: str
    roles: frozenset
    run: Callable[[Lead, User, dict], str | None]


ACTIONS: dict[str, BulkAction] = {}


def register(action: BulkAction) -> None:
    """Offer ``action`` on the lead list (again under the same name: replaced)."""
    ACTIONS[action.name] = action


def actions_for(user: User) -> dict[str, BulkAction]:
    """The bulk actions ``user``'s role may use, by name, in the order offered."""
    return {name: action for name, action in ACTIONS.items() if user.role in action.roles}


def _assign(lead: Lead, user: User, args: dict) -> None:
    perform(lead, "assign", user, via="bulk assign", owner_id=args["owner_id"])


def _move(lead: Lead, user: User, args: dict) -> None:
    perform(lead, "move", user, via="bulk move", stage=args["stage"])


def _disqualify(lead: Lead, user: User, args: dict) -> None:
    perform(lead, "disqualify", user, via="bulk disqualify", reason=args["reason"])


# The roles each action is offered to follow the lifecycle's (leads.core.lifecycle):
# assigning is the managers'; moving by hand is the steering roles'; a rep or a
# teleprospector may disqualify, and the per-lead check keeps them to their own.
register(BulkAction("assign", "Assign to a rep", frozenset({MANAGER, ADMIN}), _assign))
register(BulkAction("move", "Move to a stage", frozenset({MANAGER, ADMIN, MARKETER}), _move))
register(
    BulkAction(
        "disqualify",
        "Disqualify",
        frozenset({MANAGER, ADMIN, MARKETER, TELEPROSPECTOR, REP}),
        _disqualify,
    )
)


# --- Selections -----------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Explicit lead ids, or (``params`` set) every lead matching the list's
    search and filters."""

    ids: tuple[int, ...] = ()
    params: ListParams | None = None

    @property
    def empty(self) -> bool:
        return self.params is None and not self.ids

    def to_detail(self) -> dict:
        if self.params is not None:
            args = self.params.replace(page=1, columns=()).to_query_args()
            return {"filters": {name: str(value) for name, value in args.items()}}
        return {"ids": list(self.ids)}

    @classmethod
    def from_detail(cls, detail: dict) -> Selection:
        if "filters" in detail:
            params, _errors = parse_list_args(detail["filters"])
            return cls(params=params)
        return cls(ids=tuple(detail.get("ids", ())))


def selected_leads(user: User, selection: Selection):
    """The leads of ``selection`` that ``user`` may see (a query of ``Lead``, unordered)."""
    if selection.params is not None:
        model = list_score_model(selection.params)
        return matching_leads(user, selection.params, model.id if model else None)
    return visible_leads(user).where(Lead.id.in_(sorted(set(selection.ids))))


def unseen_ids(user: User, selection: Selection) -> list[int]:
    """The explicit ids of ``selection`` that ``user`` may not see (or that do not exist)."""
    if selection.params is not None or not selection.ids:
        return []
    seen = {lead_id for (lead_id,) in selected_leads(user, selection).select(Lead.id).tuples()}
    return sorted(set(selection.ids) - seen)


# --- Running ----------------------------------------------------------------------


def start(user: User, action_name: str, args: dict, selection: Selection) -> BackgroundTask:
    """Start ``action_name`` on ``selection`` as ``user``: up to ``JOB_THRESHOLD``
    leads are done before this returns (the task is then finished), more are
    left to the job ``leads.lists.jobs.run_bulk`` (the task is queued).
    ``PermissionError`` when the role may not use the action at all."""
    action = actions_for(user).get(action_name)
    if action is None:
        raise PermissionError(f"Your role may not {action_name.replace('_', ' ')} leads in bulk.")
    unseen = unseen_ids(user, selection)
    matched = selected_leads(user, selection).count()
    detail = {
        "action": action.name,
        "args": args,
        **selection.to_detail(),
        "after_id": 0,
        "succeeded": 0,
        "refused": 0,
        "reasons": {},
        "refused_leads": [],
        "notes": {},
    }
    for lead_id in unseen:
        _refuse(detail, lead_id, f"Lead {lead_id}", NOT_YOURS)
    with transaction():
        task = BackgroundTask.create(
            kind=KIND,
            title=f"{action.label}: {matched + len(unseen):,} leads",
            total=matched + len(unseen),
            done=len(unseen),
            detail=detail,
            created_by=user.id,
        )
        if task.total > JOB_THRESHOLD:
            on_commit(
                lambda: enqueue("leads.lists.jobs.run_bulk", task.id, job_id=f"bulk-{task.id}", timeout=3600)
            )
    if task.total <= JOB_THRESHOLD:
        run_task(task.id, last_attempt=True)
        task = BackgroundTask.get_by_id(task.id)
    return task


STOPPED = "The action stopped on an unexpected error; the leads of the batch it was on were left unchanged."


def run_task(task_id: int, last_attempt: bool = True) -> str:
    """Run the task's batches until none is left; safe to run twice (a finished
    task is left as it is, an interrupted one resumes after its last committed
    batch). Returns the task's status. An unexpected error marks the task
    failed on the ``last_attempt`` (else the job's retry resumes it) and is
    raised again for the job, not for a run inside a request."""
    task = BackgroundTask.get_or_none((BackgroundTask.id == task_id) & (BackgroundTask.kind == KIND))
    if task is None or task.status in ("done", "failed"):
        return task.status if task else "missing"
    user = User.get_or_none(User.id == task.created_by_id)
    action = ACTIONS.get(task.detail["action"])
    if user is None or action is None:
        _finish(task.id, "failed")
        return "failed"
    BackgroundTask.update(status="running").where(BackgroundTask.id == task.id).execute()
    selection = Selection.from_detail(task.detail)
    try:
        while run_batch(task, user, action, selection):
            pass
    except Exception:
        if not last_attempt:
            raise
        detail = {**task.detail, "problem": STOPPED}
        BackgroundTask.update(detail=detail).where(BackgroundTask.id == task.id).execute()
        _finish(task.id, "failed")
        if in_job():
            raise
        return "failed"
    _finish(task.id, "done")
    return "done"


def in_job() -> bool:
    """Whether this runs inside an RQ job (not a request)."""
    from rq import get_current_job

    return get_current_job() is not None


def run_batch(task: BackgroundTask, user: User, action: BulkAction, selection: Selection) -> bool:
    """Act on the next ``BATCH_SIZE`` leads of the selection after the last
    one done, in one transaction with the task's progress; False when none
    was left. ``task.detail`` follows only once the batch committed."""
    detail = copy.deepcopy(task.detail)
    batch = (
        selected_leads(user, selection)
        .where(Lead.id > detail["after_id"])
        .order_by(Lead.id)
        .limit(BATCH_SIZE)
    )
    leads = list(batch)
    if not leads:
        return False
    with transaction():
        for lead in leads:
            try:
                with db.atomic():  # a savepoint: a refused lead is rolled back alone
                    note = action.run(lead, user, detail["args"])
            except (TransitionError, Refused) as error:
                _refuse(detail, lead.id, lead.name, str(error))
            else:
                detail["succeeded"] += 1
                if note:
                    detail["notes"][note] = detail["notes"].get(note, 0) + 1
        detail["after_id"] = leads[-1].id
        done = detail["succeeded"] + detail["refused"]
        BackgroundTask.update(done=done, detail=detail).where(BackgroundTask.id == task.id).execute()
    task.detail, task.done = detail, done
    return len(leads) == BATCH_SIZE


def _refuse(detail: dict, lead_id: int, name: str, reason: str) -> None:
    detail["refused"] += 1
    detail["reasons"][reason] = detail["reasons"].get(reason, 0) + 1
    if len(detail["refused_leads"]) < MAX_LISTED:
        detail["refused_leads"].append({"id": lead_id, "name": name, "reason": reason})


def _finish(task_id: int, status: str) -> None:
    BackgroundTask.update(status=status, finished_at=utcnow()).where(BackgroundTask.id == task_id).execute()


def task_for(user: User, task_id: int) -> BackgroundTask | None:
    """The bulk task ``task_id`` if ``user`` started it, else None (callers answer 404)."""
    return BackgroundTask.get_or_none(
        (BackgroundTask.id == task_id)
        & (BackgroundTask.kind == KIND)
        & (BackgroundTask.created_by == user.id)
    )
