"""The lead page: stage bar, stage panels, actions and the history timeline (P1–P8).

Three regions swap: ``#lead-body`` (summary, stages and history; every action
returns it), ``#lead-stages`` (the bar and the selected stage's panel; a click
on a stage returns it) and, when an action takes the lead out of the user's
view, ``_lead_gone.html`` in place of the body.

While the page is open, ``#lead-live`` (the scores panel, S6) polls
``/leads/<id>/live`` every few seconds with the fingerprints of what it shows:
nothing changed → 204 (no swap); scores or interactions changed → the panel
and the timeline's entries (``#timeline-entries``); the lead itself changed
(a rule moved it, P1, P3) → also the summary, the hand-off and the stages, out
of band.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for

from auth.models import REP, TELEPROSPECTOR
from auth.policy import current_user, signed_in
from leads.activities.services import SHOWN as TIMELINE_SHOWN
from leads.activities.services import lead_activities, newest_lead_activities
from leads.activities.views import timeline_context
from leads.core import fields as catalogue
from leads.core import lifecycle, timeline
from leads.notify.services import mark_opened
from leads.records import activity
from leads.records import services as records
from leads.records.forms import LeadEditForm
from leads.records.models import Lead
from leads.records.queries import lead_for, lead_history_rows, qualification_labels, trace_names, user_names
from leads.stages.handoff import LATEST_ACTIVITIES, handed_by, handoff, shows_handoff
from leads.stages.submit import panel_forms, submit
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("lead_page", __name__)

PAGE = "stages/lead.html"
BODY = "stages/_lead_body.html"
LIVE = "stages/_lead_live.html"
HANDED = "stages/handed_off.html"
EDIT = "stages/_lead_edit.html"


@bp.route("/leads/<int:lead_id>")
@signed_in
def show(lead_id: int):
    """The lead page, its current stage's panel open (``?n=``: opened from that
    notification of the user's, which is then marked read)."""
    user = current_user()
    lead = lead_for(user, lead_id)
    if lead is None:
        handed = handed_by(user, lead_id)
        if handed is None:
            abort(404)
        return render(HANDED, lead=handed, stages=lifecycle.STAGES)
    if "n" in request.args:
        mark_opened(current_user().id, lead.id, request.args["n"])
    return render(PAGE, BODY, **_context(lead, lead.stage))


@bp.route("/leads/<int:lead_id>/stages/<int:stage>")
@signed_in
def stage_panel(lead_id: int, stage: int):
    """The stage bar with ``stage``'s panel open (the full page without htmx)."""
    if stage not in lifecycle.STAGES:
        abort(404)
    lead = _visible_lead(lead_id)
    return render(PAGE, "stages/_stages.html", **_context(lead, stage, history=not wants_fragment()))


@bp.route("/leads/<int:lead_id>/live")
@signed_in
def live(lead_id: int):
    """The scores panel, re-rendered when the lead's scores, interactions or
    stage changed since the fingerprints in ``?v=`` (204 when nothing did).
    A plain visit goes to the lead page."""
    lead = _visible_lead(lead_id)
    if not wants_fragment():
        return redirect(url_for("lead_page.show", lead_id=lead_id))
    seen_state, seen_scores = activity.split_version(request.args.get("v"))
    now = activity.lead_activity(lead)
    state_changed = now.state_version != seen_state
    if not state_changed and now.scores_version == seen_scores:
        response = current_app.response_class(status=204)
        response.vary.add("HX-Request")
        return response
    context = {"lead": lead, "live": now, "oob": True, "state_changed": state_changed}
    if state_changed:
        context.update(_context(lead, _selected_stage(lead), live=now))
    context.update(_timeline_now(lead, now, context.get("events")))
    return render_fragment(LIVE, **context)


def _timeline_now(lead, live, events=None) -> dict:
    """The timeline's entries as the polling page filters them (its address's
    ``?activity=``), for the poller to swap out of band."""
    if events is None:
        events = _timeline(lead_history_rows(lead.id), qualification_labels())
    shown = parse_qs(urlsplit(request.headers.get("HX-Current-URL", "")).query).get("activity", ["all"])[0]
    activities = newest_lead_activities(lead.id, TIMELINE_SHOWN + 1)
    return timeline_context(
        lead, current_user(), shown, events=events, interactions=live.interactions, activities=activities
    )


@bp.route("/leads/<int:lead_id>/actions/<action>", methods=["POST"])
@signed_in
def act(lead_id: int, action: str):
    """Run a stage action; answer the updated lead body (htmx) or redirect (PRG).
    409 with the reason when the action is refused, 422 with inline errors."""
    if action not in lifecycle.ACTIONS:
        abort(404)
    user = current_user()
    outcome = submit(_visible_lead(lead_id), action, user)
    lead = lead_for(user, lead_id)
    if lead is None:  # handed on (a teleprospector's sales-ready lead, a declined lead)
        return _changed(_gone(outcome.lead, outcome.message, outcome.status), outcome.ok)
    if outcome.ok and not wants_fragment():
        flash(outcome.message)
        return redirect(url_for("lead_page.show", lead_id=lead_id))
    selected = lead.stage if outcome.ok else _posted_panel(lead)
    context = _context(lead, selected, message=outcome.message, failed=not outcome.ok, bound=outcome.forms)
    return _changed(render(PAGE, BODY, status=outcome.status, **context), outcome.ok)


LEADS_CHANGED = "leads-changed"


def _changed(response, ok: bool):
    """After a done action, the page's other regions that count leads (the
    navigation's unassigned count) hear of it: an ``HX-Trigger`` event."""
    if ok and wants_fragment():
        response.headers["HX-Trigger"] = LEADS_CHANGED
    return response


