"""Activities on the lead page (W1): add a note, a call or a task inline, edit
or delete one, and filter the lead's one timeline. Every endpoint answers the
``#lead-timeline`` region (``activities/_timeline.html``) to htmx; a plain
visit or post gets the lead page (PRG), or the timeline on a page of its own
with the errors inline. Whoever may see the lead may read and add; a lead the
user may not see is a 404 (G1).

A contact's and an account's pages have the same timeline region and forms
(``/contacts/<id>/activities/...``, ``/accounts/<id>/activities/...``), with
the same rule: whoever may see the record may add; a record the user may not
see is a 404 on the page, its fragments and its posts."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, abort, redirect, request, url_for

from auth.policy import current_user, signed_in
from leads.activities import forms, services
from leads.core import activities as rules
from leads.records import directory
from leads.records.models import Contact, Lead
from leads.records.queries import lead_for
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("activities", __name__)

PAGE = "activities/page.html"
TIMELINE = "activities/_timeline.html"
TOOLS = "activities/_tools_region.html"
RECORDS = {  # the record's page, the record if the user may see it, its leads the user may see
    "contacts": ("records.contact", directory.contact_for, directory.leads_of_contact),
    "accounts": ("records.account", directory.account_for, directory.leads_of_account),
}


# A contact's or an account's timeline holds its activities only (no stage history).
RECORD_FILTERS = {
    key: label for key, label in rules.FILTERS.items() if key in ("all", "notes", "calls", "tasks")
}


_ANY_ID = 987654321987  # stands for an activity's id in an address built once per record


@dataclass(frozen=True)
class Urls:
    """The addresses of a record's timeline region: the lead's, or a contact's
    or an account's (``records``: ``contacts`` or ``accounts``). An activity's
    edit and delete addresses are built once per record and filled in with
    each activity's id (a timeline of 50 activities needs 100 of them)."""

    record_id: int
    records: str | None = None  # None: a lead
    _built: dict = field(default_factory=dict, compare=False, repr=False)

    def _for(self, action: str, **values) -> str:
        if self.records is None:
            return url_for(f"activities.{action}", lead_id=self.record_id, **values)
        return url_for(
            f"activities.record_{action}", records=self.records, record_id=self.record_id, **values
        )

    def _of_activity(self, action: str, activity_id: int) -> str:
        template = self._built.get(action)
        if template is None:
            template = self._built[action] = self._for(action, activity_id=_ANY_ID)
        return template.replace(f"/{_ANY_ID}/", f"/{int(activity_id)}/", 1)

    def add(self, kind: str) -> str:
        return self._for("add", kind=kind)

    def timeline(self, kind: str, **values) -> str:
        return self._for("timeline", kind=kind, **values)

    def edit(self, activity_id: int, **values) -> str:
        if values:
            return self._for("edit", activity_id=activity_id, **values)
        return self._of_activity("edit", activity_id)

    def delete(self, activity_id: int) -> str:
        return self._of_activity("delete", activity_id)

    def page(self, kind: str | None = None) -> str:
        values = {} if kind is None else {"activity": kind}
        if self.records is None:
            return url_for("lead_page.show", lead_id=self.record_id, **values)
        endpoint = RECORDS[self.records][0]
        key = "contact_id" if self.records == "contacts" else "account_id"
        return url_for(endpoint, **{key: self.record_id}, **values)


def urls_for(record) -> Urls:
    if isinstance(record, Lead):
        return Urls(record.id)
    return Urls(record.id, "contacts" if isinstance(record, Contact) else "accounts")


OLDER = "activities/_older.html"


