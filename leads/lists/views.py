"""The lead list's bulk actions and saved views (W5).

- ``POST /leads/bulk``: run a bulk action on the selection (explicit ids or
  all matching the posted list arguments); answers the result region: the
  summary, or a progress bar polling ``/leads/bulk/<task>`` while a job works.
- ``POST /leads/bulk/export``: the selection as CSV.
- ``POST /leads/views``, ``POST /leads/views/<id>/delete``: save (or replace)
  and delete a view; ``GET /leads/views/nav``: the navigation's list of views.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, request, url_for

from auth.policy import current_user, signed_in
from leads.imports.export import export_leads
from leads.imports.views import _csv_response
from leads.lists import bulk, saved
from leads.lists.forms import BulkForm, SaveViewForm
from leads.records.list_views import list_page
from leads.records.listing import ListParams, parse_list_args
from web.render import render, render_fragment, wants_fragment

bp = Blueprint("lead_lists", __name__)

MAX_IDS = 1000  # explicit ids in one post (a page holds at most 200)
LEADS_CHANGED = "leads-changed"  # the event that refreshes the list's table


def selection_from(form) -> tuple[bulk.Selection, list[tuple[str, str]]]:
    """The selection posted with a bulk action: every lead matching the posted
    list arguments when ``all_matching`` is ticked, else the ticked ``ids``."""
    if form.get("all_matching") == "1":
        params, errors = parse_list_args(form)
        return bulk.Selection(params=params), errors
    raw = form.getlist("ids")
    if any(not re.fullmatch(r"[0-9]{1,10}", value) for value in raw) or len(raw) > MAX_IDS:
        return bulk.Selection(), [("ids", f"Select at most {MAX_IDS:,} leads by their ids.")]
    return bulk.Selection(ids=tuple(int(value) for value in raw)), []


@bp.route("/leads/bulk", methods=["POST"])
@signed_in
def run_bulk():
    """W5: run a bulk action on the selection, within what the role may do,
    each lead checked on its own; the summary (or the job's progress) answers."""
    user = current_user()
    form = BulkForm(request.form, actions=bulk.actions_for(user))
    selection, errors = selection_from(request.form)
    posted = request.form.get("action", "")
    if posted in bulk.ACTIONS and posted not in bulk.actions_for(user):
        return _result(errors=[("action", "Your role may not use this action on leads in bulk.")], status=403)
    if not form.validate():
        errors += [(name, message) for name, messages in form.errors.items() for message in messages]
    if not errors and selection.empty:
        errors.append(("ids", "Select leads first, or all the leads that match."))
    if errors:
        return _result(errors=errors, status=422)
    task = bulk.start(user, form.action.data, form.arguments(), selection)
    if not wants_fragment():
        return redirect(url_for("lead_lists.bulk_task", task_id=task.id))
    return _result(task=task)


@bp.route("/leads/bulk/<int:task_id>")
@signed_in
def bulk_task(task_id: int):
    """The result region of a bulk action the user started: polled every
    second while its job runs, then its summary (only its starter sees it)."""
    task = bulk.task_for(current_user(), task_id)
    if task is None:
        abort(404)
    return _result(task=task)


def _result(task=None, errors=(), status: int = 200):
    labels = {
        "ids": "Selection",
        "action": "Action",
        "owner_id": "Rep",
        "to_stage": "Stage",
        "reason": "Reason",
    }
    response = render(
        "lists/bulk.html", "lists/_bulk_result.html", status=status, task=task, errors=errors, labels=labels
    )
    if task is not None and task.status in ("done", "failed"):
        response.headers["HX-Trigger"] = LEADS_CHANGED  # the table shows the leads as they are now
    return response


@bp.route("/leads/bulk/export", methods=["POST"])
@signed_in
def export_selection():
    """W5: the selected leads (or all matching) that the user may see, as CSV,
    in the list's sort (``leads.imports.export``)."""
    selection, errors = selection_from(request.form)
    if errors or selection.empty:
        return _result(
            errors=errors or [("ids", "Select leads first, or all the leads that match.")], status=422
        )
    user = current_user()
    if selection.params is not None:
        return _csv_response(export_leads(user, selection.params), "leads.csv")
    params, _errors = parse_list_args(request.form)
    return _csv_response(export_leads(user, ListParams(sort=params.sort), ids=selection.ids), "leads.csv")


# --- Saved views ----------------------------------------------------------------------


@bp.route("/leads/views", methods=["POST"])
@signed_in
def save_view():
    """W5: keep the list's search, filters, sort and columns under a name
    (a manager may share it with a team); the list then opens on it."""
    user = current_user()
    form = SaveViewForm(request.form, can_share=user.role in saved.SHARERS)
    params, _errors = parse_list_args(request.form)
    if not form.validate():
        return list_page(params, save_form=form, status=422)
    view = saved.save_view(user, form.view_name.data.strip(), params, form.share_with.data)
    flash(f"View “{view.name}” saved" + (f", shared with {view.team.name}." if view.team_id else "."))
    return redirect(url_for("lead_list.lead_list", **saved.list_args(view)))


@bp.route("/leads/views/<int:view_id>/delete", methods=["POST"])
@signed_in
def delete_view(view_id: int):
    """Delete one of the user's own views (another's, even shared, is a 404)."""
    if not saved.delete_view(current_user(), view_id):
        abort(404)
    flash("View deleted.")
    return redirect(url_for("lead_list.lead_list"))


@bp.route("/leads/views/nav")
@signed_in
def nav_views():
    """The navigation's saved views (own and shared with the user's team),
    fetched once a page has loaded so no page pays a query for it."""
    return render_fragment("lists/_nav_views.html", views=list(saved.views_for(current_user())))


@bp.app_template_global("view_args")
def _view_args(view) -> dict:
    """The lead list's query arguments that open a saved view (for links)."""
    return saved.list_args(view)


@bp.app_template_global("default_columns")
def _default_columns() -> tuple[str, ...]:
    """The columns the list shows when none is chosen (the column chooser ticks them)."""
    from leads.lists.columns import DEFAULT

    return DEFAULT