@bp.route("/leads/<int:lead_id>/fields", methods=["GET", "POST"])
@signed_in
def edit_fields(lead_id: int):
    """W2: the lead's own fields edited on its page, within what the user's role
    may write (the API's allow-list: a rep only the person fields of their own
    leads; a role that may write none: 403). GET: the form in ``#lead-edit``
    (``?close=1``: the empty slot); POST: the lead body, the form open with
    its errors inline when invalid (422)."""
    lead = _visible_lead(lead_id)
    form = lead_fields_form(lead, current_user())
    if form is None:
        abort(403, "Your role may not change this lead's fields.")
    if request.method == "GET":
        if request.args.get("close") and wants_fragment():
            return render_fragment(EDIT, lead=lead, edit_form=None)
        return render(PAGE, EDIT, **_context(lead, lead.stage, edit_form=form))
    if not form.validate_on_submit():
        return render(PAGE, BODY, status=422, **_context(lead, lead.stage, edit_form=form))
    records.update_lead(lead.id, form.values(), current_user())
    if not wants_fragment():
        flash("Lead saved.")
        return redirect(url_for("lead_page.show", lead_id=lead_id))
    lead = lead_for(current_user(), lead_id)
    if lead is None:  # a rule took it out of the user's view meanwhile
        return _gone(Lead.get_by_id(lead_id), "Lead saved.", 200)
    return render(PAGE, BODY, **_context(lead, lead.stage, message="Lead saved."))


def lead_fields_form(lead, user) -> LeadEditForm | None:
    """The edit form of ``lead``'s fields ``user`` may write (posted values on a
    POST), or None when their role may write none."""
    allowed = catalogue.writable_by(catalogue.LEAD, user.role)
    if not allowed:
        return None
    data = None if request.method == "POST" else LeadEditForm.initial(lead)
    return LeadEditForm(data=data, allowed=allowed, lead_id=lead.id)


def _visible_lead(lead_id: int):
    """The lead if the signed-in user may see it; 404 otherwise (never 403: G1)."""
    lead = lead_for(current_user(), lead_id)
    if lead is None:
        abort(404)
    return lead


def _posted_panel(lead) -> int:
    """The stage panel the refused or invalid form was posted from."""
    panel = request.form.get("panel", type=int)
    return panel if panel in lifecycle.STAGES else lead.stage


def _selected_stage(lead) -> int:
    """The stage whose panel the polling page has open: the one in its address
    (``/leads/<id>/stages/<n>``), else the lead's current stage."""
    path = urlsplit(request.headers.get("HX-Current-URL", "")).path
    for stage in lifecycle.STAGES:
        if path == url_for("lead_page.stage_panel", lead_id=lead.id, stage=stage):
            return stage
    return lead.stage


def _context(
    lead,
    selected: int,
    *,
    history: bool = True,
    message=None,
    failed=False,
    bound=None,
    live=None,
    edit_form=None,
) -> dict:
    """What the page and its partials need; the history, scores, interactions
    and activities only when shown."""
    forms, available = panel_forms(lead, current_user(), selected, bound)
    context = {
        "lead": lead,
        "edit_form": edit_form,
        "can_edit_fields": bool(catalogue.writable_by(catalogue.LEAD, current_user().role)),
        "selected": selected,
        "stages": lifecycle.STAGES,
        "marks": lifecycle.stage_marks(lead.state),
        "forms": forms,
        "available": available,
        "message": message,
        "failed": failed,
        "labels": qualification_labels() if selected == lifecycle.TP_QUALIFICATION or history else {},
        "statuses": lifecycle.STATUSES,
    }
    if history:
        rows = lead_history_rows(lead.id)
        context["events"] = _timeline(rows, context["labels"])
        context["live"] = live or activity.lead_activity(lead)
        if live is None:  # the page or the body (W1); the poller, which passes ``live``, never swaps it
            loaded = {
                "events": context["events"],
                "interactions": context["live"].interactions,
                "activities": newest_lead_activities(lead.id, TIMELINE_SHOWN + 1),
            }
            shown = request.args.get("activity", "all")
            context.update(timeline_context(lead, current_user(), shown, **loaded))
        if shows_handoff(lead):  # W3: what sales gets with the lead (the poller: when a rule handed it on)
            latest = (
                loaded["activities"] if live is None else lead_activities(lead.id).limit(LATEST_ACTIVITIES)
            )
            context["handoff"] = handoff(
                lead,
                context["labels"],
                rows,
                interactions=context["live"].interactions,
                activities=list(latest),
            )
    return context


def _timeline(rows, labels: dict[str, str]) -> list[timeline.Event]:
    """The lead's history rows (newest first) as events (P7)."""
    traced = trace_names(row.note for row in rows if row.kind == "routing")
    return timeline.events(rows, user_names(timeline.person_ids(rows)), labels, traced)


def _gone(lead, message: str | None, status: int):
    """The answer when the user can no longer see the lead after acting on it."""
    back = _home_url()
    if wants_fragment():
        return render_fragment("stages/_lead_gone.html", lead=lead, message=message, back=back, status=status)
    flash(f"{message} The lead has left your view." if message else "The lead has left your view.")
    return redirect(back)


def _home_url() -> str:
    """Where the user works from: their queue, else the lead list."""
    role = current_user().role
    if role == TELEPROSPECTOR:
        return url_for("routing.teleprospecting")
    if role == REP:
        return url_for("routing.my_queue")
    return url_for("lead_list.lead_list")