def timeline_context(
    lead,
    user,
    shown: str,
    bound: dict | None = None,
    events=None,
    interactions=None,
    activities=None,
    offset: int = 0,
    lead_ids=None,
) -> dict:
    """What ``_timeline.html`` needs: the entries the filter ``shown`` keeps
    (``events``, ``interactions`` and ``activities``: what the lead page already loaded), the
    add forms (``bound``: a posted one, by kind, or an activity's edit form, by
    its id), and which activities ``user`` may change (their edit forms are
    fetched when asked for: ``edit``). ``offset``: the page after that many
    entries ("Show older"); ``more``: whether older entries are left. A
    contact's or an account's timeline also holds the activities of its leads
    ``lead_ids`` (the ones the user may see; looked up when not given)."""
    shown = rules.parse_filter(shown)
    bound = bound or {}
    assignees = services.assignees(lead)
    if isinstance(lead, Lead):
        entries, more = services.lead_timeline(lead, shown, events, interactions, activities, offset)
    else:
        if lead_ids is None:  # a contact's or an account's leads the user may see (its page passes them)
            lead_ids = [row.id for row in RECORDS[urls_for(lead).records][2](user, lead.id).select(Lead.id)]
        entries, more = services.record_timeline(lead, shown, offset, lead_ids)
    editable = {  # a lead's activity on a contact's or an account's timeline is changed on the lead's page
        entry.item.id
        for entry in entries
        if entry.kind in rules.KINDS
        and rules.may_change(user.role, user.id, entry.item.author_id)
        and (isinstance(lead, Lead) or entry.item.lead_id is None)
    }
    return {
        "lead": lead,
        "urls": urls_for(lead),
        "entries": entries,
        "more": more,
        "older": offset + services.SHOWN,
        "shown": shown,
        "filters": rules.FILTERS if isinstance(lead, Lead) else RECORD_FILTERS,
        "kinds": rules.KINDS,
        "outcomes": rules.OUTCOMES,
        "add_forms": {
            kind: bound.get(kind) or forms.activity_form(kind, assignees, kind) for kind in rules.KINDS
        },
        "editable": editable,
        "edit_forms": {key: form for key, form in bound.items() if isinstance(key, int)},
        "open_form": next((key for key in bound if isinstance(key, str)), None),
    }


def _visible_lead(lead_id: int):
    lead = lead_for(current_user(), lead_id)
    if lead is None:
        abort(404)
    return lead


def _answer(
    lead, *, status: int = 200, bound: dict | None = None, shown: str | None = None, page: bool = False
):
    """The timeline region to htmx; otherwise the lead page after a success
    (PRG), or the timeline on a page of its own (``page``, or with the errors
    inline)."""
    shown = shown if shown is not None else request.args.get("kind", "all")
    if not wants_fragment() and status < 400 and not page:
        return redirect(urls_for(lead).page(rules.parse_filter(shown)))
    context = timeline_context(lead, current_user(), shown, bound)
    return render(PAGE, TIMELINE, status=status, **context)


@bp.route("/leads/<int:lead_id>/activities")
@signed_in
def timeline(lead_id: int):
    """The lead's timeline as the filter ``?kind=`` keeps it (a plain visit:
    the lead page with that filter). ``?offset=``: the entries older than the
    newest that many ("Show older"): to htmx the next entries and the control
    for the ones after; a plain visit, the timeline on a page of its own."""
    return _timeline_page(_visible_lead(lead_id))


def _timeline_page(record):
    """The record's timeline; with ``?offset=``, the entries after the newest that many."""
    offset = max(request.args.get("offset", 0, type=int), 0)
    if not offset:
        return _answer(record)
    context = timeline_context(record, current_user(), request.args.get("kind", "all"), offset=offset)
    if wants_fragment():
        return render_fragment(OLDER, **context)
    return render(PAGE, TIMELINE, **context)


def _visible_record(records: str, record_id: int):
    """The contact or account if the user may see it (as its page does), else 404."""
    return RECORDS[records][1](current_user(), record_id) or abort(404)


RECORD = "/<any(contacts, accounts):records>/<int:record_id>/activities"


@bp.route(RECORD)
@signed_in
def record_timeline(records: str, record_id: int):
    """A contact's or an account's timeline as ``?kind=`` keeps it (``?offset=``: older entries)."""
    return _timeline_page(_visible_record(records, record_id))


