"""Work queues (P4–P6, P8, R6, W4): the teleprospectors', each rep's own and the
managers' unassigned queue.

The teleprospectors' queue (W4) is paginated and searchable like the lead list,
in tabs: the unclaimed stage-3 leads, the user's own claimed stage-4 leads and,
for managers and admins, every lead in teleprospecting. "Next lead" claims the
oldest unclaimed lead and opens it (``leads.stages.services.claim_next_lead``).

A rep's queue (R6, ``routing.rep_queue``) shows each lead's accept-by countdown
and best live score, sorted by deadline, score or age (``?sort=``, swapped in place).

Each row's buttons post to ``/queues/<queue>/<lead_id>/<action>``, whose policy
is the queue's, and the answer swaps that row in place: its new state, or a
short "done" line once the lead has left the queue. The lead itself is loaded
through ``leads.records.queries.lead_for`` (404 when the user may not see it) and the
action runs through ``leads.stages.submit.submit`` like on the lead page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, request, url_for

from auth.models import ADMIN, MANAGER, REP, TELEPROSPECTOR, User
from auth.policy import allow, current_user
from leads.base.db import utcnow
from leads.core import lifecycle
from leads.core.lifecycle import TransitionError
from leads.records.listing import (
    QUEUE_SEARCHED,
    ListParams,
    page_of_leads,
    parse_list_args,
    search_conditions,
)
from leads.records.models import Lead
from leads.records.queries import (
    claimed_by,
    in_teleprospecting,
    lead_for,
    qualification_fields,
    qualification_labels,
    unassigned_sales_ready,
    unclaimed_leads,
    with_related,
)
from leads.stages.forms import ActionForm, action_form
from leads.stages.handoff import findings
from leads.stages.services import actor_for, claim_next_lead, perform
from leads.stages.submit import Outcome, submit
from routing import assign as routing_assign
from routing import manage
from routing.forms import DeclineForm
from routing.rep_queue import SORTS, RowFacts, parse_sort, rep_queue, row_facts
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("routing", __name__)

QUEUE_LIMIT = 100  # rows per section; the oldest first, with the total shown
MAX_PER_PAGE = 200  # as the lead list


@dataclass(frozen=True)
class Queue:
    """One work queue: who works it (the routes' policies), what its rows offer."""

    endpoint: str
    title: str
    actions: tuple[str, ...]  # the row actions, in button order
    row_template: str
    sections: Callable[[User], list[tuple[str, object]]]  # (title, query) pairs
    holds: Callable[[Lead, User], bool]  # whether a lead still belongs in it
    findings: bool = False  # rows show the teleprospector's findings (W3)

    def shared(self) -> dict:
        """What every row's forms need, loaded once per request."""
        return {
            "fields": list(qualification_fields()) if "qualify" in self.actions else None,
            "reps": manage.rep_choices() if "assign" in self.actions else None,
            "labels": qualification_labels() if self.findings else None,
        }


def _is_open(lead: Lead, *stages: int) -> bool:
    return lead.status == lifecycle.OPEN and lead.stage in stages


TELEPROSPECTING = Queue(
    endpoint="teleprospecting",
    title="Teleprospecting queue",
    actions=("tp_accept", "qualify"),
    row_template="routing/_tp_row.html",
    sections=lambda user: [],  # tabs, paginated: see ``TP_TABS``
    holds=lambda lead, user: _is_open(lead, lifecycle.TP_ACCEPTANCE, lifecycle.TP_QUALIFICATION),
)


@dataclass(frozen=True)
class Tab:
    """One tab of the teleprospectors' queue: its label, its leads, who sees it."""

    key: str
    label: str
    leads: Callable[[User], object]  # a query of leads, oldest first
    roles: frozenset[str]


TP_TABS = (
    Tab(
        "unclaimed",
        "Unclaimed (stage 3)",
        lambda user: unclaimed_leads(),
        frozenset({TELEPROSPECTOR, MANAGER, ADMIN}),
    ),
    Tab("mine", "Mine (stage 4)", claimed_by, frozenset({TELEPROSPECTOR, MANAGER, ADMIN})),
    Tab("all", "All in teleprospecting", lambda user: in_teleprospecting(), frozenset({MANAGER, ADMIN})),
)


@dataclass(frozen=True)
class TabArgs:
    """What the teleprospectors' queue shows: a tab, and the lead list's search and paging."""

    tab: str
    params: ListParams

    def url_args(self, tab: str | None = None, **changes) -> dict:
        """Query-string arguments for this view (defaults left out), with another
        ``tab`` or other ``changes`` (a page, a search)."""
        args = {"tab": tab or self.tab, **self.params.replace(**changes).to_query_args()}
        return {key: value for key, value in args.items() if key in ("tab", "q", "page", "per_page")}


MINE = Queue(
    endpoint="my_queue",
    title="My queue",
    actions=("sales_accept", "decline", "convert", "disqualify"),
    row_template="routing/_my_row.html",
    sections=lambda user: [("Your sales-ready leads", rep_queue(user))],  # paged by ``_my_page``
    holds=lambda lead, user: _is_open(lead, lifecycle.SALES_ACCEPTANCE) and lead.owner_id == user.id,
    findings=True,
)
UNASSIGNED = Queue(
    endpoint="unassigned",
    title="Unassigned sales-ready leads",
    actions=("assign",),
    row_template="routing/_unassigned_row.html",
    sections=lambda user: [("Waiting for a sales rep", unassigned_sales_ready())],
    holds=lambda lead, user: _is_open(lead, lifecycle.SALES_ACCEPTANCE) and lead.owner_id is None,
)


@dataclass
class Row:
    """One lead in a queue, with the forms its buttons need."""

    lead: Lead
    forms: dict[str, ActionForm]
    available: set[str]
    message: str | None = None
    failed: bool = False
    findings: list[tuple[str, str]] = field(default_factory=list)  # W3, in the rep's queue
    done: bool = False  # the lead has left this queue
    visible: bool = True  # the user may still open the lead
    facts: RowFacts = field(default_factory=RowFacts)  # a rep's row: deadline and score
    confirm: manage.RepChoice | None = None  # assigning by hand to this rep asks first

    @property
    def dom_id(self) -> str:
        return f"queue-row-{self.lead.id}"


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    total: int = 0


# -- pages ------------------------------------------------------------------


@bp.route("/queues/teleprospecting")
@allow(TELEPROSPECTOR, MANAGER, ADMIN)
def teleprospecting():
    """P4/P5/W4: a tab of the queue (``?tab=``), searched (``?q=``) and paginated
    (``?page=``) like the lead list; an htmx request gets the tab region only."""
    user = current_user()
    wanted = {name: request.args.get(name, "") for name in ("q", "page", "per_page")}
    params, errors = parse_list_args(wanted, max_per_page=MAX_PER_PAGE)
    return _tp_page(user, request.args.get("tab", ""), params, errors)


@bp.route("/queues/teleprospecting/next", methods=["POST"])
@allow(TELEPROSPECTOR)
def next_lead():
    """W4: claim the oldest unclaimed stage-3 lead and open it; back to the queue when none waits."""
    lead = claim_next_lead(current_user())
    if lead is None:
        flash("No unclaimed lead is waiting: the queue is empty for now.")
        return redirect(url_for("routing.teleprospecting", tab="unclaimed"))
    flash(f"{lead.name} is yours now: the oldest lead waiting.")
    return redirect(url_for("lead_page.show", lead_id=lead.id))


@bp.route("/queues/mine")
@allow(REP)
def my_queue():
    """P6/P8/R6: the rep's own sales-ready leads: accept or decline, then convert
    or disqualify; sorted by deadline (the default), score or age (``?sort=``);
    an htmx request gets the list region only."""
    return _my_page(current_user(), parse_sort(request.args.get("sort")))


@bp.route("/queues/unassigned")
@allow(MANAGER, ADMIN)
def unassigned():
    """P6/R4: open stage-5 leads without an owner, to give to a rep."""
    return _page(UNASSIGNED)


@bp.route("/queues/unassigned/count")
@allow(MANAGER, ADMIN)
def unassigned_count():
    """The navigation's unassigned count, asked for again after a lead action."""
    return render_fragment("routing/_nav_count.html", count=unassigned_sales_ready().count())


# -- row actions --------------------------------------------------------------


@bp.route("/queues/teleprospecting/<int:lead_id>/<action>", methods=["POST"])
@allow(TELEPROSPECTOR, MANAGER, ADMIN)
def teleprospecting_act(lead_id: int, action: str):
    """A teleprospecting row's Accept, Save findings or Sales ready."""
    return _act(TELEPROSPECTING, lead_id, action)


@bp.route("/queues/mine/<int:lead_id>/<action>", methods=["POST"])
@allow(REP)
def my_queue_act(lead_id: int, action: str):
    """A rep's row: Accept, Decline, Convert or Disqualify."""
    return _act(MINE, lead_id, action)


@bp.route("/queues/unassigned/<int:lead_id>/<action>", methods=["POST"])
@allow(MANAGER, ADMIN)
def unassigned_act(lead_id: int, action: str):
    """An unassigned row's Assign."""
    return _act(UNASSIGNED, lead_id, action)


def _act(queue: Queue, lead_id: int, action: str):
    """Run ``action`` on one row; answer the row (htmx) or redirect to the queue."""
    if action not in queue.actions:
        abort(404)
    user = current_user()
    lead = lead_for(user, lead_id)
    if lead is None:
        abort(404)
    shared = queue.shared()
    asks = _asks_first(lead, shared) if action == "assign" else None
    if asks is not None:
        return _ask_first(queue, lead, user, shared, asks)
    if action == "decline":
        outcome = _decline(lead, user)  # R6: with a reason, then routed to someone else
    else:
        outcome = submit(
            lead, action, user, prefix=_prefix(lead_id), fields=shared["fields"], reps=shared["reps"]
        )
    row = _answer_row(queue, user, outcome, shared)
    if wants_fragment():
        response = render_fragment(queue.row_template, status=outcome.status, row=row, queue=queue)
        if outcome.ok:
            response.headers["HX-Trigger"] = LEADS_CHANGED  # the navigation's counts follow
        return response
    if outcome.ok:
        flash(f"{row.lead.name}: {outcome.message}")
        return redirect(url_for(f"routing.{queue.endpoint}"))
    return _page(queue, status=outcome.status, override=row)


LEADS_CHANGED = "leads-changed"


def _asks_first(lead: Lead, shared: dict) -> manage.RepChoice | None:
    """The rep chosen in the assign picker when they are at capacity or away and
    the manager has not said "assign anyway" yet; else None."""
    prefix = _prefix(lead.id)
    if request.form.get(f"{prefix}confirmed") == "yes":
        return None
    chosen = request.form.get(f"{prefix}owner_id", "")
    choice = next((rep for rep in shared["reps"] or () if str(rep.id) == chosen.strip()), None)
    return choice if choice is not None and choice.warning else None


def _ask_first(queue: Queue, lead: Lead, user: User, shared: dict, choice: manage.RepChoice):
    """The row asking whether to assign to a rep at capacity or away anyway."""
    row = _row(queue, lead, user, shared)
    row.confirm = choice
    row.message = f"{choice.warning} Assign anyway?"
    if wants_fragment():
        return render_fragment(queue.row_template, row=row, queue=queue)
    return _page(queue, override=row)


def _decline(lead: Lead, user: User) -> Outcome:
    """R6: decline with a reason; the lead is routed again without this rep."""
    form = DeclineForm(prefix=_prefix(lead.id))
    refused = lifecycle.refusal(lead.state, "decline", actor_for(user))
    if refused:
        return Outcome(lead, 409, refused)
    if not form.validate():
        return Outcome(lead, 422, "Say why you decline it.", {"decline": form})
    try:
        fresh = perform(lead, "decline", user, via="web", note=form.reason.data.strip())
    except TransitionError as error:
        return Outcome(lead, 409, str(error), {"decline": form})
    return Outcome(
        fresh, 200, "Declined: the lead is back in the unassigned queue until it is routed to another rep."
    )


def _answer_row(queue: Queue, user: User, outcome: Outcome, shared: dict) -> Row:
    """The row after an action: its new state, or a done line if it left the queue."""
    fresh = lead_for(user, outcome.lead.id)
    lead = fresh or outcome.lead
    row = _row(queue, lead, user, shared, bound=outcome.forms)
    row.message, row.failed, row.visible = outcome.message, not outcome.ok, fresh is not None
    row.done = fresh is None or not queue.holds(lead, user)
    if queue is MINE and not row.done:
        row.facts = row_facts(user, [lead.id], utcnow()).get(lead.id, RowFacts())
    return row


# -- building rows ---------------------------------------------------------------


def _page(queue: Queue, status: int = 200, override: Row | None = None):
    """The queue page: each section's oldest rows (capped), with its total."""
    user = current_user()
    if queue is TELEPROSPECTING:
        return _tp_page(user, _tab_holding(user, override.lead), ListParams(), [], status, override)
    if queue is MINE:
        return _my_page(user, parse_sort(None), status, override)
    shared = queue.shared()
    sections = []
    for title, query in queue.sections(user):
        leads = list(with_related(query).limit(QUEUE_LIMIT))
        rows = [
            override if override and override.lead.id == lead.id else _row(queue, lead, user, shared)
            for lead in leads
        ]
        total = len(rows) if len(rows) < QUEUE_LIMIT else query.count()
        sections.append(Section(title, rows, total))
    reasons = routing_assign.last_reasons([row.lead.id for s in sections for row in s.rows])
    return render(
        "routing/queue.html",
        status=status,
        queue=queue,
        sections=sections,
        limit=QUEUE_LIMIT,
        reasons=reasons,
    )


def _my_page(user: User, sort: str, status: int = 200, override: Row | None = None):
    """R6: the rep's queue in ``sort`` order, each row with its countdown and
    score: a bounded number of queries whatever the number of rows."""
    shared = MINE.shared()
    query = rep_queue(user, sort)
    leads = list(with_related(query).limit(QUEUE_LIMIT))
    rows = [
        override if override and override.lead.id == lead.id else _row(MINE, lead, user, shared)
        for lead in leads
    ]
    facts = row_facts(user, [lead.id for lead in leads], utcnow())
    for row in rows:
        if row is not override:  # a refused row has its own, from ``_answer_row``
            row.facts = facts.get(row.lead.id, RowFacts())
    total = len(rows) if len(rows) < QUEUE_LIMIT else query.count()
    response = render(
        "routing/my_queue.html",
        "routing/_my_queue.html",
        status=status,
        queue=MINE,
        section=Section("Your sales-ready leads", rows, total),
        sort=sort,
        sorts=SORTS,
        limit=QUEUE_LIMIT,
    )
    if wants_fragment() and request.method == "GET":
        response.headers["HX-Push-Url"] = url_for("routing.my_queue", sort=sort)
    return response


def _row(queue: Queue, lead: Lead, user: User, shared: dict, bound: dict | None = None) -> Row:
    """A row with the forms of the queue's actions open to ``user`` on ``lead``."""
    available = _available(lead.state, actor_for(user), shared)
    bound = bound or {}
    forms = {
        action: bound.get(action) or _blank_form(action, lead, shared)
        for action in queue.actions
        if action in available
    }
    labels = shared.get("labels")
    return Row(lead, forms, available, findings=findings(lead, labels) if labels is not None else [])


def _available(state: lifecycle.LeadState, actor, shared: dict) -> set[str]:
    """The actions open to ``actor`` on a lead in ``state``, worked out once per
    request for the rows of one state (a queue's rows mostly share a few)."""
    known = shared.setdefault("available", {})
    key = (repr(state), actor)
    if key not in known:
        known[key] = lifecycle.available_actions(state, actor)
    return set(known[key])


def _blank_form(action: str, lead: Lead, shared: dict):
    if action == "decline":
        return DeclineForm(formdata=None, prefix=_prefix(lead.id))
    return action_form(
        action, lead, bound=False, prefix=_prefix(lead.id), fields=shared["fields"], reps=shared["reps"]
    )


def _prefix(lead_id: int) -> str:
    """Field-name prefix of a row's forms: several rows' forms share one page."""
    return f"lead-{lead_id}-"


def _tp_page(
    user: User, tab: str, params: ListParams, errors, status: int = 200, override: Row | None = None
):
    """The teleprospectors' queue: the tabs ``user`` sees with their counts, and
    one page of ``tab``'s leads matching the search, each row with its forms."""
    tabs = [each for each in TP_TABS if user.role in each.roles]
    counts = {each.key: each.leads(user).count() for each in tabs}
    chosen = next((each for each in tabs if each.key == tab), None) or _default_tab(user, tabs, counts)
    query = chosen.leads(user)
    for condition in search_conditions(params.q, QUEUE_SEARCHED):
        query = query.where(condition)
    listing = page_of_leads(query, params)
    shared = TELEPROSPECTING.shared()
    rows = [
        override if override and override.lead.id == lead.id else _row(TELEPROSPECTING, lead, user, shared)
        for lead in listing.rows
    ]
    args = TabArgs(chosen.key, params)
    # A refused row that is not on this page (another's claim) still says why, above the tabs.
    unlisted = override if override and all(row is not override for row in rows) else None
    response = render(
        "routing/tp_queue.html",
        "routing/_tp_queue.html",
        status=status,
        queue=TELEPROSPECTING,
        tabs=tabs,
        counts=counts,
        tab=chosen,
        args=args,
        params=params,
        errors=errors,
        listing=listing,
        rows=rows,
        unlisted=unlisted,
    )
    if wants_fragment() and request.method == "GET":
        # The address bar gets the tidy form of the view: no empty search, no ignored values.
        response.headers["HX-Push-Url"] = url_for("routing.teleprospecting", **args.url_args())
    return response


def _default_tab(user: User, tabs: list[Tab], counts: dict[str, int]) -> Tab:
    """Managers start on every lead; a teleprospector on their own claims, or the
    unclaimed leads when they hold none."""
    keys = {each.key: each for each in tabs}
    if "all" in keys:
        return keys["all"]
    return keys["mine"] if counts.get("mine") else keys["unclaimed"]


def _tab_holding(user: User, lead: Lead) -> str:
    """The tab a (refused) row's lead is listed in, so the page shows it with its message."""
    if lead.stage == lifecycle.TP_ACCEPTANCE:
        return "unclaimed"
    return "mine" if lead.teleprospector_id == user.id or user.role == TELEPROSPECTOR else "all"
