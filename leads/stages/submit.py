"""Stage actions posted from a form (P1–P8): check, read the action's form,
perform it through ``leads.stages.services`` (whose ``action_done`` brings the
follow-ups, as for every other door), report.

Shared by the lead page and the work queues so both refuse, validate and
answer the same way: 409 with the lifecycle's message when the action is not
open to this user on this lead (403 when the lead is another teleprospector's
claim, W4), 422 with the bound form when its input is
invalid, else the fresh lead and a short "done" message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auth.models import User
from leads.core import lifecycle
from leads.core.lifecycle import TransitionError
from leads.records.models import Lead
from leads.stages.forms import ActionForm, action_form
from leads.stages.services import actor_for, perform_steps, refusal_status

VIA = "web"

# Which actions each stage's panel offers (for its current stage only); manual
# moves are offered on the other stages' panels.
PANEL_ACTIONS = {
    lifecycle.INQUIRY: ("sales_ready", "disqualify"),
    lifecycle.AUTOMATED_QUALIFICATION: ("ready_for_tp", "sales_ready", "disqualify"),
    lifecycle.TP_ACCEPTANCE: ("tp_accept", "sales_ready", "disqualify"),
    lifecycle.TP_QUALIFICATION: ("qualify", "sales_ready", "disqualify"),
    lifecycle.SALES_ACCEPTANCE: ("assign", "sales_accept", "decline", "convert", "disqualify"),
}


@dataclass
class Outcome:
    """What became of one posted action."""

    lead: Lead
    status: int = 200
    message: str | None = None
    forms: dict[str, ActionForm] = field(default_factory=dict)  # bound, to re-render with errors

    @property
    def ok(self) -> bool:
        return self.status == 200


def submit(lead: Lead, action: str, user: User, *, prefix: str = "", reps=None, fields=None) -> Outcome:
    """Run the posted ``action`` on ``lead`` as ``user`` (the caller checked the
    action exists and the lead is visible to the user)."""
    refused = lifecycle.refused(lead.state, action, actor_for(user))
    if refused:
        return Outcome(lead, refusal_status(refused), str(refused))
    form = action_form(action, lead, bound=True, prefix=prefix, reps=reps, fields=fields)
    if not form.validate():
        return Outcome(lead, 422, "Check the highlighted fields.", {action: form})
    question = form.question() if hasattr(form, "question") else None
    if question:  # a rep at capacity or away: the form comes back asking "anyway?"
        return Outcome(lead, 409, f"{question} Assign anyway?", {action: form})
    try:
        fresh = perform_steps(lead, form.steps(), user, via=VIA, note=form.note)
    except TransitionError as error:
        return Outcome(lead, refusal_status(error), str(error), {action: form})
    return Outcome(fresh, 200, done_message(form.steps(), fresh))


def done_message(steps: list[tuple[str, dict]], lead: Lead) -> str:
    """A short sentence saying what the steps did."""
    said = [_DONE[action](lead, args) for action, args in steps]
    return " ".join(said)


_DONE = {
    "move": lambda lead, args: f"Moved to {lifecycle.STAGES[args['stage']]}.",
    "ready_for_tp": lambda lead, args: "Sent to teleprospecting.",
    "sales_ready": lambda lead, args: "Marked sales-ready: handed to sales.",
    "tp_accept": lambda lead, args: "Accepted for teleprospecting.",
    "qualify": lambda lead, args: "Findings saved.",
    "assign": lambda lead, args: f"Assigned to {lead.owner.name}.",
    "sales_accept": lambda lead, args: "Sales accepted.",
    "decline": lambda lead, args: "Declined: the lead is back in the unassigned queue.",
    "convert": lambda lead, args: "Converted to an opportunity.",
    "disqualify": lambda lead, args: f"Disqualified: {lifecycle.DISQUALIFY_REASONS[args['reason']]}.",
}


def panel_forms(
    lead: Lead, user: User, selected: int, bound: dict[str, ActionForm] | None = None
) -> tuple[dict[str, ActionForm], set[str]]:
    """The forms the panel of stage ``selected`` shows to ``user`` (bound ones,
    with their errors, win) and the set of actions open to them on this lead."""
    actor = actor_for(user)
    available = lifecycle.available_actions(lead.state, actor)
    if lead.stage == selected:
        wanted = [action for action in PANEL_ACTIONS[selected] if action in available]
    elif selected in lifecycle.allowed_moves(lead.state, actor):
        wanted = ["move"]
    else:
        wanted = []
    bound = bound or {}
    forms = {action: bound.get(action) or action_form(action, lead, bound=False) for action in wanted}
    return forms, available