@bp.route(f"{RECORD}/<kind>", methods=["POST"])
@signed_in
def record_add(records: str, record_id: int, kind: str):
    """Add a note, call or task on a contact or an account, as on a lead."""
    if kind not in rules.KINDS:
        abort(404)
    return _add(_visible_record(records, record_id), kind)


@bp.route(f"{RECORD}/<int:activity_id>/edit", methods=["GET", "POST"])
@signed_in
def record_edit(records: str, record_id: int, activity_id: int):
    """A contact's or an account's activity's edit form or saved edit, as on a lead."""
    return _edit(*_own_activity(record_id, activity_id, records))


@bp.route(f"{RECORD}/<int:activity_id>/delete", methods=["POST"])
@signed_in
def record_delete(records: str, record_id: int, activity_id: int):
    """Delete a contact's or an account's activity, as on a lead."""
    return _delete(*_own_activity(record_id, activity_id, records))


@bp.route("/leads/<int:lead_id>/activities/<kind>", methods=["POST"])
@signed_in
def add(lead_id: int, kind: str):
    """Add a note, call or task; the timeline with it, or the form with its errors (422)."""
    if kind not in rules.KINDS:
        abort(404)
    return _add(_visible_lead(lead_id), kind)


def _add(lead, kind: str):
    form = forms.activity_form(kind, services.assignable_users(lead), kind, posted=True)
    if form.validate():
        activity, errors = services.add_activity(lead, current_user(), kind, forms.values(form))
        if activity is not None:
            return _answer(lead)
        forms.show_errors(form, errors)
    return _answer(lead, status=422, bound={kind: form})


def _own_activity(lead_id: int, activity_id: int, records: str | None = None):
    lead = _visible_lead(lead_id) if records is None else _visible_record(records, lead_id)
    activity = services.activity_on(lead, activity_id)
    if activity is None:
        abort(404)
    if not rules.may_change(current_user().role, current_user().id, activity.author_id):
        abort(403, "Only its author, a manager or an admin may change this activity.")
    return lead, activity


@bp.route("/leads/<int:lead_id>/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@signed_in
def edit(lead_id: int, activity_id: int):
    """An activity's edit form (GET: in its tools to htmx, ``?close=1`` without
    it; a plain visit: the timeline with it open), or its saved edit (POST).
    Its author, a manager or an admin only: else 403."""
    return _edit(*_own_activity(lead_id, activity_id))


def _edit(lead, activity):
    assignees = services.assignable_users(lead)
    if request.method == "GET":
        closed = request.args.get("close") and wants_fragment()
        form = (
            None
            if closed
            else forms.activity_form(activity.kind, assignees, f"edit{activity.id}", obj=activity)
        )
        if wants_fragment():
            bound = {activity.id: form} if form else {}
            return render_fragment(TOOLS, urls=urls_for(lead), item=activity, edit_forms=bound)
        return _answer(lead, bound={activity.id: form}, page=True) if form else _answer(lead)
    form = forms.activity_form(activity.kind, assignees, f"edit{activity.id}", posted=True)
    if form.validate():
        changed, errors = services.edit_activity(activity, current_user(), forms.values(form))
        if changed is not None:
            return _answer(lead)
        forms.show_errors(form, errors)
    return _answer(lead, status=422, bound={activity.id: form})


@bp.route("/leads/<int:lead_id>/activities/<int:activity_id>/delete", methods=["POST"])
@signed_in
def delete(lead_id: int, activity_id: int):
    """Delete an activity (its author, a manager or an admin: else 403)."""
    return _delete(*_own_activity(lead_id, activity_id))


def _delete(lead, activity):
    form = forms.DeleteForm()
    if not form.validate():
        abort(400, "The form expired: reload the page.")
    services.delete_activity(activity, current_user())
    return _answer(lead)
